// driver-uninstall, driver-staging and nic-settings on the XenAPI test pool, through the guest's
// PowerShell (pnputil /delete-driver /uninstall, pnputil /add-driver without /install, the NetTCPIP
// cmdlets) on the Windows double. Each with its planted fault: xenvif/xenvbd keeping their unplug
// requests after their removal (the emulated devices stay gone: drivers-bound not ok), a child
// waiting for a restart without asking the xenbus monitor for it (drivers-bound not ok), a set-nic
// on the VIF the harness talks through (refused).
import t, { type Test } from 'tap';
import { startPool, type Pool } from '../../support/xapi-pool';
import { runPlanned } from '../../support/run-plan';
import type { CheckConfig, Scenario, Step } from '../../../src/model/scenario';
import type { DriversEvent } from '../../../src/model/trace';
import { scenario, src } from './pool-scenarios';
import { join } from 'node:path';
import { loadScenarios } from '../../../src/scenario/load';

const checks = (...names: CheckConfig['name'][]): CheckConfig[] => names.map((name) => ({ name, params: {} }));
const install = (extra: Partial<Step> = {}): Step => ({ kind: 'install-drivers', guest: 'win', bundle: 'builtin:9.1.0', reboot: true, source: src, ...extra }) as Step;

async function run(t: Test, sc: Scenario, configure: (pool: Pool) => void = () => undefined) {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  configure(pool);
  const { trace, tap } = await runPlanned({ host: pool.host(), plan: [sc], seed: 3, tap: true });
  t.comment(tap);
  return { tap, events: trace.events, pool };
}

const uninstall = () => scenario('uninstall', [
  install(),
  { kind: 'reboot', guest: 'win', source: src },
  { kind: 'uninstall-drivers', guest: 'win', reboot: true, source: src },
], { needs: ['windows-guest', 'driver-uninstall'], checks: checks('drivers-bound') });

t.test('uninstall on the pool: pnputil removes every package, after the reboot nothing is bound and the emulated devices are back', async (t) => {
  const { tap, events, pool } = await run(t, uninstall());
  t.match(tap, /^ok 1 - uninstall/m);
  const d = pool.doubles[0]!;
  t.same(d.state.store.size, 0, 'the driver store holds no PV package');
  t.ok(d.state.scripts.some((s) => /pnputil\.exe \/delete-driver \$p\.oem \/uninstall \/force/.test(s)), 'pnputil /delete-driver /uninstall ran in the guest');
  const last = events.filter((e): e is DriversEvent => e.ev === 'drivers').at(-1)!;
  t.same(last.unplugged, { disks: false, nics: false });
  t.ok(last.states?.every((s) => s.state === 'removed'), 'every driver reported removed');
});

t.test('planted: the removed drivers leave their unplug requests: drivers-bound not ok, the emulated devices still unplugged', async (t) => {
  const { tap } = await run(t, uninstall(), (pool) => { pool.doubles[0]!.state.unplugKeptOnRemoval = true; });
  t.match(tap, /^not ok 1 - uninstall/m);
  t.match(tap, /not ok \d+ - drivers-bound: .*after the uninstall the emulated disks and NICs are still unplugged/);
});

const staged = () => scenario('staged', [install({ method: 'staged', label: 'OS update: staged, one reboot' })], { needs: ['windows-guest', 'driver-staging'], checks: checks('drivers-bound') });

t.test('staged on the pool: pnputil /add-driver without /install, one reboot: xenbus runs, the children wait with their reboot requested', async (t) => {
  const { tap, events, pool } = await run(t, staged());
  t.match(tap, /^ok 1 - staged/m);
  t.notOk(pool.doubles[0]!.state.scripts.some((s) => /^# winpv:pnputil-add/.test(s) && /"install":true/.test(s)), 'nothing installed on the devices by pnputil');
  const states = new Map((events.filter((e): e is DriversEvent => e.ev === 'drivers').at(-1)!.states ?? []).map((s) => [s.driver, s]));
  t.equal(states.get('xenbus')?.state, 'running');
  t.match(states.get('xenvif'), { state: 'reboot-required', rebootRequested: true });
  t.match(states.get('xenvbd'), { state: 'reboot-required', rebootRequested: true });
  t.equal(states.get('xennet')?.state, 'not-started');
});

t.test('planted: a child waits for a restart without asking for it: drivers-bound not ok, naming the driver', async (t) => {
  const { tap } = await run(t, staged(), (pool) => { pool.doubles[0]!.state.rebootRequestLost = true; });
  t.match(tap, /^not ok 1 - staged/m);
  t.match(tap, /not ok \d+ - drivers-bound: win: xenv(if|bd): 9\.1\.0 installed, start refused until a reboot, no reboot requested: it waits for a reboot nothing asked for/);
});

const twoVifs = (vif: number) => scenario('nic', [
  { kind: 'set-nic', guest: 'win', device: `vif/${vif}`, ipv4: ['192.0.2.10/24'], ipv6: ['2001:db8::10/64'], dns: ['192.0.2.53', '2001:db8::53'], mtu: 1400, source: src },
  install(),
  { kind: 'reboot', guest: 'win', source: src },
  install({ label: 'again, with the PV NIC up' }),
], { needs: ['windows-guest', 'nic-settings'], checks: checks('nic-settings') });

function withSecondVif(sc: Scenario): Scenario {
  return { ...sc, guests: sc.guests.map((g) => ({ ...g, vifs: [...g.vifs, { devid: 1, backend: {} }] })) };
}

t.test('set-nic on the second VIF: configured through NetTCPIP on its MAC, kept on the PV NIC (xenvif copies it)', async (t) => {
  const { tap, pool } = await run(t, withSecondVif(twoVifs(1)));
  t.match(tap, /^ok 1 - nic/m);
  t.match(tap, /ok \d+ - nic-settings: 1 NIC configuration kept through [1-9]\d* report/);
  t.ok(pool.doubles[0]!.state.scripts.some((s) => /New-NetIPAddress -InterfaceIndex \$i/.test(s)));
});

t.test('set-nic on VIF 0, the one the harness reaches the guest through: refused with the reason', async (t) => {
  const { tap } = await run(t, withSecondVif(twoVifs(0)));
  t.match(tap, /^not ok 1 - nic/m);
  t.match(tap, /NIC_IS_TRANSPORT|reaches the guest through/);
});

t.test('the catalogue\'s upgrade-downgrade-uninstall-reinstall on the pool: every step, the NIC of VIF 1 keeps its configuration', async (t) => {
  const repo = join(__dirname, '..', '..', '..', '..');
  const [sc] = loadScenarios([join(repo, 'scenarios', 'upgrade-downgrade-uninstall-reinstall.xml')], repo);
  const { tap } = await run(t, sc!);
  t.match(tap, /^ok 1 - upgrade-downgrade-uninstall-reinstall/m);
  t.match(tap, /ok \d+ - nic-settings: 1 NIC configuration kept through [1-9]\d* reports? with a PV NIC/);
  t.match(tap, /ok \d+ - drivers-bound: 5 driver reports/);
});
