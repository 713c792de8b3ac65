// `winpv package verify` as a release gate that cannot be walked around (issue 22): the sign mode
// comes from the person running it, every ID of a models line is judged, malformed files are a
// `not ok` naming the file, ProductionSign needs its own roots, and junk after the signature fails.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { enforcedSignMode, verifyPackageSet, type VerifyPoint, type VerifyReport } from '../../src/build/verify';
import { peLayout } from '../../src/build/authenticode';
import { certificateTableProblems } from '../../src/build/cert-table';
import { decodeEscapedUtf8 } from '../../src/build/signature';
import { describeFiles } from '../../src/inf/index';
import { makePackageSet, makeTestSigner, sign } from '../fixtures/build/package-set';
import { makePe } from '../fixtures/build/pe';
import { testSpecs } from '../fixtures/build/specs';
import { captureOutput, signingWorkspace } from '../fixtures/build/workspace';
import { packageTable } from '../../src/cli/commands/package';
import type { CommandContext } from '../../src/cli/command';

const ws = signingWorkspace(t, 'winpv-gate-');
const { skip, work } = ws;
const specs = testSpecs();
let n = 0;
const failedChecks = (r: VerifyReport) => r.points.filter((p) => !p.ok && !p.skip).map((p) => `${p.driver ?? p.subject}:${p.check}`);
const point = (r: VerifyReport, driver: string, check: string): VerifyPoint => r.points.find((p) => p.driver === driver && p.check === check)!;
const newSet = (drivers: ('xenbus' | 'xenvif')[], opts: Parameters<typeof makePackageSet>[3] = {}) => {
  const root = join(work, `set${n++}`);
  makePackageSet(root, drivers.map((d) => specs.get(d)!), ws.signer, opts);
  return root;
};
async function verifyCommand(argv: string[]) {
  const io = captureOutput();
  const ctx: CommandContext = { argv, env: {}, cwd: work, out: io.out, err: io.err, verbose: false, signal: new AbortController().signal };
  const code = await packageTable(async () => specs).verify(ctx);
  return { code, text: io.text() };
}
const writeManifest = async (root: string, signMode: string) =>
  writeFileSync(join(root, 'manifest.json'), JSON.stringify({ schema: 'winpv-bundle/1', version: '9.1.0.42', signMode, createdAt: '2026-01-01T00:00:00Z', drivers: [], files: await describeFiles(root) }));

t.test('1. a manifest saying signMode Off does not switch signatures off: a .sys changed after signing fails', { skip }, async (t) => {
  const root = newSet(['xenbus']);
  const sys = join(root, 'xenbus', 'x64', 'xenbus.sys');
  const bytes = readFileSync(sys);
  bytes[0x205] ^= 0x55;
  writeFileSync(sys, bytes);
  await writeManifest(root, 'Off'); // the manifest's sizes and hashes match the tampered file
  const report = await verifyPackageSet(root, { specs, caFile: ws.signer.cert });
  t.ok(report.failed > 0, 'the set fails');
  t.notOk(point(report, 'xenbus', 'signature').skip, 'the signature check ran');
  t.match(point(report, 'xenbus', 'signature').message, /xenbus\/x64\/xenbus\.sys: modified after signing/, 'the not ok line names the file');
  t.match(report.points.filter((p) => p.check === 'manifest').map((p) => [p.ok, p.message]), [[true, /lists all/], [false, /says signMode Off, but this verification enforces TestSign \(the manifest cannot lower the bar\)/]]);
  const agreed = newSet(['xenbus']);
  await writeManifest(agreed, 'TestSign');
  t.same(failedChecks(await verifyPackageSet(agreed, { specs, caFile: ws.signer.cert })), [], 'a manifest that agrees passes');
});

t.test('2. every hardware ID of a models line is judged and counted', { skip }, async (t) => {
  const extra = (id: string) => (d: string, s: string) => (d === 'xenvif' ? s.replace('XENBUS\\VEN_XN0001&DEV_VIF&REV_09000009', `XENBUS\\VEN_XN0001&DEV_VIF&REV_09000009,${id}`) : s);
  const good = await verifyPackageSet(newSet(['xenbus', 'xenvif'], { editInf: extra('XENBUS\\VEN_XN0002&DEV_VIF&REV_09000008') }), { specs, caFile: ws.signer.cert });
  t.match(point(good, 'xenvif', 'hardware-ids').message, /4 hardware ID\(s\)/, 'the second ID on the line is counted');
  const bad = await verifyPackageSet(newSet(['xenbus', 'xenvif'], { editInf: extra('XENBUS\\VEN_XN0002&DEV_VIF&REV_08000001') }), { specs, caFile: ws.signer.cert });
  t.same(failedChecks(bad), ['xenvif:revisions']);
  t.match(point(bad, 'xenvif', 'revisions').diagnostics?.problems, [/REV_08000001 binds xenbus revision 08000001, which xenbus does not advertise/]);
  const foreign = await verifyPackageSet(newSet(['xenbus', 'xenvif'], { editInf: extra('PCI\\VEN_5853&DEV_0001') }), { specs, caFile: ws.signer.cert });
  t.match(point(foreign, 'xenvif', 'hardware-ids'), { ok: false, message: /1 of 4 hardware ID\(s\) outside the spec/ });
  const none = await verifyPackageSet(newSet(['xenbus', 'xenvif'], { editInf: (d, s) => (d === 'xenvif' ? s.replace(/&REV_09000009/g, '') : s) }), { specs, caFile: ws.signer.cert });
  t.match(point(none, 'xenvif', 'revisions'), { ok: false, diagnostics: { problems: [/no hardware ID for x64 names a xenbus revision/] } }, 'no matching ID is not a pass over an empty list');
});

