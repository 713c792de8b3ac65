import t from 'tap';
import { parseXml, validate, types, checkValue, problemsError, throwIfProblems, formatProblems, type ElementShape, intValue, hexValue, boolValue, splitList } from '../../src/xml';
import { WinpvError, formatProblem } from '../../src/model/errors';

const keyShape: ElementShape = {
  attrs: {
    name: { type: types.token(), required: true },
    order: { type: types.int(0, 4) },
    rev: { type: types.hex(8) },
    kind: { type: types.enum('int', 'string') },
    optional: { type: types.boolean() },
    id: { type: types.string({ pattern: /^[a-z]+$/, what: 'a lower-case word' }) },
    states: { type: types.list(types.int(0, 8), 1) },
  },
  text: { type: types.string({ maxLength: 5 }) },
};
const shape: ElementShape = {
  attrs: { name: { type: types.token(), required: true } },
  children: {
    xenstore: { min: 1, max: 1, shape: { children: { key: { shape: keyShape, min: 1 } } } },
    note: { max: 2, shape: { text: { type: types.token(), required: true } } },
  },
};

const run = (xml: string) => {
  const { root, problems } = parseXml(xml, 'd.xml');
  t.same(problems, [], 'well formed');
  return validate(root!, 'driver', shape);
};

t.test('a valid document has no problems', async (t) => {
  t.same(
    run(`<driver name="x" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="a.xsd">
  <xenstore><key name="a" order="4" rev="0900000A" kind="int" optional="true" id="abc" states="1 2  4">short</key></xenstore>
  <note>hi</note>
</driver>`),
    [],
  );
});

t.test('every problem is collected with its location and rule', async (t) => {
  const problems = run(`<driver bogus="1">
  <xenstore>
    <key order="5" rev="09X" kind="bool" optional="yes" id="ABC" states="1 9">too long text</key>
    <key name="" rev="123"/>
    <other/>
  </xenstore>
  <note/>
  <note>a</note>
  <note>b</note>
  stray
</driver>`);
  const got = problems.map((p) => `${p.location.line}:${p.location.column} ${p.location.path} ${p.rule}`);
  t.same(got.sort(), [
    '1:1 /driver missing-attribute',
    '1:1 /driver text-content',
    '1:9 /driver/@bogus unknown-attribute',
    '3:10 /driver/xenstore/key[1]/@order attribute-value',
    '3:20 /driver/xenstore/key[1]/@rev attribute-value',
    '3:30 /driver/xenstore/key[1]/@kind attribute-value',
    '3:42 /driver/xenstore/key[1]/@optional attribute-value',
    '3:57 /driver/xenstore/key[1]/@id attribute-value',
    '3:66 /driver/xenstore/key[1]/@states attribute-value',
    '3:5 /driver/xenstore/key[1] missing-attribute',
    '3:5 /driver/xenstore/key[1] text-content',
    '4:10 /driver/xenstore/key[2]/@name attribute-value',
    '4:18 /driver/xenstore/key[2]/@rev attribute-value',
    '5:5 /driver/xenstore/other unknown-element',
    '7:3 /driver/note[1] text-content',
    '9:3 /driver/note[3] child-count',
  ].sort());
  const msg = (path: string) => problems.find((p) => p.location.path === path)!.message;
  t.match(msg('/driver/xenstore/key[1]/@order'), /above the maximum 4/);
  t.match(msg('/driver/xenstore/key[1]/@rev'), /not hexadecimal/);
  t.match(msg('/driver/xenstore/key[2]/@rev'), /exactly 8 hex digits/);
  t.match(msg('/driver/xenstore/key[1]/@kind'), /not one of int, string/);
  t.match(msg('/driver/xenstore/key[1]/@optional'), /not a boolean/);
  t.match(msg('/driver/xenstore/key[1]/@id'), /not a lower-case word/);
  t.match(msg('/driver/xenstore/key[1]/@states'), /'9' is above the maximum 8/);
  t.match(msg('/driver/xenstore/other'), /<other> is not allowed in <xenstore> \(allowed: key\)/);
  t.match(msg('/driver/note[3]'), /at most 2 <note>/);
});

t.test('a missing required child and a wrong root are reported', async (t) => {
  const p = run('<driver name="x"/>');
  t.same(p.map((x) => [x.rule, x.location.path]), [['child-count', '/driver']]);
  t.match(p[0].message, /needs a <xenstore> element/);
  const { root } = parseXml('<scenario/>', 's.xml');
  const r = validate(root!, 'driver', shape);
  t.same(r.map((x) => x.rule), ['root-element']);
});

t.test('value checks and converters', async (t) => {
  t.equal(checkValue(types.int(), '+12'), undefined);
  t.match(checkValue(types.int(1), '0'), /below the minimum 1/);
  t.match(checkValue(types.int(), '1.5'), /not an integer/);
  t.match(checkValue(types.hex(undefined, 0xc000, 0xc0ff), 'C100'), /above the maximum C0FF/);
  t.match(checkValue(types.string({ minLength: 2 }), 'a'), /at least 2/);
  t.match(checkValue(types.list(types.token(), 2), 'a'), /at least 2 item/);
  t.equal(intValue(' 7 '), 7);
  t.equal(hexValue('5853'), 0x5853);
  t.equal(boolValue('1'), true);
  t.equal(boolValue('false'), false);
  t.same(splitList(' a  b\nc '), ['a', 'b', 'c']);
});

t.test('problems become one input error listing all of them, in document order', async (t) => {
  const problems = run('<driver>\n<xenstore/>\n</driver>');
  t.equal(problems.length, 2);
  const e = problemsError('SPEC_INVALID', 'driver spec', problems);
  t.ok(e instanceof WinpvError);
  t.equal(e.kind, 'input');
  t.equal(e.exitCode, 2);
  t.equal(e.code, 'SPEC_INVALID');
  t.equal(e.problems.length, 2);
  t.equal(e.message, '2 problems in driver spec');
  t.equal(e.location, undefined, 'each problem has its own location');
  t.equal(formatProblems(e.problems).split('\n').length, 2);
  for (const p of problems) t.ok(formatProblems(e.problems).includes(formatProblem(p)));
  t.match(problemsError('X', 'y', problems.slice(0, 1)).message, /^1 problem in y: /);
  t.ok(e.problems[0].location.line! <= e.problems[1].location.line!);
  t.throws(() => throwIfProblems('X', 'y', problems), WinpvError);
  t.doesNotThrow(() => throwIfProblems('X', 'y', []));
});

t.test('ordered children are checked like an XSD sequence', async (t) => {
  const ordered: ElementShape = { ordered: true, children: { a: { shape: {} }, b: { shape: {} } } };
  const { root } = parseXml('<r>\n  <a/>\n  <b/>\n  <a/>\n</r>', 'o.xml');
  const p = validate(root!, 'r', ordered);
  t.same(p.map((x) => [x.rule, x.location.path, x.location.line]), [['child-order', '/r/a[2]', 4]]);
  t.match(p[0].message, /<a> must come before <b> in <r>/);
  t.same(validate(root!, 'r', { ...ordered, ordered: false }), [], 'unordered shapes accept any order');
});
