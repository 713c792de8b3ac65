// Test-signed builds and the bundle's architecture, against the Windows double: a test-signed
// driver binds only once its root is trusted and test signing is on in the running boot; Secure Boot
// and a package of another architecture are refused before the guest is touched.
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rejects } from '../../support/errors';
import { agentOnDouble } from '../../support/windows-agent';
import { TEST_SIGNER_MARKER, thumbprint, type WindowsDouble } from '../../support/windows-double';
import { describeFiles } from '../../../src/inf/bundle';
import { BUNDLE_MANIFEST_SCHEMA } from '../../../src/model/bundle';
import { enableTestSigning } from '../../../src/guests/windows/signing';
import type { DriverName } from '../../../src/model/spec';

const PW = 'planted-Sign-pw-4c1';
const CERT = Buffer.from('3082010a0282010100c0ffee', 'hex'); // the DER bytes of the test certificate (the double only hashes them)

interface BundleOpts { arch?: 'x64' | 'x86'; folder?: string; signMode?: string; cert?: boolean; decoration?: string; manifest?: boolean }

/** A bundle as `winpv build` lays one out (`<driver>/<arch>/`, manifest.json), optionally without a manifest. */
async function bundle(o: BundleOpts = {}, drivers: DriverName[] = ['xenbus', 'xenvif', 'xennet', 'xenvbd']): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-signed-'));
  const signMode = o.signMode ?? 'TestSign';
  const folder = o.manifest === false ? '' : `/${o.folder ?? o.arch ?? 'x64'}`;
  for (const d of drivers) {
    mkdirSync(join(dir, d + folder), { recursive: true });
    const models = o.decoration ? `[Manufacturer]\r\n%Vendor%=Xen,${o.decoration}\r\n\r\n[Xen.${o.decoration}]\r\n%Dev%=Inst,PCI\\VEN_5853&DEV_0001\r\n\r\n` : '';
    writeFileSync(join(dir, d + folder, `${d}.inf`), `[Version]\r\nSignature="$Windows NT$"\r\nClass=System\r\nProvider=%Vendor%\r\nDriverVer=09/21/2026,9.1.0.42\r\nCatalogFile=${d}.cat\r\n\r\n${models}[Strings]\r\nVendor="Xen Project"\r\nDev="Xen"\r\n`);
    writeFileSync(join(dir, d + folder, `${d}.sys`), Buffer.from(`MZ\x90\x00${d} image`));
    writeFileSync(join(dir, d + folder, `${d}.cat`), Buffer.from(signMode === 'TestSign' ? `0\x82catalog ${TEST_SIGNER_MARKER}${thumbprint(CERT)}` : '0\x82catalog'));
  }
  if (o.cert ?? signMode === 'TestSign') writeFileSync(join(dir, 'winpv-test.cer'), CERT);
  if (o.manifest === false) return dir;
  const manifest = {
    schema: BUNDLE_MANIFEST_SCHEMA, version: '9.1.0.42', signMode, createdAt: '2026-11-24T06:00:00Z', ...(o.arch ? { arch: o.arch } : {}),
    drivers: drivers.map((d) => ({ name: d, version: '9.1.0.42', dir: `${d}${folder}`, inf: `${d}${folder}/${d}.inf` })),
    files: await describeFiles(dir),
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

const ALL: DriverName[] = ['xenbus', 'xenvif', 'xennet', 'xenvbd'];
const untouched = (t: Test, d: WindowsDouble, what: string) => {
  t.same([...new Set(d.state.scripts.map((s) => s.split('\n')[0]))], ['# winpv:guest-facts'], `${what}: only the read-only look at the guest ran`);
  t.same([...d.state.files.keys()], [], `${what}: nothing was copied into the guest`);
  t.equal(d.state.store.size, 0, `${what}: no driver package was added`);
  t.notOk(d.state.testSigning.bcd, `${what}: the BCD store is unchanged`);
};

t.test('a test-signed build: certificate trusted, test signing on, and the drivers bind after the reboot', async (t) => {
  const { d, agent, logs } = await agentOnDouble(t, PW);
  await agent.installDrivers({ location: await bundle({ arch: 'x64' }), version: '9.1.0.42', drivers: ALL });
  t.ok(d.state.certStores.Root.has(thumbprint(CERT)), 'the test certificate is in LocalMachine\\Root');
  t.ok(d.state.certStores.TrustedPublisher.has(thumbprint(CERT)), 'and in LocalMachine\\TrustedPublisher');
  t.ok(d.state.testSigning.bcd, 'bcdedit /set testsigning on');
  t.notOk(d.state.testSigning.boot, 'not in force before the reboot');
  t.equal(agent.rebootPendingFor, '9.1.0.42', 'the install asks for the reboot test signing needs');
  t.ok(logs.some((l) => /test signing on from the next boot/.test(l)));
  d.boot();
  d.boot();
  const s = await agent.driverStatus();
  t.same(s.bound.map((b) => b.driver).sort(), ['xenbus', 'xennet', 'xenvbd', 'xenvif'], 'every test-signed driver loads once test signing is on and its root trusted');
});

t.test('the double: a test-signed driver does not load without test signing or a trusted root (code 52)', async (t) => {
  const { d, agent } = await agentOnDouble(t, PW);
  const dir = await bundle({ arch: 'x64' }, ['xenbus']);
  // what the agent did before this change: pnputil only
  await agent.installDrivers({ location: dir, version: '9.1.0.42', drivers: ['xenbus'] });
  d.state.testSigning.bcd = false;
  d.state.certStores.Root.clear();
  d.boot();
  let s = await agent.driverStatus();
  t.same(s.bound, [], 'not bound');
  t.match(s.unbound[0]!.reason, /CM_PROB_UNSIGNED_DRIVER \(52\)/, 'Windows refused its signature');
  d.state.testSigning.bcd = true;
  d.boot();
  t.match((await agent.driverStatus()).unbound[0]!.reason, /\(52\)/, 'test signing alone is not enough: the root is not trusted');
  d.state.testSigning.bcd = false;
  d.state.certStores.Root.add(thumbprint(CERT));
  d.boot();
  t.match((await agent.driverStatus()).unbound[0]!.reason, /\(52\)/, 'a trusted root alone is not enough: test signing is off');
  d.state.testSigning.bcd = true;
  t.match((await agent.driverStatus()).unbound[0]!.reason, /\(52\)/, 'bcdedit takes effect only at the next boot');
  d.boot();
  s = await agent.driverStatus();
  t.same(s.bound.map((b) => b.driver), ['xenbus'], 'both, after a boot: it loads');
});

t.test('Secure Boot and a test-signed build: refused before the guest is touched', async (t) => {
  const { d, agent } = await agentOnDouble(t, PW, {}, { secureBoot: true });
  const e = await rejects(agent.installDrivers({ location: await bundle({ arch: 'x64' }), version: '9.1.0.42', drivers: ALL }));
  t.equal(e.code, 'SECURE_BOOT_TEST_SIGNED');
  t.equal(e.exitCode, 2, 'bad input: exit 2');
  t.match(e.message, /Secure Boot on and the bundle \(.*manifest\.json\) is test-signed/);
  t.match(e.location?.file ?? '', /manifest\.json$/, 'names the bundle');
  untouched(t, d, 'Secure Boot');

  // the double's bcdedit refuses under Secure Boot as Windows does (a guest whose look lied)
  const conn = await (agent as unknown as { ssh(): Promise<import('../../../src/remote/ssh').SshConnection> }).ssh();
  d.state.files.set('C:\\winpv\\t.cer', CERT);
  const e2 = await rejects(enableTestSigning(conn, 'w', ['C:\\winpv\\t.cer'], { arch: 'x64', secureBoot: false, testSigning: false }));
  t.equal(e2.code, 'GUEST_TESTSIGNING');
  t.match(e2.message, /protected by Secure Boot policy/);
  t.notOk(d.state.testSigning.bcd);

  // winpv package bundle of a set without a build manifest says only 'signed': its test certificate tells
  const e3 = await rejects(agent.installDrivers({ location: await bundle({ arch: 'x64', signMode: 'signed', cert: true }), version: '9.1.0.42', drivers: ALL }));
  t.equal(e3.code, 'SECURE_BOOT_TEST_SIGNED', 'a "signed" set carrying a test certificate is a test-signed one');

  // a production-signed build installs under Secure Boot, without test signing
  const prod = await bundle({ arch: 'x64', signMode: 'ProductionSign' });
  await agent.installDrivers({ location: prod, version: '9.1.0.42', drivers: ALL });
  t.notOk(d.state.testSigning.bcd, 'no test signing for a production-signed build');
  d.boot();
  d.boot();
  t.equal((await agent.driverStatus()).bound.length, 4);
});

t.test('a test-signed bundle without its certificate, and an unsigned one: refused', async (t) => {
  const { d, agent } = await agentOnDouble(t, PW);
  const e = await rejects(agent.installDrivers({ location: await bundle({ arch: 'x64', cert: false }), version: '9.1.0.42', drivers: ALL }));
  t.equal(e.code, 'BUNDLE_NO_TEST_CERT');
  t.equal(e.exitCode, 2);
  untouched(t, d, 'no certificate');
  const e2 = await rejects(agent.installDrivers({ location: await bundle({ arch: 'x64', signMode: 'Off' }), version: '9.1.0.42', drivers: ALL }));
  t.equal(e2.code, 'BUNDLE_UNSIGNED');
});

t.test('a bundle for another architecture: refused, named, before the guest is touched', async (t) => {
  const { d, agent } = await agentOnDouble(t, PW);
  const x86 = await bundle({ arch: 'x86' });
  const e = await rejects(agent.installDrivers({ location: x86, version: '9.1.0.42', drivers: ALL }));
  t.equal(e.code, 'BUNDLE_ARCH');
  t.equal(e.exitCode, 2);
  t.match(e.message, /runs x64 Windows, but in the bundle .*manifest\.json the xenbus package is x86/);
  t.equal(e.location?.file, join(x86, 'manifest.json'));
  untouched(t, d, 'x86 bundle');

  const e2 = await rejects(agent.installDrivers({ location: await bundle({ folder: 'arm64' }), version: '9.1.0.42', drivers: ALL }));
  t.match(e2.message, /xenbus package is arm64/, 'the package folder names the architecture when the manifest does not');
  const flat = await bundle({ manifest: false, signMode: 'ProductionSign', decoration: 'NTarm64' });
  const e3 = await rejects(agent.installDrivers({ location: flat, version: '9.1.0.42', drivers: ALL }));
  t.equal(e3.code, 'BUNDLE_ARCH', 'a bundle without a manifest: the INF\'s [Manufacturer] decorations say it');
  t.equal(e3.location?.file, flat);
  untouched(t, d, 'arm64 bundles');
});

t.test('an arm64 guest refuses an x64 bundle', async (t) => {
  const { d, agent } = await agentOnDouble(t, PW, {}, { arch: 'ARM64' });
  const e = await rejects(agent.installDrivers({ location: await bundle({ arch: 'x64', signMode: 'ProductionSign' }), version: '9.1.0.42', drivers: ALL }));
  t.match(e.message, /runs arm64 Windows, but in the bundle .* the xenbus package is x64/);
  untouched(t, d, 'x64 on arm64');
});

/** A bundle directory as the files of a disc (what the double shows under D:\). */
function asDisc(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.set(r.split('/').join('\\'), readFileSync(join(dir, r)));
    }
  };
  walk('');
  return out;
}

