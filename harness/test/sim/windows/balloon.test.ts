// xenbus's balloon in the simulated guest (sim/windows/balloon.ts, after win-xenbus fdo.c FdoBalloon and
// balloon.c BalloonAdjust) on a bare domain: it inflates to static-max less target with
// control/balloon-active 1 then 0, deflates when the target rises, subtracts videoram, and under
// balloon-initial-target-ignored keeps its whole memory until the target changes again.
import t, { type Test } from 'tap';
import { XenbusBalloon } from '../../../src/sim/windows/balloon';
import { openSimState } from '../../hosts/sim-fixture';

const MAX_KIB = 64 * 1024;

async function balloonOn(t: Test, targetKiB: number, o: { ignoreInitialTarget?: boolean; videoramKiB?: number } = {}) {
  const { st } = await openSimState(t);
  const d = await st.hv.createDomain('g');
  await st.ts().createDomainKeys(d, 'g', MAX_KIB, targetKiB);
  if (o.videoramKiB !== undefined) await st.dom0.xs.write(`${d.home}/memory/videoram`, String(o.videoramKiB));
  d.setState('running');
  const active: string[] = [];
  const reservations: number[] = [];
  const b = new XenbusBalloon(d, { ignoreInitialTarget: o.ignoreInitialTarget ?? false }, (actual) => reservations.push(actual), async (rel, v) => {
    if (rel === 'control/balloon-active') active.push(v);
    await d.xs.write(`${d.home}/${rel}`, v);
  });
  t.teardown(() => b.stop());
  const settle = async () => {
    await st.hv.sched.sleep(50);
    await b.settled();
  };
  const target = async (kib: number) => {
    await st.dom0.xs.write(`${d.home}/memory/target`, String(kib));
    await settle();
  };
  return { st, d, b, active, reservations, settle, target };
}

t.test('a target below static-max: the balloon inflates to the difference, active while it does', async (t) => {
  const x = await balloonOn(t, 48 * 1024);
  await x.b.start(x.d);
  await x.settle();
  t.equal(x.b.actualKiB(MAX_KIB), 48 * 1024);
  t.same(x.active, ['1', '0']);
  t.equal(x.reservations.at(-1), 48 * 1024, 'the reservation reported');
  t.equal(await x.d.xs.read(`${x.d.home}/control/feature-balloon`), '1');
  await x.target(60 * 1024);
  t.equal(x.b.actualKiB(MAX_KIB), 60 * 1024, 'a higher target deflates it');
  await x.target(128 * 1024);
  t.equal(x.b.actualKiB(MAX_KIB), MAX_KIB, 'never above static-max');
});

t.test('videoram is not the balloon\'s to give', async (t) => {
  const x = await balloonOn(t, 48 * 1024, { videoramKiB: 8 * 1024 });
  await x.b.start(x.d);
  await x.settle();
  t.equal(x.b.size * 4, 8 * 1024, 'static-max less videoram less target');
});

t.test('balloon-initial-target-ignored: the target set before boot is never acted on; a later one is', async (t) => {
  const x = await balloonOn(t, 48 * 1024, { ignoreInitialTarget: true });
  await x.b.start(x.d);
  await x.settle();
  t.equal(x.b.actualKiB(MAX_KIB), MAX_KIB, 'the guest keeps its whole memory');
  t.same(x.active, []);
  await x.target(40 * 1024);
  t.equal(x.b.actualKiB(MAX_KIB), 40 * 1024);
  x.b.reset();
  t.equal(x.b.actualKiB(MAX_KIB), MAX_KIB, 'reset: the rebuilt domain is whole');
});
