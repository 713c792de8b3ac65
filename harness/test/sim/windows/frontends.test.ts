// The frontends of a simulated Windows guest (sim/windows/frontends.ts), driven directly over a
// guest's domain and toolstack: one frontend per device directory while the guest scans, dropped when
// the directory goes; the boot disk's usage keys; fault switches reaching live frontends; the
// vif-rescan-lost fault; a frontend that cannot start said as an error.
import t, { type Test } from 'tap';
import { GuestFrontends, type FrontendsGuest } from '../../../src/sim/windows/frontends';
import { GuestKeys } from '../../../src/sim/windows/guest-keys';
import { noGuestFaults } from '../../../src/sim/faults';
import { xenvbdTargetId } from '../../../src/sim/frontend/xenvbd';
import type { DriverName } from '../../../src/model/spec';
import type { GuestShape } from '../../../src/model/scenario';
import { XenbusState } from '../../../src/model/xenbus';
import { connectedWithin, openSimState, shape, specs } from '../../hosts/sim-fixture';

/** A running guest with no PV drivers installed, so its own Windows leaves the device directories alone,
 *  and frontends of ours over them. */
async function frontendsOf(t: Test, s: GuestShape = shape(), keys?: GuestKeys) {
  const o = await openSimState(t);
  const ref = await o.life.createGuest(s, 'i');
  await o.life.startGuest(ref);
  const g = o.st.guest(ref);
  const logs: string[] = [];
  const scanning = { vbd: true, vif: true };
  const guest: FrontendsGuest = {
    dom: () => g.dom,
    shape: g.shape,
    toolstack: o.st.ts(),
    faults: noGuestFaults(),
    keys: keys ?? new GuestKeys(() => g.dom, specs),
    spec: (name: DriverName) => specs.get(name)!,
    scans: (type) => scanning[type],
    log: (level, msg) => logs.push(`${level}: ${msg}`),
  };
  const fes = new GuestFrontends(guest);
  t.teardown(() => fes.detachAll());
  // both ends Connected (the backends take sim/timings.ts's reaction to follow), then what follows the connect
  const settle = async () => {
    const xs = o.st.dom0.xs;
    await connectedWithin({ read: (p) => xs.read(p), directory: (p) => xs.directory(p), sleep: (ms) => o.st.hv.sched.sleep(ms) }, g.dom.domid, 5000);
    await o.st.hv.sched.sleep(200);
  };
  const read = (p: string) => g.dom.xs.read(`${g.dom.home}/${p}`);
  return { ...o, ref, g, guest, fes, logs, scanning, settle, read };
}

t.test('a frontend per device directory, connected; none while the guest does not scan', async (t) => {
  const f = await frontendsOf(t, shape({ registry: [{ driver: 'xenvbd', value: 'max-ring-page-order', data: 0 }] }));
  f.scanning.vbd = false;
  await f.fes.scan('vbd');
  t.equal(f.fes.live.size, 0, 'xenvbd not bound: no frontend');
  f.scanning.vbd = true;
  await f.fes.scan('vbd');
  await f.fes.scan('vif');
  await f.fes.scan('vbd');
  t.same([...f.fes.live.keys()].sort(), ['vbd/51712', 'vif/0'], 'one each, a second scan adds none');
  t.same(f.fes.live.get('vbd/51712')!.registry, f.g.shape.registry, 'the guest\'s registry parameters');
  await f.settle();
  t.equal(await f.read('device/vbd/51712/state'), String(XenbusState.Connected));
  t.equal(await f.read('device/vif/0/state'), String(XenbusState.Connected));
  const target = xenvbdTargetId(51712);
  t.equal(await f.read(`data/scsi/target/${target}/paging`), '1', 'the boot disk holds the page file');
  t.equal(await f.read(`data/scsi/target/${target}/dump`), '1', 'and the crash dump');
  t.equal(await f.read('attr/vif/0/name'), 'Ethernet');
  t.same(f.logs.filter((l) => l.startsWith('error')), []);
});

