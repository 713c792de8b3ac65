import t from 'tap';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyPackageSet, type VerifyPoint, type VerifyReport } from '../../src/build/verify';
import { describeFiles } from '../../src/inf/index';
import { runProcess } from '../../src/util/process';
import type { DriverName, DriverSpec } from '../../src/model/spec';
import { makePackageSet, type SetOptions } from '../fixtures/build/package-set';
import { testSpecs } from '../fixtures/build/specs';
import { signingWorkspace } from '../fixtures/build/workspace';

const ws = signingWorkspace(t, 'winpv-verify-');
const { skip, work } = ws;

const specs = testSpecs();
let n = 0;
async function build(drivers: DriverName[], opts: SetOptions = {}, verifyOpts: { caFile?: string | null; specs?: Map<DriverName, DriverSpec> } = {}) {
  const root = join(work, `set${n++}`);
  makePackageSet(root, drivers.map((d) => specs.get(d)!), ws.signer, opts);
  const report = await verifyPackageSet(root, {
    specs: verifyOpts.specs ?? specs,
    ...(verifyOpts.caFile === null ? {} : { caFile: verifyOpts.caFile ?? ws.signer.cert }),
  });
  return { root, report };
}
const failedChecks = (r: VerifyReport) => r.points.filter((p) => !p.ok && !p.skip).map((p) => `${p.driver}:${p.check}`);
const point = (r: VerifyReport, driver: string, check: string): VerifyPoint => r.points.find((p) => p.driver === driver && p.check === check)!;

t.test('a complete signed set passes every check and names the signer', { skip }, async (t) => {
  const { report } = await build(['xenbus', 'xenvif', 'xennet', 'xenvbd', 'xeniface']);
  t.same(failedChecks(report), [], JSON.stringify(report.points.filter((p) => !p.ok), null, 1));
  t.equal(report.points.length, 5 * 9, 'nine checks per driver');
  t.equal(report.version, '9.1.0.42');
  t.equal(report.vendorPrefix, 'XN');
  t.same(report.signers, [ws.signer.subject]);
  t.match(point(report, 'xenbus', 'signature').message, /xenbus\.cat, xenbus\.sys, xenfilt\.sys signed by \/CN=winpv test signing/);
  t.match(point(report, 'xenvif', 'revisions').message, /binds xenbus revision\(s\) 09000009/);
  t.ok(point(report, 'xenbus', 'revisions').skip, 'a bus driver binds no parent revision');
});

t.test('a child bound to a revision its bus driver does not advertise', { skip }, async (t) => {
  const { report } = await build(['xenbus', 'xenvif'], { revisions: { xenvif: ['08000001'] } });
  t.same(failedChecks(report), ['xenvif:revisions']);
  const p = point(report, 'xenvif', 'revisions');
  t.match(p.diagnostics?.at, /^xenvif\/x64\/xenvif\.inf:\d+ \[Inst\.NTamd64\]/, 'located at the models entry');
  t.match(p.diagnostics?.problems, [/binds xenbus revision 08000001, which xenbus does not advertise \(09000008, 09000009\)/]);
});

t.test('a child whose parent is missing from the set', { skip }, async (t) => {
  const { report } = await build(['xenvif']);
  t.same(failedChecks(report), ['xenvif:revisions']);
  t.match(point(report, 'xenvif', 'revisions').diagnostics?.problems, [/parent xenbus is not in the set/]);
});

t.test('a revision the bus advertises but the child spec does not bind', { skip }, async (t) => {
  const { report } = await build(['xenbus', 'xenvbd'], { revisions: { xenvbd: ['09000008'] } });
  t.match(point(report, 'xenvbd', 'revisions').diagnostics?.problems, [/binds revision 09000008, but drivers-spec\/xenvbd binds 09000009/]);
});

