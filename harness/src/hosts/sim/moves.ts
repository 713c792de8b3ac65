// Moving a simulated guest's domain: cooperative suspend and resume (in place, or onto a destination
// whose backends offer other keys), save and restore into a new domain, migration (a save and a
// restore on the one simulated host) and disk snapshots with revert.
import type {
  DestinationOptions, GuestRef, MigrateCapability, SaveRestoreCapability, SnapshotCapability, SuspendCapability,
} from '../../model/host';
import type { DeviceRef, VbdShape, VifShape } from '../../model/scenario';
import { hostError } from '../../model/errors';
import { vdevToDevid } from '../../model/vdev';
import type { SparseDisk } from '../../sim/disk';
import type { SimState } from './host-state';
import type { SimGuest } from './sim-guest';
import { HOST_TIMINGS } from '../../sim/timings';

/** How long a cooperative suspend may take before the host gives up (virtual ms). */
const SUSPEND_TIMEOUT_MS = HOST_TIMINGS.suspendTimeoutMs;

interface SavedImage {
  guest: SimGuest;
  disks: Map<string, SparseDisk>;
}

/** The guest lands on a destination whose backends offer other keys: its shape (copied, never the
 *  scenario's) says so from now on, for the devices built at the restore and at later reboots.
 *  Returns the devices given other keys. */
export function landOn(g: SimGuest, dest: DestinationOptions['destination']): DeviceRef[] {
  if (!dest?.length) return [];
  const keys = new Map(dest.map((d) => [d.device, d.backend]));
  const over = <T extends { backend: Record<string, string> }>(dev: DeviceRef, x: T): T => (keys.has(dev) ? { ...x, backend: { ...x.backend, ...keys.get(dev) } } : x);
  const vbds = g.shape.vbds.map((v) => over(`vbd/${vdevToDevid(v.vdev)}` as DeviceRef, v));
  const vifs = g.shape.vifs.map((v) => over(`vif/${v.devid}` as DeviceRef, v));
  const known = new Set<string>([...g.shape.vbds.map((v) => `vbd/${vdevToDevid(v.vdev)}`), ...g.shape.vifs.map((v) => `vif/${v.devid}`)]);
  for (const d of keys.keys()) if (!known.has(d)) throw hostError('SIM_NO_DEVICE', `${g.ref.name} has no ${d} to give a destination backend`);
  g.shape = { ...g.shape, vbds, vifs };
  return [...keys.keys()];
}

export class SimMoves {
  readonly suspend: SuspendCapability;
  readonly saveRestore: SaveRestoreCapability;
  readonly migrate: MigrateCapability;
  readonly snapshot: SnapshotCapability;
  private images = new Map<string, SavedImage>();
  private snapshots = new Map<string, { guest: string; disks: Map<string, SparseDisk> }>();
  private nextImage = 1;

  /** `shutdown` halts a guest (a revert of a running guest's snapshot does first). */
  constructor(
    private readonly st: SimState,
    private readonly shutdown: (ref: GuestRef, how: 'hard') => Promise<void>,
  ) {
    this.suspend = { suspend: (g) => this.suspendGuest(g), resume: (g, o) => this.resumeGuest(g, o) };
    this.saveRestore = { save: (g) => this.save(g), restore: (g, img, o) => this.restore(g, img, o) };
    this.migrate = { migrate: (g, _target, o) => this.migrateGuest(g, o) };
    this.snapshot = {
      snapshot: (g, label) => this.takeSnapshot(g, label),
      revert: (g, s) => this.revert(g, s),
      deleteSnapshot: async (s) => void this.snapshots.delete(s),
    };
  }

  private async suspendGuest(ref: GuestRef, opts: { inPlace: boolean } = { inPlace: true }): Promise<void> {
    const st = this.st;
    const g = st.guest(ref);
    if (g.power !== 'running') throw hostError('SIM_NOT_RUNNING', `${ref.name} is ${g.power}`);
    const xs = st.dom0.xs;
    await xs.write(`${g.dom.home}/control/shutdown`, 'suspend');
    const deadline = st.hv.sched.now() + SUSPEND_TIMEOUT_MS;
    while (g.dom.state !== 'suspended') {
      if (st.hv.sched.now() >= deadline || g.dom.state === 'crashed') throw hostError('SIM_SUSPEND_TIMEOUT', `${ref.name} did not suspend within ${SUSPEND_TIMEOUT_MS} ms`);
      await st.hv.sched.sleep(10);
    }
    g.power = 'suspended';
    st.lifecycle(g, 'suspended');
    // Then the toolstack resets the backends for the resume and clears the guest's feature flags,
    // so it can tell when the resumed guest is ready again (the guest rewrites control/feature-suspend).
    if (opts.inPlace) {
      for (const rec of st.ts().devicesOf(g.dom.domid)) await st.ts().resetBackend(g.dom, rec.dev);
      await xs.rm(`${g.dom.home}/control/feature-suspend`);
    }
  }