t.test('a removed directory\'s frontend is dropped at the next scan; a later disk gets no usage keys', async (t) => {
  const f = await frontendsOf(t);
  await f.fes.scan('vbd');
  await f.settle();
  await f.st.ts().addVbd(f.g.dom, { vdev: 'xvdb', sizeMiB: 8, mode: 'w', backend: {} });
  await f.fes.scan('vbd');
  await f.settle();
  t.ok(f.fes.live.has('vbd/51728'));
  t.not(await f.read(`data/scsi/target/${xenvbdTargetId(51728)}/paging`), '1', 'not the boot disk');
  await f.st.ts().removeDevice(f.g.dom, 'vbd/51728', { surprise: true });
  await f.fes.scan('vbd');
  t.same([...f.fes.live.keys()], ['vbd/51712']);
});

t.test('fault switches reach live frontends and those made later; a merged set once refreshed', async (t) => {
  const f = await frontendsOf(t);
  await f.fes.scan('vbd');
  await f.fes.scan('vif');
  f.fes.deviceFaults('vif/0').grantLeak = true;
  t.equal(f.fes.live.get('vif/0')!.faults.grantLeak, true, 'the device\'s own switch');
  t.equal(f.fes.live.get('vbd/51712')!.faults.grantLeak, false, 'not another device\'s');
  f.fes.deviceFaults('*').skipState = true;
  t.equal(f.fes.live.get('vbd/51712')!.faults.skipState, true, 'a guest-wide switch on a live frontend');
  t.equal(f.fes.live.get('vif/0')!.faults.skipState, false, 'a device with switches of its own has them merged: not yet');
  f.fes.refreshFaults();
  t.match(f.fes.live.get('vif/0')!.faults, { skipState: true, grantLeak: true }, 'refreshed: both');
  await f.st.ts().addVbd(f.g.dom, { vdev: 'xvdb', sizeMiB: 8, mode: 'w', backend: {} });
  await f.fes.scan('vbd');
  t.equal(f.fes.live.get('vbd/51728')!.faults.skipState, true, 'a frontend made later');
});

t.test('vif-rescan-lost: once the last VIF goes, a new one is not enumerated (and it is said); without it, it is', async (t) => {
  for (const lost of [false, true]) {
    const f = await frontendsOf(t);
    f.guest.faults.vifRescanLost = lost;
    await f.fes.scan('vif');
    await f.settle();
    await f.st.ts().removeDevice(f.g.dom, 'vif/0', { surprise: true });
    await f.fes.scan('vif');
    t.equal(f.fes.live.size, 0, 'the last VIF dropped');
    await f.st.ts().addVif(f.g.dom, { devid: 1, backend: {} });
    await f.fes.scan('vif');
    t.equal(f.fes.live.has('vif/1'), !lost, lost ? 'the fault: the new VIF is not seen' : 'the new VIF is enumerated');
    t.equal(f.fes.vifScanStopped, lost);
    t.equal(f.logs.some((l) => /warn: xenvif: last VIF removed; no longer scanning/.test(l)), lost);
  }
});

t.test('a frontend that cannot start is said as an error, naming its device', async (t) => {
  const refusing = { writeGuestKey: async () => { throw new Error('permission denied'); } } as unknown as GuestKeys;
  const f = await frontendsOf(t, shape(), refusing);
  await f.fes.scan('vif');
  await f.settle();
  t.same(f.logs, ['error: vif/0: permission denied']);
  t.not(await f.read('device/vif/0/state'), String(XenbusState.Connected), 'not connected');
});

t.test('after a move a frontend starts from what its predecessor negotiated; detachAll forgets them all', async (t) => {
  const f = await frontendsOf(t);
  // the stale-backend-features fault answers from what was negotiated before the move
  f.fes.negotiatedBefore.set('vif/0', new Map([['multi-queue-max-queues', '1']]));
  f.fes.deviceFaults('*').staleBackendFeatures = true;
  await f.fes.scan('vif');
  await f.settle();
  t.equal(await f.st.dom0.xs.read(`${f.fes.live.get('vif/0')!.backendPath}/multi-queue-max-queues`), '4', 'the backend offers 4');
  t.equal(f.fes.live.get('vif/0')!.negotiated.get('multi-queue-max-queues'), '1', 'the frontend took what it had before');
  await f.fes.detachAll();
  t.equal(f.fes.live.size, 0);
});
