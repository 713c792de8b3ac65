import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseXml, readXmlFile } from '../../src/xml';

const doc = `<?xml version="1.0" encoding="utf-8"?>
<!-- a comment -->
<driver name="xenvbd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <xenstore>
    <key name="ring-ref"/>
    <key name="event-channel"
         type="uint"/>
    <key name='protocol' note="a &lt; b &amp; c">x86_64-abi</key>
  </xenstore>
  <description><![CDATA[raw <text>]]></description>
</driver>
`;

t.test('elements carry file, line, column and element path', async (t) => {
  const { root, problems } = parseXml(doc, 'specs/xenvbd.xml');
  t.same(problems, []);
  t.ok(root);
  const r = root!;
  t.equal(r.name, 'driver');
  t.same(r.loc, { file: 'specs/xenvbd.xml', line: 3, column: 1, path: '/driver' });
  const xs = r.child('xenstore')!;
  t.same(xs.loc, { file: 'specs/xenvbd.xml', line: 4, column: 3, path: '/driver/xenstore' });
  const keys = xs.childrenNamed('key');
  t.equal(keys.length, 3);
  t.same(keys.map((k) => k.loc.path), ['/driver/xenstore/key[1]', '/driver/xenstore/key[2]', '/driver/xenstore/key[3]']);
  t.same(keys.map((k) => k.loc.line), [5, 6, 8]);
  t.equal(keys[2].loc.column, 5);
  t.same(keys[1].attrLoc('type'), { file: 'specs/xenvbd.xml', line: 7, column: 10, path: '/driver/xenstore/key[2]/@type' });
  t.equal(keys[2].attr('note'), 'a < b & c', 'entities decoded');
  t.equal(keys[2].trimmedText, 'x86_64-abi');
  t.equal(keys[2].attr('missing'), undefined);
  t.equal(keys[2].attrLoc('missing').path, '/driver/xenstore/key[3]/@missing', 'absent attribute points at its element');
  t.equal(r.child('description')!.text, 'raw <text>', 'CDATA is text');
  t.equal(r.attr('xmlns:xsi'), 'http://www.w3.org/2001/XMLSchema-instance');
  t.equal(keys[0].parent, xs);
});

t.test('an attribute value containing the attribute name does not confuse attribute locations', async (t) => {
  const { root } = parseXml('<a x="y=1 y" \n  y="2"/>', 'f.xml');
  t.equal(root!.attrLoc('y').line, 2);
  t.equal(root!.attrLoc('y').column, 3);
});

t.test('malformed XML is one located problem, not an exception', async (t) => {
  const cases: [string, number, RegExp][] = [
    ['<driver>\n  <key name="a">\n</driver>\n', 3, /Unexpected close tag/],
    ['<driver>\n  <key name="a" name="b"/>\n</driver>', 2, /Duplicate attribute|attribute/i],
    ['<driver>\n  <key name=a/>\n</driver>', 2, /Unquoted attribute value/],
    ['<driver>\n  <key/>\n', 3, /Unclosed root tag|Unexpected end/],
    ['', 1, /no document element|Unexpected end/],
    ['<a/><b/>', 1, /second document element/],
    ['<a>&bogus;</a>', 1, /entity/i],
    ['<a>\n<!-- run with --verbose -->\n</a>', 2, /Malformed comment/],
  ];
  for (const [text, line, msg] of cases) {
    const r = parseXml(text, 'bad.xml');
    t.equal(r.root, undefined, JSON.stringify(text));
    t.equal(r.problems.length, 1);
    t.equal(r.problems[0].rule, 'xml-wellformed');
    t.equal(r.problems[0].location.file, 'bad.xml');
    t.equal(r.problems[0].location.line, line, `line of ${JSON.stringify(text)}`);
    t.match(r.problems[0].message, msg);
    t.notMatch(r.problems[0].message, /\nLine:/, 'sax position suffix removed');
  }
  const unclosed = parseXml('<driver>\n  <xenstore>\n    <key>\n  </xenstore>', 'x.xml');
  t.equal(unclosed.problems[0].location.path, '/driver/xenstore/key', 'the open element path is given');
});

t.test('readXmlFile reads a file and reports an unreadable one as a problem', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xml-'));
  const f = join(dir, 'a.xml');
  writeFileSync(f, '\uFEFF<a>\n  <b/>\n</a>\n');
  const ok = readXmlFile(f, 'a.xml');
  t.same(ok.problems, []);
  t.equal(ok.root!.child('b')!.loc.line, 2, 'a byte order mark does not shift lines');
  t.equal(ok.root!.child('b')!.loc.column, 3);
  const missing = readXmlFile(join(dir, 'nope.xml'), 'nope.xml');
  t.equal(missing.root, undefined);
  t.same(missing.problems.map((p) => [p.location.file, p.rule]), [['nope.xml', 'xml-read']]);
  t.match(missing.problems[0].message, /ENOENT/);
});