t.test('a missing file is reported where the INF names it', { skip }, async (t) => {
  const root = join(work, `set${n++}`);
  makePackageSet(root, ['xenbus'].map((d) => specs.get(d as DriverName)!), ws.signer);
  rmSync(join(root, 'xenbus', 'x64', 'xenfilt.sys'));
  const report = await verifyPackageSet(root, { specs, caFile: ws.signer.cert });
  t.same(failedChecks(report), ['xenbus:files']);
  const p = point(report, 'xenbus', 'files');
  t.match(p.diagnostics?.problems, [/xenbus\.inf:\d+ \[Xenbus_CopyFiles\]: xenfilt\.sys is missing from xenbus\/x64/, /xenfilt\.sys \(required by drivers-spec\/xenbus\) is missing/]);
});

t.test('a bad DriverVer is located', { skip }, async (t) => {
  const { report } = await build(['xenbus', 'xenvbd'], { editInf: (d, s) => (d === 'xenvbd' ? s.replace(/DriverVer=[^\r\n]*/, 'DriverVer=02/30/2026,9.1.0.42') : s) });
  t.same(failedChecks(report), ['xenvbd:driver-ver']);
  t.match(point(report, 'xenvbd', 'driver-ver'), { message: /2026-02 has no day 30/, diagnostics: { at: /^xenvbd\/x64\/xenvbd\.inf:10 \[Version\] DriverVer$/ } });
  t.ok(point(report, 'xenvbd', 'version').skip, 'version comparison skipped without a DriverVer');
});

t.test('the set\'s version may be spelled with fewer parts: 9.1.0 is DriverVer 9.1.0.0', { skip }, async (t) => {
  const { root } = await build(['xenbus', 'xenvif'], { versions: { xenbus: '9.1.0.0', xenvif: '9.1.0.0' } });
  const report = await verifyPackageSet(root, { specs, caFile: ws.signer.cert, version: '9.1.0' });
  t.same(failedChecks(report), [], 'one version compared part by part (model/version.ts), not as text');
  const wrong = await verifyPackageSet(root, { specs, caFile: ws.signer.cert, version: '9.1.1' });
  t.same(failedChecks(wrong), ['xenbus:version', 'xenvif:version'], 'a different version still fails');
});

t.test('versions must agree across the set', { skip }, async (t) => {
  const { report } = await build(['xenbus', 'xenvif'], { versions: { xenvif: '9.1.0.41' } });
  t.same(failedChecks(report), ['xenvif:version']);
  t.match(point(report, 'xenvif', 'version'), { diagnostics: { expected: '9.1.0.42', observed: '9.1.0.41', at: /xenvif\.inf:10/ } });
});

