// The simulated guests' devices: hot-plug (a detached disk keeps its image for the next plug), the
// backend controls (restart, forced state) and what the ring view reads of each device's rings.
import type { BackendControlCapability, GuestRef, HotplugCapability, RingId } from '../../model/host';
import type { DeviceRef, VbdShape, VifShape } from '../../model/scenario';
import { hostError } from '../../model/errors';
import type { SparseDisk } from '../../sim/disk';
import type { RingSource } from './views';
import type { SimState } from './host-state';
import type { SimGuest } from './sim-guest';

/** One live ring as the ring view samples it: the shared page and both ends' private indices. */
type RingSample = NonNullable<ReturnType<RingSource['guestRing']>>;

export class SimDevices {
  readonly hotplug: HotplugCapability;
  readonly backendControl: BackendControlCapability;
  /** Disks survive unplug/replug (the same image is plugged back), by `<guest>:<vdev>`. */
  private unpluggedDisks = new Map<string, SparseDisk>();

  constructor(private readonly st: SimState) {
    this.hotplug = {
      attachVbd: (g, vbd) => this.attachVbd(g, vbd),
      attachVif: (g, vif) => this.attachVif(g, vif),
      detach: (g, dev, o) => this.detachDevice(g, dev, o.surprise),
    };
    this.backendControl = {
      restartKind: 'reprobe',
      // async: an unknown guest is a rejected promise like every other refusal here, not a throw
      restartBackend: async (g, dev) => st.ts().restartBackend(st.guest(g).dom, dev),
      forceBackendState: async (g, dev, state) => {
        const rec = st.ts().record(st.guest(g).dom.domid, dev);
        if (!rec) throw hostError('SIM_NO_DEVICE', `${g.name} has no ${dev}`);
        await rec.backend.force(state);
      },
    };
  }

  private async attachVbd(ref: GuestRef, vbd: VbdShape): Promise<DeviceRef> {
    const g = this.st.guest(ref);
    if (!g.shape.vbds.some((v) => v.vdev === vbd.vdev)) g.shape.vbds.push(vbd);
    const rec = await this.st.ts().addVbd(g.dom, vbd, this.savedDisk(g, vbd.vdev));
    return rec.dev;
  }

  private async attachVif(ref: GuestRef, vif: VifShape): Promise<DeviceRef> {
    const g = this.st.guest(ref);
    if (!g.shape.vifs.some((v) => v.devid === vif.devid)) g.shape.vifs.push(vif);
    return (await this.st.ts().addVif(g.dom, vif)).dev;
  }

  private savedDisk(g: SimGuest, vdev: string): SparseDisk | undefined {
    const k = `${g.ref.name}:${vdev}`;
    const d = this.unpluggedDisks.get(k);
    this.unpluggedDisks.delete(k);
    return d;
  }

  async detachDevice(ref: GuestRef, dev: DeviceRef, surprise: boolean): Promise<void> {
    const g = this.st.guest(ref);
    const rec = this.st.ts().record(g.dom.domid, dev);
    if (rec?.disk && 'vdev' in rec.shape) this.unpluggedDisks.set(`${g.ref.name}:${rec.shape.vdev}`, rec.disk);
    await this.st.ts().removeDevice(g.dom, dev, { surprise });
  }

  /** The backend's state of a device (undefined: no such device). */
  backendState(ref: GuestRef, dev: DeviceRef): number | undefined {
    const rec = this.st.ts().record(this.st.guest(ref).dom.domid, dev);
    return rec ? rec.backend.state : undefined;
  }

  /** What the ring view reads of the guests' rings (the probes' sampling and notifications). */
  ringSource(): RingSource {
    const st = this.st;
    return {
      guestRings: (g) => this.guestRings(g),
      guestRing: (g, id) => this.guestRing(g, id),
      guestByDomid: (d) => st.byDomid(d)?.ref,
      backendStats: (g, dev) => st.ts().record(st.guest(g).dom.domid, dev)?.backend.stats() ?? null,
      onRingNotify: (cb) => st.hv.report.add({ ringNotify: cb }),
    };
  }

  /** One live ring of a guest, found directly (a sample is taken at every notification). */
  private guestRing(ref: GuestRef, id: RingId): RingSample | undefined {
    const g = this.st.find(ref);
    const fe = g?.win.frontends.get(id.dev);
    const r = fe?.liveRings().find((x) => x.queue === id.queue && x.name === id.ring && !x.isEnded);
    if (!g || !fe || !r) return undefined;
    const b = this.st.ts().record(g.dom.domid, fe.dev)?.backend.liveRings().find((x) => x.queue === r.queue && x.name === r.name && !x.closed);
    return { id: { dev: fe.dev, queue: r.queue, ring: r.name }, mem: r.mem, nrEnts: r.front.nrEnts, rspCons: r.front.rspCons, ...(b ? { reqCons: b.back.reqCons } : {}) };
  }

  private guestRings(ref: GuestRef): RingSample[] {
    const g = this.st.find(ref);
    if (!g) return [];
    const out: RingSample[] = [];
    for (const fe of g.win.frontends.values()) {
      const rec = this.st.ts().record(g.dom.domid, fe.dev);
      const back = rec?.backend.liveRings() ?? [];
      for (const r of fe.liveRings()) {
        if (r.isEnded) continue;
        const b = back.find((x) => x.queue === r.queue && x.name === r.name && !x.closed);
        out.push({ id: { dev: fe.dev, queue: r.queue, ring: r.name }, mem: r.mem, nrEnts: r.front.nrEnts, rspCons: r.front.rspCons, ...(b ? { reqCons: b.back.reqCons } : {}) });
      }
    }
    return out;
  }
}
