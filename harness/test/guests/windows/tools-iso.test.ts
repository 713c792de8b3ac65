// The vendor tools ISO as XenServer and XCP-ng ship it (inf/layouts.ts TOOLS_ISO): installers, one
// per architecture, at the root or in package\; the agent runs the one for the guest's architecture.
import t from 'tap';
import { agentOnDouble } from '../../support/windows-agent';
import { rejects } from '../../support/errors';
import { TOOLS_ISO } from '../../../src/inf/layouts';
import { fixtureMsi, thumbprint, UNSIGNED_CATALOG_MARKER } from '../../support/windows-double';

const PW = 'planted-Tools-pw-8e3';
const MSI = fixtureMsi({ signed: true });
const inf = (d: string) => Buffer.from(`[Version]\r\nSignature="$Windows NT$"\r\nClass=System\r\nProvider=%Vendor%\r\nDriverVer=09/21/2026,9.4.0.146\r\n\r\n[Strings]\r\nVendor="XenServer"\r\n`);

/** win-installer's output: managementagentx64.msi, managementagentx86.msi, Setup.exe, and the driver folders beside them. */
const xenserverTools = () => new Map<string, Buffer>([
  ['managementagentx64.msi', MSI], ['managementagentx86.msi', MSI], ['Setup.exe', Buffer.from('MZ')],
  ...['xenbus', 'xenvif', 'xennet', 'xenvbd'].map((d) => [`${d}\\${d}.inf`, inf(d)] as [string, Buffer]),
]);

t.test('TOOLS_ISO picks the installer of the architecture', async (t) => {
  t.equal(TOOLS_ISO.installerFor(['managementagentx64.msi', 'managementagentx86.msi'], 'x64'), 'managementagentx64.msi');
  t.equal(TOOLS_ISO.installerFor(['managementagentx64.msi', 'managementagentx86.msi'], 'x86'), 'managementagentx86.msi');
  t.equal(TOOLS_ISO.installerFor(['managementagent-9.4.0-x64.msi'], 'x64'), 'managementagent-9.4.0-x64.msi');
  t.equal(TOOLS_ISO.installerFor(['package/XenDrivers-x64.msi'], 'x64'), 'package/XenDrivers-x64.msi');
  t.equal(TOOLS_ISO.installerFor(['managementagentx64.msi', 'managementagentx86.msi'], 'arm64'), undefined, 'none for arm64');
});

