// The Windows agent's targeted removals against the guest double: one vendor's packages (pnputil
// /enum-drivers, /delete-driver /uninstall without /force, children before xenbus) and the vendor
// installer's product (the Uninstall keys, msiexec /x), each with its refusals: a package whose
// device will not let go, a product missing, msiexec's 1603 with its log collected, 1605.
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBundle, rejects } from '../../support/xapi-pool';
import { agentOnDouble } from '../../support/windows-agent';
import { fixtureMsi } from '../../support/windows-double';
import { parseEnumDrivers } from '../../../src/guests/windows/pnputil';
import { pvProducts } from '../../../src/guests/windows/uninstall';
import type { DriverName } from '../../../src/model/spec';

const PW = 'planted-Uninstall-pw-5d2';
const DRIVERS: DriverName[] = ['xenbus', 'xenvif', 'xennet', 'xenvbd'];

/** A bundle whose INFs name this provider (the vendor's build: Provider=%Vendor%). */
function vendorBundle(version: string, build: number, provider: string): string {
  const dir = makeBundle(version, build, DRIVERS);
  for (const d of readdirSync(dir)) {
    const inf = join(dir, d, `${d}.inf`);
    writeFileSync(inf, readFileSync(inf, 'utf8').replace('Vendor="Xen Project"', `Vendor="${provider}"`));
  }
  return dir;
}

t.test('pnputil /enum-drivers as Microsoft documents it; another display language is not read as an empty store', async (t) => {
  const text = 'Microsoft PnP Utility\r\n\r\nPublished Name:     oem3.inf\r\nOriginal Name:      xenbus.inf\r\nProvider Name:      XenServer\r\nClass Name:         System devices\r\nClass GUID:         {4d36e97d-e325-11ce-bfc1-08002be10318}\r\nDriver Version:     09/21/2026 9.0.0.1\r\nSigner Name:        Microsoft Windows Hardware Compatibility Publisher\r\n\r\nPublished Name:     oem4.inf\r\nOriginal Name:      xenvif.inf\r\nProvider Name:      Xen Project\r\nDriver Version:     09/21/2026 9.1.0.2\r\n';
  t.same(parseEnumDrivers(text), [
    { published: 'oem3.inf', original: 'xenbus.inf', provider: 'XenServer', version: '9.0.0.1' },
    { published: 'oem4.inf', original: 'xenvif.inf', provider: 'Xen Project', version: '9.1.0.2' },
  ]);
  t.same(parseEnumDrivers('Microsoft PnP Utility\r\n\r\n'), [], 'an empty store');
  t.equal(parseEnumDrivers('Microsoft-PnP-Dienstprogramm\r\n\r\nVeröffentlichter Name:  oem3.inf\r\nOriginalname:  xenbus.inf\r\n'), undefined, 'German labels: refused, not an empty store');
});

t.test('one vendor\'s packages: only that provider\'s, children before xenbus, no /force; ours stay', async (t) => {
  const { d, agent } = await agentOnDouble(t, PW);
  await agent.installDrivers({ location: vendorBundle('9.0.0', 1, 'XenServer'), version: '9.0.0.1', drivers: DRIVERS });
  d.boot();
  d.boot();
  await agent.installDrivers({ location: vendorBundle('9.1.0', 2, 'Xen Project'), version: '9.1.0.2', drivers: DRIVERS });
  d.boot();
  t.same(d.state.outranked.map((p) => `${p.driver} ${p.provider}`).sort(), ['xenbus XenServer', 'xennet XenServer', 'xenvbd XenServer', 'xenvif XenServer'], 'the other vendor\'s packages stay in the store, outranked');
  const before = d.state.scripts.length;
  await agent.uninstallDrivers({ vendor: 'XS' });
  const deletes = d.state.scripts.slice(before).filter((s) => s.startsWith('# winpv:pnputil-delete'));
  t.equal(deletes.length, 4, 'one /delete-driver per package of the vendor');
  t.ok(deletes.every((s) => /pnputil\.exe \/delete-driver \$p\.oem \/uninstall\n/.test(s) && !/\/force/.test(s)), '/uninstall without /force');
  t.same(d.state.outranked, [], 'the vendor\'s packages are gone');
  t.same([...d.state.store.values()].map((p) => p.provider), ['Xen Project', 'Xen Project', 'Xen Project', 'Xen Project'], 'ours are still there');
  const order = deletes.map((s) => /"oem":"(oem\d+\.inf)"/.exec(s)![1]);
  t.equal(order.at(-1), 'oem3.inf', 'xenbus (the first package added, oem3.inf) goes last');
});

t.test('one vendor\'s packages: pnputil keeps a package whose device will not let go, and the removal fails naming it', async (t) => {
  const { d, agent } = await agentOnDouble(t, PW);
  await agent.installDrivers({ location: vendorBundle('9.0.0', 1, 'XenServer'), version: '9.0.0.1', drivers: DRIVERS });
  d.boot();
  d.boot();
  d.state.removalVetoed.add('xenvbd');
  const e = await rejects(agent.uninstallDrivers({ vendor: 'XS' }));
  t.equal(e.code, 'GUEST_DRIVER_UNINSTALL');
  t.match(e.message, /pnputil kept xenvbd\.inf 9\.0\.0\.1 of XenServer \(oem\d+\.inf\), exit 1: Failed to delete driver package: One or more devices are presently installed using the specified INF/);
  t.ok(d.state.store.has('xenvbd') && d.state.store.has('xenbus'), 'xenvbd and, after it, xenbus are still installed');
  const none = await rejects(agent.uninstallDrivers({ vendor: 'XN' }));
  t.equal(none.code, 'GUEST_NO_PACKAGE', 'a vendor with no package in the store is an error, not a silent success');
  t.match(none.message, /no PV driver package of vendor XN \(provider XCP-ng or Vates\) in the driver store; it holds .*xenbus\.inf of XenServer/);
});

