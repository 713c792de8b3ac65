// The simulated Windows guest's install lifecycle (sim/windows/installer.ts) on its own: install and
// staging into the store and onto devices, restart-pending over a running driver, the vendor installer
// refusing another vendor's drivers (1603 and its log), uninstall and its unplug requests, a child
// from the store refusing to start before the unplug, and the boot that fails on XENFILT left behind.
import t from 'tap';
import { InstallerFailure, WindowsSetup, vendorOf } from '../../../src/sim/windows/installer';
import type { InstalledPackage } from '../../../src/sim/windows/packages';
import { noGuestFaults } from '../../../src/sim/faults';
import type { DriverName } from '../../../src/model/spec';

const pkg = (driver: DriverName, version: string, vendor = 'XP'): InstalledPackage => ({
  driver, version, service: driver, inf: `${driver}.inf`,
  hardwareIds: driver === 'xenbus' ? ['PCI\\VEN_5853&DEV_0001'] : [`XENBUS\\VEN_${vendor}0001&DEV_${driver === 'xenvbd' ? 'VBD' : 'VIF'}&REV_09000000`],
});

function setup(faults = noGuestFaults()) {
  const logs: string[] = [];
  return { s: new WindowsSetup('0001', faults, (m) => logs.push(m)), logs, installed: new Map<DriverName, InstalledPackage>(), registry: new Map<string, number>() };
}

t.test('vendorOf: the package\'s own, else the prefix of its XENBUS/XENVIF hardware ID', async (t) => {
  t.equal(vendorOf(pkg('xenvbd', '9.1.0', 'XS')), 'XS');
  t.equal(vendorOf({ ...pkg('xenvbd', '9.1.0', 'XS'), vendor: 'XN' }), 'XN');
  t.equal(vendorOf(pkg('xenbus', '9.1.0')), undefined, 'the platform device\'s ID names none');
});

t.test('install over a running driver: restart pending until the next boot; the store keeps one of each', async (t) => {
  const { s, installed } = setup();
  const running = new Map([['xenvbd', '9.0.0']]);
  s.install(installed, [pkg('xenvbd', '9.1.0'), pkg('xenbus', '9.1.0')], running);
  s.install(installed, [pkg('xenvbd', '9.1.0')], running);
  t.equal(s.store.length, 2, 'the same package twice is stored once');
  t.match(s.states(['xenvbd', 'xenbus'], installed, running), [
    { driver: 'xenvbd', state: 'restart-pending', running: '9.0.0', staged: '9.1.0', vendor: 'XP' },
    { driver: 'xenbus', state: 'not-started', staged: '9.1.0' },
  ]);
  s.beginBoot(installed);
  t.match(s.states(['xenvbd'], installed, new Map([['xenvbd', '9.1.0']])), [{ state: 'running', running: '9.1.0' }]);
});

t.test('the vendor installer refuses over another vendor\'s drivers: 1603 with its log; else installs', async (t) => {
  const { s, installed } = setup();
  s.install(installed, [pkg('xenvbd', '9.0.0', 'XS')], new Map());
  const err = t.throws(() => s.msiInstall(installed, [pkg('xenvbd', '9.1.0', 'XP')], new Map(), 'winpv.msi')) as InstallerFailure;
  t.ok(err instanceof InstallerFailure);
  t.equal(err.exitCode, 1603);
  t.match(err.log, /other Xen PV drivers are installed: xenvbd 9\.0\.0 \(XS\); remove them first[\s\S]*returned actual error code 1603/);
  t.equal(installed.get('xenvbd')?.version, '9.0.0', 'nothing installed');
  t.match(s.msiInstall(installed, [pkg('xenvbd', '9.2.0', 'XS')], new Map(), 'xs.msi'), /Installation completed successfully/);
  t.equal(installed.get('xenvbd')?.version, '9.2.0');
});

t.test('staged: a child without its device waits in the store, refuses its first start until the unplug and asks for a reboot', async (t) => {
  for (const lost of [false, true]) {
    const { s, installed, registry, logs } = setup({ ...noGuestFaults(), rebootRequestLost: lost });
    s.stage(installed, [pkg('xenbus', '9.1.0'), pkg('xenvbd', '9.1.0')], new Map());
    t.ok(installed.has('xenbus') && !installed.has('xenvbd'), 'xenbus onto its device; xenvbd into the store only');
    s.enumerate(installed, 'xenvbd');
    t.equal(installed.get('xenvbd')?.version, '9.1.0', 'the device appeared: PnP installs it from the store');
    t.equal(s.childStart('xenvbd', false, registry), false, 'emulated disks still present: start refused');
    t.equal(registry.get('Unplug\\DISKS'), 1);
    t.match(s.states(['xenvbd'], installed, new Map()), [{ state: 'reboot-required', ...(lost ? {} : { rebootRequested: true }) }]);
    t.equal(s.rebootRequests.has('XENVBD'), !lost, lost ? 'reboot-request-lost: no Request key' : 'Request\\XENVBD\\Reboot');
    t.match(logs.at(-1), /unplug requested, start refused until a reboot/);
    t.equal(s.childStart('xenvbd', true, registry), true, 'after the unplug it starts');
  }
});

t.test('uninstall: one vendor\'s or all, the unplug requests revoked, XENFILT removed unless the fault leaves it (and the boot then fails)', async (t) => {
  for (const leaves of [false, true]) {
    const { s, installed, registry } = setup({ ...noGuestFaults(), uninstallLeavesFilter: leaves });
    s.install(installed, [pkg('xenbus', '9.1.0'), pkg('xenvbd', '9.1.0'), pkg('xenvif', '9.1.0')], new Map());
    s.busStarted();
    registry.set('Unplug\\DISKS', 1).set('Unplug\\NICS', 1);
    t.same(s.uninstall(installed, registry, 'XS'), [], 'another vendor: nothing');
    t.same(s.uninstall(installed, registry).sort(), ['xenbus', 'xenvbd', 'xenvif']);
    t.equal(registry.get('Unplug\\DISKS'), 0);
    t.equal(registry.get('Unplug\\NICS'), 0);
    t.match(s.states(['xenvbd'], installed, new Map()), [{ state: 'removed' }]);
    const stop = s.beginBoot(installed);
    if (leaves) t.match(stop, /INACCESSIBLE_BOOT_DEVICE \(0x7B\).*XENFILT/);
    else t.equal(stop, undefined, 'the filter went with xenbus: the next boot is fine');
  }
});

t.test('platform devices: the vendor device comes with 0002 and is preferred', async (t) => {
  const ids = (d: string) => new WindowsSetup(d, noGuestFaults(), () => undefined).platformDevices().map((p) => p.id);
  t.same(ids('0001'), ['0001']);
  t.same(ids('C000'), ['C000', '0002']);
});
