import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalogFor, devicesFor, parseDriverVer, parseInf, readDriverInf } from '../../src/inf';
import { formatProblem } from '../../src/model/errors';

const fixtures = join(__dirname, '..', 'fixtures', 'inf');
const fixture = (name: string) => readFileSync(join(fixtures, name));

t.test('a package INF with comments, quotes, continuations and decorated sections', async (t) => {
  const inf = readDriverInf(fixture('xenvif-localized.inf'), 'xenvif.inf');
  t.same(inf.problems, [], 'no problems');
  t.equal(inf.version.signature?.value, '$Windows NT$', 'comment after a quoted value is stripped');
  t.equal(inf.version.provider?.value, 'Xen Project', '%Vendor% substituted');
  t.equal(inf.version.driverVer?.value.version, '9.1.0.77');
  t.equal(inf.version.driverVer?.value.date, '2026-03-15');
  t.equal(catalogFor(inf, 'x64')?.name, 'xenvif.cat', 'CatalogFile.NTamd64 for x64');
  t.equal(catalogFor(inf, 'x86')?.name, 'xenvif32.cat', 'CatalogFile.NTx86 for x86');
  const x64 = devicesFor(inf, 'x64');
  t.same(x64.map((d) => d.hardwareId), ['XENBUS\\VEN_XP&DEV_VIF&REV_09000009', 'XENBUS\\VEN_XN&DEV_VIF&REV_09000009']);
  t.equal(x64[0].loc.line, 28, 'a continued line is located at its first physical line');
  t.equal(x64[0].description, 'Xen PV Network Class; "VIF"', 'quoted ; and "" in a string value');
  t.equal(devicesFor(inf, 'x86').length, 1);
  t.same(inf.services.map((s) => [s.name, s.flags, s.startType, s.serviceBinary, s.loadOrderGroup]), [['xenvif', 2, 3, '%12%\\xenvif.sys', 'NDIS']], 'install section resolved through .NT');
  t.same(inf.copyFiles.map((c) => c.source).sort(), ['xenvif.sys', 'xenvif_coinst.dll'], 'CopyFiles sections and @file of the co-installer section');
});

t.test('localized strings override the neutral ones for that locale only', async (t) => {
  const de = readDriverInf(fixture('xenvif-localized.inf'), 'xenvif.inf', { locale: '0407' });
  t.equal(de.devices[0].description, 'Xen PV-Netzwerkklasse');
  t.equal(de.version.provider?.value, 'Xen Project', 'missing keys fall back to [Strings]');
  t.same(de.doc.stringSections, ['Strings', 'Strings.0407']);
});

