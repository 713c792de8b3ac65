// Issue 14, point 2: on a pool the PV install takes as many restarts as Windows asks for, each one
// in the trace, and a guest that keeps asking is a clear failure rather than a hang.
import t from 'tap';
import { startPool, makeBundle, shape, rejects } from '../../support/xapi-pool';

const ALL = ['xenbus', 'xenvif', 'xennet', 'xenvbd'] as const;

t.test('rebootGuest after an install reboots again while Windows reports a pending restart', async (t) => {
  const pool = await startPool();
  t.teardown(() => pool.close());
  const host = pool.host();
  await host.open(pool.sink, { seed: 3 });
  const g = await host.createGuest(shape('w1'), 'reboots');
  await host.startGuest(g);
  await host.agent(g).installDrivers({ location: makeBundle('9.1.0', 156), version: '9.1.0.156', drivers: [...ALL] });
  const d = pool.byVm.get(g.handle)!;
  const boots = d.state.boots;
  await host.rebootGuest(g);
  t.equal(d.state.boots - boots, 2, 'two restarts: xenbus, then the unplug xenvif and xenvbd asked for');
  t.ok(pool.events.some((e) => e.ev === 'log' && /install reboot 2 \(emulated-device unplug \(XENBUS\\VEN_XP0001&DEV_VIF.*\) took \d+ ms/.test(e.msg)), 'the extra reboot, its reason and duration are in the trace');
  const s = await host.agent(g).driverStatus();
  t.same(s.unplugged, { disks: true, nics: true }, 'emulated disk and NIC gone');
  t.same(s.bound.map((b) => b.driver).sort(), ['xenbus', 'xeniface', 'xennet', 'xenvbd', 'xenvif'], 'PV devices bound (xeniface comes with every set on a pool)');
  t.equal(pool.srv.pool.get(pool.srv.pool.get(g.handle).guest_metrics).PV_drivers_detected, true);
  await host.close();
});

t.test('a guest that asks for a restart at every boot fails after the limit', async (t) => {
  const pool = await startPool();
  t.teardown(() => pool.close());
  const host = pool.host();
  await host.open(pool.sink, { seed: 4 });
  const g = await host.createGuest(shape('w1'), 'loop');
  await host.startGuest(g);
  await host.agent(g).installDrivers({ location: makeBundle('9.1.0', 156), version: '9.1.0.156', drivers: [...ALL] });
  pool.byVm.get(g.handle)!.state.stuckRestart = 'xenvif';
  const e = await rejects(host.rebootGuest(g));
  t.equal(e.code, 'GUEST_REBOOT_LOOP');
  t.match(e.message, /still asks for a restart after 4 reboots of the driver install \(emulated-device unplug \(XENBUS\\VEN_XP0001&DEV_VIF/);
  await host.close();
});
