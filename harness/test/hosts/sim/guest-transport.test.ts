// The simulated guest agent (hosts/sim/guest-transport.ts) on the shared state alone: the three ways
// drivers go in (builtin packages, staged, the vendor installer with its log kept), uninstall, NIC
// settings, and the build a workload runs; the refusals (an installer meeting another vendor's
// drivers, a NIC no interface has) as guest errors.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimGuestTransport } from '../../../src/hosts/sim/guest-transport';
import type { DriverBundle } from '../../../src/model/host';
import type { DriverName } from '../../../src/model/spec';
import { block, openSimState, shape } from '../sim-fixture';

const ALL: DriverName[] = ['xenbus', 'xenvbd', 'xenvif', 'xennet'];
const builtin = (version: string, o: Partial<DriverBundle> = {}): DriverBundle => ({ location: `builtin:${version}`, version, drivers: ALL, ...o });

t.test('builtin packages: installed, bound after the reboot; a vendor prefix builds them as that vendor', async (t) => {
  const o = await openSimState(t);
  const tr = new SimGuestTransport(o.st);
  const ref = await o.life.createGuest(shape(), 'i');
  await o.life.startGuest(ref);
  const agent = tr.agent(ref);
  await agent.installDrivers(builtin('9.0.0@XS'));
  await o.life.rebootGuest(ref);
  const st = await agent.driverStatus();
  t.same(st.bound.map((b) => b.driver).sort(), [...ALL].sort());
  t.ok(st.bound.every((b) => b.version === '9.0.0.0'), 'the version of the bundle');
  t.ok(st.bound.some((b) => /VEN_XS0001/.test(b.hardwareId)), `XS's hardware IDs (${st.bound.map((b) => b.hardwareId).join(', ')})`);
  await agent.uninstallDrivers!({});
  await o.life.rebootGuest(ref);
  t.same((await agent.driverStatus()).bound, [], 'uninstalled: nothing bound after the next boot');
});

t.test('staged: the packages wait in the driver store until their devices appear', async (t) => {
  const o = await openSimState(t);
  const tr = new SimGuestTransport(o.st);
  const ref = await o.life.createGuest(shape(), 'i');
  await o.life.startGuest(ref);
  await tr.agent(ref).installDrivers(builtin('9.1.0.100', { staged: true }));
  const states = (await tr.agent(ref).driverStatus()).states ?? [];
  t.ok(states.length > 0, 'each driver\'s state said');
  t.same((await tr.agent(ref).driverStatus()).bound, [], 'nothing bound before a reboot');
});

t.test('the vendor installer: its log kept as an artifact; without a report directory the event says it stays', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-gt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const o = await openSimState(t, { artifactsDir: join(dir, 'artifacts') });
  const tr = new SimGuestTransport(o.st);
  const ref = await o.life.createGuest(shape(), 'i');
  await o.life.startGuest(ref);
  await tr.agent(ref).installDrivers(builtin('9.1.0', { installer: true }));
  const [a] = o.sink.of('artifact');
  t.match(a, { kind: 'installer-log', guest: 'win1', source: 'C:\\Windows\\Temp\\winpv-9.1.0.msi.log' });
  t.match(readFileSync(join(dir, a!.path!), 'utf8'), /Installation completed successfully/);

  const bare = await openSimState(t);
  const tr2 = new SimGuestTransport(bare.st);
  const ref2 = await bare.life.createGuest(shape(), 'i');
  await bare.life.startGuest(ref2);
  await tr2.agent(ref2).installDrivers(builtin('9.1.0', { installer: true }));
  t.match(bare.sink.of('artifact'), [{ kind: 'installer-log', missing: /no report directory/ }]);
});

t.test('the vendor installer meeting another vendor\'s drivers fails as the Windows agent reports it', async (t) => {
  const o = await openSimState(t);
  const tr = new SimGuestTransport(o.st);
  const ref = await o.life.createGuest(shape(), 'i');
  await o.life.startGuest(ref);
  await tr.agent(ref).installDrivers(builtin('9.0.0@XS'));
  await t.rejects(tr.agent(ref).installDrivers(builtin('9.1.0', { installer: true })), {
    code: 'GUEST_DRIVER_INSTALL', kind: 'guest',
    message: /win1: the vendor installer winpv-9\.1\.0\.msi failed \(1603: .*\); its log is C:\\Windows\\Temp\\winpv-9\.1\.0\.msi\.log/,
  });
  t.match(o.sink.of('artifact'), [{ kind: 'installer-log' }], 'the failed run\'s log is still accounted for');
});

t.test('set-nic: refused when no interface has the MAC', async (t) => {
  const o = await openSimState(t);
  const tr = new SimGuestTransport(o.st);
  const ref = await o.life.createGuest(shape(), 'i');
  await o.life.startGuest(ref);
  await t.rejects(tr.agent(ref).setNic!({ mac: '00:16:3e:99:99:99', ipv4: ['192.0.2.1/24'], ipv6: [], dns: [] }), { code: 'SIM_NO_NIC', kind: 'guest', message: /win1: no network interface with MAC 00:16:3e:99:99:99/ });
});

t.test('a workload runs on the build the guest installed last (a planted slowdown applies to that build only)', async (t) => {
  const iops = async (slowBuild: string) => {
    const o = await openSimState(t, { builds: { [slowBuild]: { ioSlowdown: 8 } } });
    const tr = new SimGuestTransport(o.st);
    const ref = await o.life.createGuest(shape(), 'i');
    await o.life.startGuest(ref);
    await tr.agent(ref).installDrivers(builtin('9.1.0.100'));
    await o.life.rebootGuest(ref);
    const out = await tr.agent(ref).blockWorkload(block({ durationMs: 300 }));
    return out.result.kind === 'block' ? out.result.iops : NaN;
  };
  const fast = await iops('9.9.9');
  const slow = await iops('9.1.0.100');
  t.ok(slow < fast / 2, `the installed build is the slowed one (${slow} vs ${fast} IOPS)`);
});