t.test('malformed lines are located problems, and parsing goes on', async (t) => {
  const inf = readDriverInf(fixture('malformed.inf'), 'malformed.inf');
  const msgs = inf.problems.map(formatProblem);
  const has = (re: RegExp, line: number) =>
    t.ok(inf.problems.some((p) => re.test(p.message) && p.location.line === line), `${re} at line ${line}\n${msgs.join('\n')}`);
  has(/entry outside any section/, 2);
  has(/undefined string key %NoSuchString%/, 7);
  has(/has no day 30/, 8);
  has(/section header without '\]'/, 11);
  has(/entry outside any section/, 12);
  has(/unterminated quoted string/, 18);
  has(/empty key/, 19);
  has(/install section \[Missing_Inst/, 20);
  t.match(inf.problems.find((p) => /NoSuchString/.test(p.message))?.location, { file: 'malformed.inf', path: '[Version] Provider' });
  t.equal(inf.devices.length, 1, 'the good device line still parsed');
});

t.test('DriverVer: both date and version are validated', async (t) => {
  t.match(parseDriverVer('01/31/2026,9.1.0.42'), { ok: true, value: { date: '2026-01-31', version: '9.1.0.42' } });
  t.match(parseDriverVer('2/29/2024, 1.2.3.4'), { ok: true, value: { date: '2024-02-29' } });
  const bad: [string, RegExp][] = [
    ['02/29/2025,1.0.0.0', /no day 29/],
    ['13/01/2026,1.0.0.0', /month 13/],
    ['2026-01-01,1.0.0.0', /not mm\/dd\/yyyy/],
    ['01/01/2026', /no version/],
    ['01/01/2026,1.0.0', /four decimal parts/],
    ['01/01/2026,1.70000.0.0', /exceeds 65535/],
    ['01/01/26,1.0.0.0', /not mm\/dd\/yyyy/],
  ];
  for (const [text, re] of bad) {
    const r = parseDriverVer(text);
    t.equal(r.ok, false, text);
    if (!r.ok) t.match(r.message, re, text);
  }
});

t.test('UTF-16LE INFs with a BOM (what stampinf writes) parse like UTF-8 ones', async (t) => {
  const text = fixture('xenvif-localized.inf').toString('utf8');
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  const inf = readDriverInf(utf16, 'xenvif.inf');
  t.same(inf.problems, []);
  t.equal(inf.devices.length, 3);
});

t.test('sections are case-insensitive and duplicates are concatenated', async (t) => {
  const doc = parseInf('[strings]\na=1\n[Foo]\nx=%A%\n[FOO]\ny=2\n', 'dup.inf');
  t.same(doc.problems, []);
  t.same(doc.section('foo')?.entries.map((e) => [e.key, e.values[0], e.loc.line]), [['x', '1', 4], ['y', '2', 6]]);
});

t.test('%% and DIRIDs are not string keys; an odd % is unterminated', async (t) => {
  const doc = parseInf('[Strings]\n[S]\nv="%%SystemRoot%%\\x",%12%\\a.sys\nw=%oops\n', 'p.inf');
  t.same(doc.section('S')?.entries[0].values, ['%SystemRoot%\\x', '%12%\\a.sys']);
  t.match(doc.problems, [{ location: { line: 4 }, message: /unterminated %string% token/ }]);
});

t.test('an INF whose parts do not hold together: each inconsistency located', async (t) => {
  const inf = readDriverInf(fixture('inconsistent.inf'), 'inconsistent.inf');
  const found = inf.problems.map((p) => `${p.location.line ?? '-'} ${p.message}`);
  const expect: [number | '-', RegExp][] = [
    [4, /Signature '\$Chicago Plus\$' is not "\$Windows NT\$"/],
    [6, /ClassGuid '\{not-a-guid\}' is not a \{GUID\}/],
    [8, /CatalogFile 'xenbad\.dll' is not a \.cat file name/],
    [12, /destination entry must be 'section = dirid/],
    [18, /source disk '2' of xenbad\.sys is not in \[SourceDisksNames\]/],
    [21, /models section \[Inst\.NTx86\] named by the manufacturer does not exist/],
    [22, /empty key/],
    [26, /device entry must be 'description = install-section, hardware-id/],
    [29, /CopyFiles section \[No_Such_CopyFiles\] does not exist/],
    [30, /helper\.dll is copied but not listed in \[SourceDisksFiles\]/],
    [34, /unlisted\.sys is copied but not listed in \[SourceDisksFiles\]/],
    [38, /service install section \[No_Such_Service\] does not exist/],
    [39, /AddService flags 'lots' is not a number/],
    [40, /AddService must be 'name, flags, service-install-section/],
    [44, /StartType 'demand' is not a number/],
    [47, /service xenweird has no ServiceBinary/],
  ];
  for (const [line, re] of expect) t.ok(inf.problems.some((p) => (p.location.line ?? '-') === line && re.test(p.message)), `line ${line}: ${re}\n${found.join('\n')}`);
  t.equal(inf.problems.length, expect.length, 'nothing else reported');
  t.equal(inf.devices.length, 1, 'the well-formed device is kept');
  t.same(inf.services.map((s) => s.name), ['xenbad', 'xenweird']);
});

t.test('an INF without [Version] or [Manufacturer]', async (t) => {
  const inf = readDriverInf('[Strings]\nA=1\n', 'empty.inf');
  t.match(inf.problems.map((p) => [p.location.path, p.message]), [['[Version]', 'no [Version] section'], ['[Manufacturer]', 'no [Manufacturer] section']]);
});