  private async resumeGuest(ref: GuestRef, opts: DestinationOptions = {}): Promise<void> {
    const st = this.st;
    const g = st.guest(ref);
    if (g.power !== 'suspended') throw hostError('SIM_NOT_SUSPENDED', `${ref.name} is ${g.power}`);
    // resumed on other backends: each named device gets a fresh backend with the destination's keys
    for (const dev of landOn(g, opts.destination)) {
      const rec = st.ts().record(g.dom.domid, dev);
      if (!rec) continue;
      rec.shape = 'vdev' in rec.shape ? g.shape.vbds.find((v) => v.vdev === (rec.shape as VbdShape).vdev)! : g.shape.vifs.find((v) => v.devid === (rec.shape as VifShape).devid)!;
      await st.ts().resetBackend(g.dom, dev);
    }
    g.dom.setState('running');
    g.power = 'running';
    st.lifecycle(g, 'resumed');
    await g.win.resumed();
  }

  private async save(ref: GuestRef): Promise<string> {
    const st = this.st;
    const g = st.guest(ref);
    await this.suspendGuest(ref, { inPlace: false });
    const disks = st.disksOf(g);
    const id = `sim-image:${this.nextImage++}`;
    this.images.set(id, { guest: g, disks });
    await st.ts().destroyDevices(g.dom);
    await st.hv.destroyDomain(g.dom.domid, { keepMemory: true });
    g.power = 'halted';
    st.lifecycle(g, 'saved', { image: id });
    return id;
  }

  private async restore(_ref: GuestRef, image: string, opts: DestinationOptions = {}): Promise<GuestRef> {
    const st = this.st;
    const img = this.images.get(image);
    if (!img) throw hostError('SIM_NO_IMAGE', `no saved image '${image}'`);
    const g = img.guest;
    landOn(g, opts.destination);
    const old = g.dom.domid;
    const dom = await st.buildDomain(g.shape, { from: { memory: g.dom.memory, grants: g.dom.grants }, disks: img.disks });
    g.dom = dom;
    g.ref = { name: g.ref.name, domid: dom.domid, handle: g.ref.handle };
    this.images.delete(image);
    g.power = 'running';
    st.lifecycle(g, 'restored', { from: old, domid: dom.domid });
    // The restore returns with the domain built and paused; it is unpaused a moment later and the
    // guest reconnects on its own, as after `xl restore` (the caller's probes attach meanwhile).
    st.hv.sched.after(dom.timings.restoreDowntimeMs * 1000, () => {
      dom.setState('running');
      void g.win.resumed(dom).catch((e) => st.hv.report.log('error', `${g.ref.name}: resume after restore: ${(e as Error).message}`));
    });
    return { ...g.ref };
  }

  private async migrateGuest(ref: GuestRef, opts: DestinationOptions = {}): Promise<GuestRef> {
    const g = this.st.guest(ref);
    const old = g.dom.domid;
    const img = await this.save(ref);
    const nref = await this.restore(ref, img, opts);
    this.st.lifecycle(g, 'migrated', { from: old, domid: nref.domid });
    return nref;
  }

  private async takeSnapshot(ref: GuestRef, label: string): Promise<string> {
    const g = this.st.guest(ref);
    const disks = this.st.disksOf(g, (d) => d.clone());
    const id = `sim-snapshot:${label}:${this.nextImage++}`;
    this.snapshots.set(id, { guest: g.ref.name, disks });
    this.st.lifecycle(g, 'snapshot', { snapshot: id });
    return id;
  }

  private async revert(ref: GuestRef, snap: string): Promise<void> {
    const g = this.st.guest(ref);
    const s = this.snapshots.get(snap);
    if (!s || s.guest !== g.ref.name) throw hostError('SIM_NO_SNAPSHOT', `no snapshot '${snap}' of ${g.ref.name}`);
    // A revert leaves the VM halted with the snapshot's disks, as VM.revert of a disk-only snapshot does.
    if (g.power === 'running') await this.shutdown(ref, 'hard');
    for (const rec of this.st.ts().devicesOf(g.dom.domid)) {
      if (rec.disk && 'vdev' in rec.shape) rec.disk.replaceWith(s.disks.get(rec.shape.vdev)!.clone());
    }
    this.st.lifecycle(g, 'reverted', { snapshot: snap });
  }
}