t.test('iso:<name>: a disc made by winpv package bundle is read through its own manifest, like a local bundle', async (t) => {
  let disc = new Map<string, Buffer>();
  const g = await agentOnDouble(t, PW, { insertIso: async () => g.d.insertDisc(disc), discWait: { attempts: 2, ms: 10 } });
  disc = asDisc(await bundle({ arch: 'x64' }));
  const r = await g.agent.installDrivers({ location: 'iso:drivers.iso', version: '', drivers: ALL });
  t.same(r, { version: '9.1.0.42' }, 'the disc\'s manifest says the version the drivers must bind at');
  t.equal(g.d.state.store.get('xenvbd')?.version, '9.1.0.42', 'installed from D:\\xenvbd\\x64\\xenvbd.inf, where the manifest says it is');
  t.ok(g.d.state.certStores.Root.has(thumbprint(CERT)), 'the disc\'s test certificate is trusted');
  t.ok(g.d.state.testSigning.bcd, 'and test signing asked for');
  g.d.boot();
  g.d.boot();
  t.equal((await g.agent.driverStatus()).bound.length, 4);
});

t.test('iso:<name>: a disc for another architecture is refused before anything is installed', async (t) => {
  const x86 = asDisc(await bundle({ arch: 'x86' }));
  const g = await agentOnDouble(t, PW, { insertIso: async () => g.d.insertDisc(x86), discWait: { attempts: 2, ms: 10 } });
  const e = await rejects(g.agent.installDrivers({ location: 'iso:winpv-x86.iso', version: '9.1.0.42', drivers: ALL }));
  t.equal(e.code, 'BUNDLE_ARCH');
  t.equal(e.exitCode, 2);
  t.equal(e.location?.file, 'winpv-x86.iso:manifest.json', 'names the disc');
  t.equal(g.d.state.store.size, 0, 'nothing installed');
  t.notOk(g.d.state.testSigning.bcd);
  t.same([...g.d.state.files.keys()].filter((k) => k.startsWith('C:')), [], 'nothing written to C:');
});
