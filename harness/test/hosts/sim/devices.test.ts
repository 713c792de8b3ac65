// The simulated guests' devices (hosts/sim/devices.ts) on the shared state alone: hot-plug keeps a
// detached disk's image for the next plug, the backend controls reach the device's backend (a device
// the guest lacks refused), and the ring view's source reads both ends of every live ring.
import t from 'tap';
import { SimDevices } from '../../../src/hosts/sim/devices';
import { XenbusState } from '../../../src/model/xenbus';
import { openSimState, runningWithDrivers, shape } from '../sim-fixture';

t.test('hot-plug: a plugged disk and vif join the guest\'s shape; a replugged disk has the same image', async (t) => {
  const o = await openSimState(t);
  const dev = new SimDevices(o.st);
  const ref = await o.life.createGuest(shape(), 'i');
  const g = o.st.guest(ref);
  t.equal(await dev.hotplug.attachVbd(ref, { vdev: 'xvdb', sizeMiB: 8, mode: 'w', backend: {} }), 'vbd/51728');
  t.equal(await dev.hotplug.attachVif(ref, { devid: 1, backend: {} }), 'vif/1');
  t.same(g.shape.vbds.map((v) => v.vdev), ['xvda', 'xvdb']);
  t.same(g.shape.vifs.map((v) => v.devid), [0, 1]);
  const image = o.st.ts().record(ref.domid, 'vbd/51728')?.disk;
  t.ok(image, 'the disk has an image');
  await dev.hotplug.detach(ref, 'vbd/51728', { surprise: true });
  t.equal(o.st.ts().record(ref.domid, 'vbd/51728'), undefined, 'detached');
  t.equal(dev.backendState(ref, 'vbd/51728'), undefined, 'no backend state for a device that is gone');
  await dev.hotplug.attachVbd(ref, { vdev: 'xvdb', sizeMiB: 8, mode: 'w', backend: {} });
  t.equal(o.st.ts().record(ref.domid, 'vbd/51728')?.disk, image, 'the same image plugged back');
  t.same(g.shape.vbds.map((v) => v.vdev), ['xvda', 'xvdb'], 'listed once');
  await t.rejects(dev.hotplug.detach(ref, 'vif/7', { surprise: false }), { code: 'SIM_NO_DEVICE' });
});

t.test('backend control: a forced state reaches the backend; a device the guest lacks is refused', async (t) => {
  const o = await openSimState(t);
  const dev = new SimDevices(o.st);
  const ref = await o.life.createGuest(shape(), 'i');
  t.equal(dev.backendControl.restartKind, 'reprobe');
  t.equal(dev.backendState(ref, 'vif/0'), XenbusState.InitWait, 'the backend probed and waits for the frontend');
  await dev.backendControl.forceBackendState(ref, 'vif/0', XenbusState.Closed);
  t.equal(dev.backendState(ref, 'vif/0'), XenbusState.Closed);
  await t.rejects(dev.backendControl.forceBackendState(ref, 'vif/3', XenbusState.Closed), { code: 'SIM_NO_DEVICE', message: /win1 has no vif\/3/ });
  await t.rejects(dev.backendControl.restartBackend(ref, 'vbd/51728'), { code: 'SIM_NO_DEVICE' });
  await t.rejects(dev.backendControl.restartBackend({ name: 'nobody', domid: 0, handle: 'i/nobody' }, 'vif/0'), { code: 'SIM_NO_GUEST' });
});

t.test('restart: the backend closes with the frontend and a fresh one connects again', async (t) => {
  const o = await openSimState(t);
  const dev = new SimDevices(o.st);
  const ref = await runningWithDrivers(o);
  t.equal(dev.backendState(ref, 'vbd/51712'), XenbusState.Connected);
  const before = o.st.ts().record(ref.domid, 'vbd/51712')!.backend;
  await dev.backendControl.restartBackend(ref, 'vbd/51712');
  await o.st.hv.sched.sleep(200 + o.st.guest(ref).dom.timings.backendReactionMs * 3); // Initialising, Initialised, Connected
  t.not(o.st.ts().record(ref.domid, 'vbd/51712')!.backend, before, 'a new backend');
  t.equal(dev.backendState(ref, 'vbd/51712'), XenbusState.Connected, 'connected again');
});

t.test('ring source: both ends of every live ring; none for an unknown guest or one not yet connected', async (t) => {
  const o = await openSimState(t);
  const src = new SimDevices(o.st).ringSource();
  const idle = await o.life.createGuest(shape({ name: 'idle' }), 'i');
  t.same(src.guestRings(idle), [], 'no driver bound: no ring');
  t.same(src.guestRings({ name: 'nobody', domid: 0, handle: 'x/nobody' }), []);
  const notified: string[] = [];
  src.onRingNotify((domid, d, q, ring) => notified.push(`${domid}:${d}:${q}:${ring}`));
  const ref = await runningWithDrivers(o);
  const rings = src.guestRings(ref);
  const ids = rings.map((r) => `${r.id.dev}/${r.id.queue}/${r.id.ring}`);
  t.ok(ids.includes('vbd/51712/0/blk'), `the disk's ring (${ids.join(', ')})`);
  t.ok(ids.some((i) => i.startsWith('vif/0/0/')), 'the vif\'s rings');
  for (const r of rings) {
    t.ok(r.nrEnts > 0 && r.mem.length > 0, `${r.id.dev} ${r.id.ring}: the shared page`);
    t.type(r.reqCons, 'number', `${r.id.dev} ${r.id.ring}: the backend's private index`);
  }
  const one = src.guestRing(ref, rings[0]!.id);
  t.same(one?.id, rings[0]!.id, 'one ring found directly');
  t.equal(src.guestRing(ref, { dev: 'vbd/51712', queue: 9, ring: 'blk' }), undefined, 'no such queue');
  t.equal(src.guestByDomid(ref.domid)?.handle, 'inst1/win1');
  t.equal(src.guestByDomid(999), undefined);
  t.type(src.backendStats(ref, 'vbd/51712'), 'object', 'the backend\'s counters');
  t.equal(src.backendStats(ref, 'vbd/51999'), null, 'no device: no counters');
  t.ok(notified.some((n) => n.startsWith(`${ref.domid}:`)), 'ring notifications reach the listener');
});