t.test("a hardware ID outside the vendor's range or with a foreign prefix", { skip }, async (t) => {
  const { report } = await build(['xenbus', 'xeniface'], {
    editInf: (d, s) => (d === 'xeniface' ? s.replace('VEN_XNC200&DEV_IFACE', 'VEN_XNC300&DEV_IFACE').replace('VEN_XN0002&DEV_IFACE', 'VEN_XS0002&DEV_IFACE') : s),
  });
  t.same(failedChecks(report), ['xeniface:hardware-ids']);
  const problems = point(report, 'xeniface', 'hardware-ids').diagnostics?.problems as string[];
  t.match(problems, [/xeniface\.inf:\d+ \[Inst\.NTamd64\] %XenifaceDesc%: XENBUS\\VEN_XS0002&DEV_IFACE&REV_09000009: vendor prefix XS is not the set's vendor XN/, /C300 is outside XCP-ng's range \(XCP-ng C200-C2FF/]);
});

t.test('an ID that matches no spec template', { skip }, async (t) => {
  const { report } = await build(['xenbus'], { editInf: (_d, s) => s.replace('PCI\\VEN_5853&DEV_0002', 'PCI\\VEN_1234&DEV_0002') });
  t.match(point(report, 'xenbus', 'hardware-ids').diagnostics?.problems, [/PCI\\VEN_1234&DEV_0002 matches none of the spec's IDs/]);
});

t.test('a malformed line is located and the rest still judged', { skip }, async (t) => {
  const { report } = await build(['xenbus'], { editInf: (_d, s) => s.replace('[DestinationDirs]', '[DestinationDirs\r\nbroken "quote') });
  t.same(failedChecks(report), ['xenbus:inf']);
  const p = point(report, 'xenbus', 'inf');
  t.match(p.diagnostics?.problems, [/xenbus\.inf:14: section header without '\]'/, /xenbus\.inf:15: unterminated quoted string/]);
});

t.test('services must be the spec services', { skip }, async (t) => {
  const changed = testSpecs();
  const vif = changed.get('xenvif')!;
  changed.set('xenvif', { ...vif, identity: { ...vif.identity, services: ['xenvif', 'xenvif_monitor'] } });
  const { report } = await build(['xenbus', 'xenvif'], {}, { specs: changed });
  t.same(failedChecks(report), ['xenvif:services']);
  t.match(point(report, 'xenvif', 'services').diagnostics?.problems, [/no AddService for xenvif_monitor/]);
});

t.test('a tampered .sys fails its signature and the catalog', { skip }, async (t) => {
  const root = join(work, `set${n++}`);
  makePackageSet(root, [specs.get('xenbus')!], ws.signer);
  const sys = join(root, 'xenbus', 'x64', 'xenbus.sys');
  const bytes = readFileSync(sys);
  bytes[0x205] ^= 0x55; // a byte of the .text section (headers end at 0x200)
  writeFileSync(sys, bytes);
  const report = await verifyPackageSet(root, { specs, caFile: ws.signer.cert });
  t.same(failedChecks(report), ['xenbus:catalog', 'xenbus:signature']);
  t.match(point(report, 'xenbus', 'signature').diagnostics?.problems, [/xenbus\/x64\/xenbus\.sys: modified after signing \(.*MISMATCH/]);
  t.match(point(report, 'xenbus', 'catalog').diagnostics?.problems, [/xenbus\.sys differs from its digest in xenbus\.cat/]);
});

t.test('a file left out of the catalog', { skip }, async (t) => {
  const { report } = await build(['xenbus'], { uncatalogued: ['xenfilt.sys'] });
  t.same(failedChecks(report), ['xenbus:catalog']);
  t.match(point(report, 'xenbus', 'catalog').diagnostics?.problems, [/\[Xenbus_CopyFiles\]: xenfilt\.sys is not listed in xenbus\.cat/]);
});

t.test('without the test certificate the chain is untrusted; unsigned files are caught', { skip }, async (t) => {
  const { report } = await build(['xenbus'], {}, { caFile: null });
  t.match(point(report, 'xenbus', 'signature').diagnostics?.problems, [/signed by \/CN=winpv test signing.*chain is not trusted: self-signed certificate \(give the test certificate with --ca-file\)/]);
  const unsigned = await build(['xenbus'], { unsigned: true });
  t.match(point(unsigned.report, 'xenbus', 'signature').diagnostics?.problems, [/xenbus\.cat: (not signed|cannot be verified)/, /xenbus\.sys: not signed/, /xenfilt\.sys: not signed/]);
  const nosign = await verifyPackageSet(unsigned.root, { specs, signMode: 'NoSign' });
  t.same(failedChecks(nosign), [], 'NoSign: signatures are not expected');
});

t.test('unusable input: exit-2 errors, and INFs of unknown drivers', { skip }, async (t) => {
  await t.rejects(verifyPackageSet(join(work, 'nope'), { specs }), { code: 'PACKAGE_DIR' });
  const empty = join(work, `empty${n++}`);
  mkdirSync(empty);
  await t.rejects(verifyPackageSet(empty, { specs }), { code: 'PACKAGE_EMPTY' });
  writeFileSync(join(empty, 'other.inf'), '[Version]\nSignature="$Windows NT$"\n');
  const r = await verifyPackageSet(empty, { specs });
  t.match(r.points, [{ check: 'identify', ok: false, message: /other\.inf is not the INF of any driver/ }]);
});

t.test('a catalog that is not a catalog, and DER that lies about its lengths', { skip }, async (t) => {
  const { root } = await build(['xenbus']);
  const cat = join(root, 'xenbus', 'x64', 'xenbus.cat');
  const good = readFileSync(cat);
  writeFileSync(cat, Buffer.from('this is not DER'));
  let report = await verifyPackageSet(root, { specs, caFile: ws.signer.cert });
  t.match(point(report, 'xenbus', 'catalog'), { ok: false, message: /xenbus\/x64\/xenbus\.cat is not a security catalog/ });
  const truncated = good.subarray(0, good.length - 300);
  writeFileSync(cat, truncated);
  report = await verifyPackageSet(root, { specs, caFile: ws.signer.cert });
  t.match(point(report, 'xenbus', 'catalog').message, /not a security catalog: .*(runs past|truncated)/);
  t.match(point(report, 'xenbus', 'signature').diagnostics?.problems, [/xenbus\.cat: (cannot be verified|modified after signing|not signed)/]);
});

t.test('x86 packages and SHA-1 catalogs; an x64-only INF in an x86 directory lists no device', { skip }, async (t) => {
  const { report } = await build(['xenbus', 'xenvif'], { arch: 'x86', catalogAlg: 'sha1' });
  t.same(failedChecks(report), []);
  t.match(point(report, 'xenvif', 'catalog').message, /covers 2 file\(s\) \(sha1\)/);
  t.same(report.packages.map((p) => p.arch), ['x86', 'x86']);
  const wrong = await build(['xenbus'], { arch: 'x86', editInf: (_d, s) => s.replace(/NTx86/g, 'NTamd64') });
  t.match(point(wrong.report, 'xenbus', 'hardware-ids'), { ok: false, message: /no device is listed for x86/ });
});

t.test('service entries that are wrong in kind, binary or association', { skip }, async (t) => {
  const { report } = await build(['xenbus'], {
    editInf: (_d, s) =>
      s
        .replace('AddService=xenfilt,0,Xenfilt_Service', 'AddService=xenfilt,%SPSVCINST_ASSOCSERVICE%,Xenfilt_Service')
        .replace('[Xenfilt_Service]\r\nDisplayName=%XenfiltDesc%\r\nServiceType=%SERVICE_KERNEL_DRIVER%', '[Xenfilt_Service]\r\nDisplayName=%XenfiltDesc%\r\nServiceType=%SERVICE_WIN32_OWN_PROCESS%')
        .replace('ServiceBinary=%12%\\xenbus.sys', 'ServiceBinary=%12%\\xenbus2.sys'),
  });
  const problems = point(report, 'xenbus', 'services').diagnostics?.problems as string[];
  t.match(problems.join('\n'), /service xenbus binary xenbus2\.sys is not copied by the INF/);
  t.match(problems.join('\n'), /service xenfilt ServiceType 16 should be 0x1 for xenfilt\.sys/);
  t.match(problems.join('\n'), /2 services carry SPSVCINST_ASSOCSERVICE \(0x2\); exactly one must/);
});

t.test('a manifest that no longer matches the files', { skip }, async (t) => {
  const { root } = await build(['xenbus']);
  const files = await describeFiles(root);
  writeFileSync(join(root, 'manifest.json'), JSON.stringify({ schema: 'winpv-bundle/1', version: '9.1.0.42', signMode: 'TestSign', createdAt: '2026-01-01T00:00:00Z', drivers: [], files: files.slice(1) }));
  const report = await verifyPackageSet(root, { specs, caFile: ws.signer.cert });
  t.match(report.points.find((p) => p.check === 'manifest'), { ok: false, diagnostics: { problems: [/is in the bundle but not in the manifest/] } });
});

t.test('a missing tool is an infra error naming the Debian package', async (t) => {
  await t.rejects(runProcess(['winpv-no-such-tool']), { code: 'TOOL_MISSING', exitCode: 3 });
});