t.test('3. a truncated .sys is a not ok naming the file; the rest of the set is still judged; the command exits 1 with TAP', { skip }, async (t) => {
  const root = newSet(['xenbus', 'xenvif']);
  const sys = join(root, 'xenbus', 'x64', 'xenbus.sys');
  const whole = readFileSync(sys);
  for (const size of [0x3e, 0x90, 0x130]) {
    writeFileSync(sys, whole.subarray(0, size));
    const report = await verifyPackageSet(root, { specs, caFile: ws.signer.cert });
    t.match(point(report, 'xenbus', 'catalog').diagnostics?.problems, [/xenbus\/x64\/xenbus\.sys: not a valid PE image \(truncated/], `cut at ${size} bytes`);
    t.match(point(report, 'xenbus', 'signature').diagnostics?.problems, [/xenbus\.sys: signature block malformed: not a valid PE image: truncated/]);
    t.same(failedChecks(report).filter((c) => c.startsWith('xenvif')), [], 'xenvif is still judged, and passes');
  }
  const r = await verifyCommand([root, '--ca-file', ws.signer.cert]);
  t.equal(r.code, 1, 'exit 1, not an internal error');
  t.match(r.text, /^TAP version 14/m);
  t.match(r.text, /not ok \d+ - xenbus\/x64 catalog/);
});

t.test('4. sign modes: unknown is a usage error; ProductionSign needs its roots and refuses a self-signed test certificate', { skip }, async (t) => {
  t.throws(() => enforcedSignMode({ signMode: 'Bogus' }), { kind: 'usage', message: /unknown sign mode 'Bogus'/ });
  t.throws(() => enforcedSignMode({ signMode: 'ProductionSign' }), { kind: 'usage', message: /--production-roots/ });
  t.equal(enforcedSignMode({}), 'TestSign', 'TestSign is the default');
  t.equal(enforcedSignMode({ signMode: 'Off' }), 'NoSign');
  const root = newSet(['xenbus']);
  const prod = await verifyPackageSet(root, { specs, signMode: 'ProductionSign', productionRoots: ws.signer.cert, caFile: ws.signer.cert });
  t.match(point(prod, 'xenbus', 'signature'), { ok: false, diagnostics: { problems: [/does not chain to the production roots \(a self-signed certificate is a test certificate/] } });
  const other = makeTestSigner(join(work, 'other-root'), 'some other root');
  const wrongRoots = await verifyPackageSet(root, { specs, signMode: 'ProductionSign', productionRoots: other.cert, caFile: ws.signer.cert });
  t.match(point(wrongRoots, 'xenbus', 'signature').diagnostics?.problems, [/does not chain to the production roots/], '--ca-file is not a production root');
  await t.rejects(verifyCommand([root, '--sign-mode', 'Bogus']), { code: 'USAGE', exitCode: 2 });
  await t.rejects(verifyCommand([root, '--sign-mode', 'ProductionSign']), { code: 'USAGE', exitCode: 2 }, 'ProductionSign without its roots');
});

t.test('6. junk grown into the certificate table after signing (CVE-2013-3900 shape) fails', { skip }, async (t) => {
  const root = newSet(['xenbus']);
  const sys = join(root, 'xenbus', 'x64', 'xenbus.sys');
  const signed = readFileSync(sys);
  t.same(certificateTableProblems(signed), [], 'the signed image as osslsigncode wrote it is well-formed');
  const l = peLayout(signed)!;
  const junk = Buffer.alloc(64, 0x41);
  const grown = Buffer.concat([signed, junk]);
  grown.writeUInt32LE(l.certTableSize + 64, l.certDirOffset + 4); // the directory's size
  grown.writeUInt32LE(grown.readUInt32LE(l.certTableOffset) + 64, l.certTableOffset); // the entry's dwLength
  writeFileSync(sys, grown);
  const report = await verifyPackageSet(root, { specs, caFile: ws.signer.cert });
  t.match(point(report, 'xenbus', 'signature'), { ok: false, message: /xenbus\.sys: signature block malformed: 6\d byte\(s\) after the PKCS#7 signature .*CVE-2013-3900/ });
});

t.test('7. non-ASCII signer names read as UTF-8; .exe and .dll files are checked like .sys', { skip }, async (t) => {
  t.equal(decodeEscapedUtf8('/CN=Pr\\xC3\\xBCfzertifikat'), '/CN=Prüfzertifikat');
  t.equal(decodeEscapedUtf8('/CN=plain'), '/CN=plain');
  const umlaut = makeTestSigner(join(work, 'umlaut'), 'Prüfzertifikat');
  const root = join(work, `set${n++}`);
  makePackageSet(root, [specs.get('xenbus')!], umlaut);
  const report = await verifyPackageSet(root, { specs, caFile: umlaut.cert });
  t.match(report.signers, [/Prüfzertifikat/]);
  const exe = join(root, 'xenbus', 'x64', 'xenagent.exe');
  writeFileSync(exe, makePe('an unsigned helper', { subsystem: 3 }));
  const unsignedExe = await verifyPackageSet(root, { specs, caFile: umlaut.cert });
  t.match(point(unsignedExe, 'xenbus', 'signature').diagnostics?.problems, [/xenagent\.exe: not signed/]);
  sign(exe, umlaut);
  t.same(failedChecks(await verifyPackageSet(root, { specs, caFile: umlaut.cert })).filter((c) => c.endsWith('signature')), [], 'signed, it passes');
});