t.test('the installer\'s product: found under the Uninstall keys, msiexec /x quiet without a restart', async (t) => {
  const kept: string[] = [];
  const { d, agent } = await agentOnDouble(t, PW, { keepFile: async (p) => (kept.push(p), `artifacts/x/${p.split('\\').pop()}`) });
  const bundle = makeBundle('9.1.0', 2, DRIVERS);
  const code = '{6F2A1C3E-0B7D-4E59-9A61-2C1D5E7F8A90}';
  writeFileSync(join(bundle, 'XenPVTools-x64.msi'), fixtureMsi({ signed: true, product: { code, name: 'Xen PV Drivers for Windows', publisher: 'Xen Project', version: '9.1.0.2' } }));
  await agent.installDrivers({ location: bundle, version: '9.1.0.2', drivers: DRIVERS, installer: true });
  d.boot();
  t.ok(d.state.products.has(code), 'the install registered its product');
  // the planted faults first: the custom action fails, then the product is only a stale key
  d.state.failNextUninstall = 1603;
  const fatal = await rejects(agent.uninstallDrivers({ installer: true }));
  t.equal(fatal.code, 'GUEST_DRIVER_UNINSTALL');
  t.match(fatal.message, `msiexec /x ${code} (Xen PV Drivers for Windows 9.1.0.2) failed (1603: fatal error during installation); its log is artifacts/x/winpv-uninstall-`);
  t.same(kept, [`C:\\Windows\\Temp\\winpv-uninstall-${code.slice(1, -1)}.log`], 'the verbose log was handed to the host to collect');
  t.match(d.state.files.get(kept[0]!)!.toString('utf16le'), /UninstallDrivers returned actual error code 1603/, 'and it says why');
  t.ok(d.state.scripts.some((s) => /msiexec\.exe \/x \$p\.code \/qn \/norestart \/l\*v \$p\.log/.test(s)), 'msiexec /x {code} /qn /norestart /l*v <log>');
  d.state.products.get(code)!.stale = true;
  const unknown = await rejects(agent.uninstallDrivers({ installer: true }));
  t.match(unknown.message, /failed \(1605: this action is only valid for products that are currently installed\)/);
  d.state.products.get(code)!.stale = false;
  await agent.uninstallDrivers({ installer: true });
  t.same(d.state.products.size, 0, 'the product is gone');
  t.same(d.state.store.size, 0, 'and its driver packages with it');
  d.boot();
  t.same((await agent.driverStatus()).bound, [], 'after the reboot nothing is bound');
  const gone = await rejects(agent.uninstallDrivers({ installer: true }));
  t.equal(gone.code, 'GUEST_NO_PRODUCT', 'no product left: an error saying where it looked');
  t.match(gone.message, /no Windows Installer product of the PV tools under HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall or its WOW6432Node twin/);
});

t.test('the PV tools products among the installed ones, by vendor', async (t) => {
  const p = (name: string, publisher: string, code = '{6F2A1C3E-0B7D-4E59-9A61-2C1D5E7F8A90}') => ({ code, name, publisher, version: '1', wow64: false });
  const all = [p('XenServer VM Tools', 'Cloud Software Group, Inc.'), p('XCP-ng Windows PV Tools', 'Vates'), p('Microsoft Visual C++ 2019 Redistributable', 'Microsoft Corporation'), p('Citrix VM Tools', 'Citrix Systems, Inc.', 'not-a-guid')];
  t.same(pvProducts(all).map((x) => x.name), ['XenServer VM Tools', 'XCP-ng Windows PV Tools']);
  t.same(pvProducts(all, 'XS').map((x) => x.name), ['XenServer VM Tools']);
  t.same(pvProducts(all, 'XN').map((x) => x.name), ['XCP-ng Windows PV Tools']);
});

t.test('our installer over another vendor\'s drivers: msiexec 1603, its log collected', async (t) => {
  const kept: string[] = [];
  const { d, agent } = await agentOnDouble(t, PW, { keepFile: async (p) => (kept.push(p), `artifacts/x/${p.split('\\').pop()}`) });
  await agent.installDrivers({ location: vendorBundle('9.0.0', 1, 'XenServer'), version: '9.0.0.1', drivers: DRIVERS });
  d.boot();
  const ours = makeBundle('9.1.0', 2, DRIVERS);
  writeFileSync(join(ours, 'XenPVTools-x64.msi'), fixtureMsi({ signed: true }));
  const e = await rejects(agent.installDrivers({ location: ours, version: '9.1.0.2', drivers: DRIVERS, installer: true }));
  t.match(e.message, /failed \(1603: fatal error during installation\); its log is artifacts\/x\/winpv-install-9\.1\.0\.2\.log/);
  t.same(kept, ['C:\\Windows\\Temp\\winpv-install-9.1.0.2.log']);
  t.match(d.state.files.get(kept[0]!)!.toString('utf16le'), /other Xen PV drivers are installed: xenbus 9\.0\.0\.1 \(XenServer\)/);
  t.same(d.state.products.size, 0, 'nothing registered');
});
