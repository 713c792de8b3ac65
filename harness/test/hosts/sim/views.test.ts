// The probe surfaces of the simulated host (hosts/sim/views.ts): the xenstore view delivers each
// watch event with the value as it was when the key changed (two writes at one instant are two
// values, in order), a missing directory is empty and a missing key's removal no error; the ring view
// reads ring.h's header from the shared page and both private consumers, and maps notifications to guests.
import t from 'tap';
import { SimRingView, type RingSource } from '../../../src/hosts/sim/views';
import type { GuestRef, RingId, RingIndices } from '../../../src/model/host';
import type { DeviceRef } from '../../../src/model/scenario';
import { openSimState } from '../sim-fixture';

t.test('xenstore view: every change with its value at the time, in order; off stops them', async (t) => {
  const { st } = await openSimState(t);
  const view = st.xenstore;
  // the view answers xenstored's watch-event hook for its own tokens (SimHost installs it through faults.ts)
  st.xenstored.hooks.onWatchEvent = (domid, path, token) => view.intercept(domid, path, token) ?? 'deliver';
  const seen: string[] = [];
  const off = await view.watch('/local/domain/0/winpv-test', (p, v) => seen.push(`${p}=${v}`));
  await st.hv.sched.sleep(10);
  seen.length = 0; // the watch's first event (Xen fires one on registration)
  await st.dom0.xs.write('/local/domain/0/winpv-test/a', '1');
  await st.dom0.xs.write('/local/domain/0/winpv-test/a', '2');
  await st.dom0.xs.rm('/local/domain/0/winpv-test/a');
  await st.hv.sched.sleep(10);
  t.same(seen, ['/local/domain/0/winpv-test/a=1', '/local/domain/0/winpv-test/a=2', '/local/domain/0/winpv-test/a=null'], 'each value as written, then gone');
  await off();
  await st.dom0.xs.write('/local/domain/0/winpv-test/a', '3');
  await st.hv.sched.sleep(10);
  t.equal(seen.length, 3, 'nothing after off');
  t.equal(await view.read('/local/domain/0/winpv-test/a'), '3');
});

t.test('xenstore view: a missing directory is empty, a missing key\'s removal is no error, other errors are', async (t) => {
  const { st } = await openSimState(t);
  const view = st.xenstore;
  t.same(await view.directory('/local/domain/0/nothing-here'), []);
  await t.resolves(view.rm('/local/domain/0/nothing-here'));
  await view.write('/local/domain/0/k', 'v');
  t.same(await view.directory('/local/domain/0/k'), []);
  await t.rejects(view.directory('/local//domain'), /EINVAL/, 'an invalid path is an error, not an empty directory');
  await t.rejects(view.rm('/local//domain'), /EINVAL/, 'nor a removal that did nothing');
});

/** A ring source over one hand-made ring page of guest `win1` (domid 5). */
function source(reqCons?: number) {
  const mem = Buffer.alloc(64);
  mem.writeUInt32LE(7, 0); // req_prod
  mem.writeUInt32LE(8, 4); // req_event
  mem.writeUInt32LE(5, 8); // rsp_prod
  mem.writeUInt32LE(6, 12); // rsp_event
  const guest: GuestRef = { name: 'win1', domid: 5, handle: 'i/win1' };
  const id: RingId = { dev: 'vbd/51712', queue: 0, ring: 'blk' };
  let notify: ((domid: number, dev: DeviceRef, queue: number, ring: RingId['ring']) => void) | undefined;
  const src: RingSource = {
    guestRings: (g) => (g.handle === guest.handle ? [{ id, mem, nrEnts: 32, rspCons: 4, ...(reqCons !== undefined ? { reqCons } : {}) }] : []),
    guestRing: (g, r) => (g.handle === guest.handle && r.dev === id.dev && r.queue === id.queue && r.ring === id.ring ? { id, mem, nrEnts: 32, rspCons: 4, ...(reqCons !== undefined ? { reqCons } : {}) } : undefined),
    guestByDomid: (d) => (d === 5 ? guest : undefined),
    backendStats: (_g, dev) => (dev === id.dev ? { rd_req: 3 } : null),
    onRingNotify: (cb) => {
      notify = cb;
      return () => (notify = undefined);
    },
  };
  return { src, guest, id, mem, fire: (domid: number) => notify?.(domid, id.dev, 0, 'blk') };
}

t.test('ring view: ring.h header from the shared page, both private consumers; an unknown ring is null', async (t) => {
  const { src, guest, id } = source(6);
  const view = new SimRingView(src);
  t.same(await view.rings(guest), [id]);
  t.same(await view.sample(guest, id), { nr_ents: 32, req_prod: 7, req_event: 8, rsp_prod: 5, rsp_event: 6, rsp_cons: 4, req_cons: 6 });
  t.equal(await view.sample(guest, { ...id, queue: 1 }), null);
  t.same(await view.backendStats(guest, id.dev), { rd_req: 3 });
  const noBackend = new SimRingView(source().src);
  t.notOk('req_cons' in ((await noBackend.sample(guest, id)) ?? {}), 'no backend ring: no req_cons');
});

t.test('ring view: a notification reaches the callback with its guest and the indices then; an unknown domain\'s is dropped', async (t) => {
  const { src, guest, id, mem, fire } = source(6);
  const view = new SimRingView(src);
  const got: [GuestRef, RingId, RingIndices | null | undefined][] = [];
  const off = view.onNotify((g, r, now) => got.push([g, r, now]));
  mem.writeUInt32LE(9, 0);
  fire(5);
  fire(77);
  t.equal(got.length, 1, 'only the known guest\'s');
  t.same(got[0]![0], guest);
  t.same(got[0]![1], id);
  t.equal(got[0]![2]?.req_prod, 9, 'the indices at the notification');
  off();
  fire(5);
  t.equal(got.length, 1, 'off: no more');
});