t.test('iso:<tools ISO> with method="installer": the x64 installer of XenServer\'s tools ISO', async (t) => {
  const g = await agentOnDouble(t, PW, { insertIso: async () => g.d.insertDisc(xenserverTools()), discWait: { attempts: 2, ms: 10 } });
  // iso:guest-tools.iso resolves to no version (runner/bundle.ts): the tools ISO has no manifest
  await g.agent.installDrivers({ location: 'iso:guest-tools.iso', version: '', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'], installer: true });
  t.same(g.d.state.installers, ['D:\\managementagentx64.msi'], 'the x64 one of the two (the root holds one per architecture)');
  t.equal(g.d.state.store.get('xenvbd')?.version, '9.4.0.146');
});

t.test('iso:<tools ISO>: XCP-ng\'s package\\XenDrivers-x64.msi', async (t) => {
  const disc = new Map([['package\\XenDrivers-x64.msi', MSI]]);
  const g = await agentOnDouble(t, PW, { insertIso: async () => g.d.insertDisc(disc), discWait: { attempts: 2, ms: 10 } });
  await g.agent.installDrivers({ location: 'iso:guest-tools.iso', version: '9.0.9000', drivers: ['xenbus'], installer: true });
  t.same(g.d.state.installers, ['D:\\package\\XenDrivers-x64.msi']);
  t.ok(g.d.state.scripts.some((x) => x.startsWith('# winpv:authenticode')), 'Windows was asked for the signatures before the install');
  t.notOk(g.d.state.testSigning.bcd, 'a production-signed disc: test signing untouched');
});

// A manifest-less disc says nothing of its signing: Get-AuthenticodeSignature in the guest does.
const CERT = Buffer.from('0\x82xcp-ng test certificate');
const testSignedTools = () => new Map<string, Buffer>([
  ['package\\XenDrivers-x64.msi', fixtureMsi({ signed: true, testSigner: CERT })], ['testsign\\xcp-ng-test.crt', CERT],
]);

t.test('iso:<tools ISO> test-signed (XCP-ng\'s testsign\\*.crt): the certificate trusted, test signing on, then the installer', async (t) => {
  const g = await agentOnDouble(t, PW, { insertIso: async () => g.d.insertDisc(testSignedTools()), discWait: { attempts: 2, ms: 10 } });
  await g.agent.installDrivers({ location: 'iso:guest-tools.iso', version: '9.0.9000', drivers: ['xenbus'], installer: true });
  t.ok(g.d.state.certStores.Root.has(thumbprint(CERT)) && g.d.state.certStores.TrustedPublisher.has(thumbprint(CERT)), 'the disc\'s test certificate is trusted');
  t.ok(g.d.state.testSigning.bcd, 'bcdedit /set testsigning on');
  t.same(g.d.state.installers, ['D:\\package\\XenDrivers-x64.msi']);
});

t.test('iso:<tools ISO> test-signed under Secure Boot: refused before anything changes', async (t) => {
  const g = await agentOnDouble(t, PW, { insertIso: async () => g.d.insertDisc(testSignedTools()), discWait: { attempts: 2, ms: 10 } }, { secureBoot: true });
  const e = await rejects(g.agent.installDrivers({ location: 'iso:guest-tools.iso', version: '9.0.9000', drivers: ['xenbus'], installer: true }));
  t.equal(e.code, 'SECURE_BOOT_TEST_SIGNED');
  t.equal(e.kind, 'input');
  t.same(g.d.state.installers, [], 'the installer did not run');
  t.equal(g.d.state.certStores.Root.size, 0, 'no certificate imported');
});

t.test('iso:<tools ISO> with an unsigned installer or catalog: refused, named', async (t) => {
  const unsignedMsi = new Map([['managementagentx64.msi', fixtureMsi({ signed: false })], ['xenbus\\xenbus.inf', inf('xenbus')], ['xenbus\\xenbus.cat', Buffer.from('0\x82catalog')]]);
  const g = await agentOnDouble(t, PW, { insertIso: async () => g.d.insertDisc(unsignedMsi), discWait: { attempts: 2, ms: 10 } });
  const e = await rejects(g.agent.installDrivers({ location: 'iso:guest-tools.iso', version: '9.4.0.146', drivers: ['xenbus'], installer: true }));
  t.equal(e.code, 'BUNDLE_UNSIGNED');
  t.match(e.message, /guest-tools\.iso \(no manifest\.json\): managementagentx64\.msi carries no Authenticode signature \(Get-AuthenticodeSignature in the guest: NotSigned\)/);
  t.same(g.d.state.installers, [], 'the installer did not run');
  const unsignedCat = new Map([['managementagentx64.msi', MSI], ['xenbus\\xenbus.inf', inf('xenbus')], ['xenbus\\xenbus.cat', Buffer.from(`0\x82${UNSIGNED_CATALOG_MARKER}`)]]);
  const g2 = await agentOnDouble(t, PW, { insertIso: async () => g2.d.insertDisc(unsignedCat), discWait: { attempts: 2, ms: 10 } });
  const e2 = await rejects(g2.agent.installDrivers({ location: 'iso:guest-tools.iso', version: '9.4.0.146', drivers: ['xenbus'], installer: true }));
  t.equal(e2.code, 'BUNDLE_UNSIGNED');
  t.match(e2.message, /xenbus\.cat carries no Authenticode signature/);
  t.same(g2.d.state.installers, []);
});

t.test('iso:<tools ISO> on an arm64 guest: no installer for it, said', async (t) => {
  const g = await agentOnDouble(t, PW, { insertIso: async () => g.d.insertDisc(xenserverTools()), discWait: { attempts: 2, ms: 10 } }, { arch: 'ARM64' });
  const e = await rejects(g.agent.installDrivers({ location: 'iso:guest-tools.iso', version: '9.4.0.146', drivers: ['xenbus'], installer: true }));
  t.equal(e.code, 'BUNDLE_NO_INSTALLER');
  t.match(e.message, /2 installers \(managementagentx64\.msi, managementagentx86\.msi\) and none is the one for arm64/);
  t.same(g.d.state.installers, [], 'nothing run');
});
