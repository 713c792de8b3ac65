// What the parts of the simulated host share (sim-host.ts composes them: lifecycle.ts, devices.ts,
// moves.ts, guest-transport.ts, workloads.ts, faults.ts): the simulator once open (hypervisor,
// xenstored, dom0, toolstack, the probes' xenstore view), the trace, the run's guests and the
// trace events more than one part writes about a guest.
import type { GuestRef } from '../../model/host';
import type { DeviceRef, DiskBackendType, GuestShape } from '../../model/scenario';
import type { SpecSet } from '../../model/spec';
import type { GuestLifecycle, TraceEventInput, TraceSink } from '../../model/trace';
import { hostError } from '../../model/errors';
import { Hypervisor, type Domain } from '../../sim/hypervisor';
import type { SparseDisk } from '../../sim/disk';
import type { GuestMemory } from '../../sim/memory';
import type { GrantTable } from '../../sim/grants';
import { guestTimings } from '../../sim/timings';
import { Scheduler } from '../../sim/scheduler';
import { simXenstore, type SimXenstore } from '../../sim/xs-adapter';
import { XenstoreClient } from '../../xenstore/client';
import { Toolstack } from '../../sim/toolstack';
import { VirtualBridge, Dom0Endpoint, parseMac } from '../../sim/bridge';
import { SimXenstoreView } from './views';
import type { SimGuest } from './sim-guest';

export interface SimHostOptions {
  /** The driver specs the frontends and the reference packages follow. */
  specs: SpecSet;
  /** Properties of simulated driver builds, by the version installed (`9.1.7` for builtin:9.1.7):
   *  `ioSlowdown` multiplies the disk's per-I/O service time while that build is installed, so a
   *  regression can be planted in one build and found by `winpv bisect`. No real behaviour: a
   *  simulator-only knob for demonstrating and testing history, regression and bisection. */
  builds?: Record<string, SimBuildProperties>;
  /** The backend of disks whose scenario names none: `vbd3` (tapdisk3, as a XenServer pool serves
   *  Windows disks) for a sim host entry labelled `vbd3`, else Linux blkback (`vbd`). */
  diskBackend?: DiskBackendType;
}

export interface SimBuildProperties {
  ioSlowdown?: number;
}

/** A part the simulator has once open; before that, SIM_NOT_OPEN. */
function opened<T>(part: T | undefined): T {
  if (part === undefined) throw hostError('SIM_NOT_OPEN', 'the simulated host is not open');
  return part;
}

export class SimState {
  private _hv?: Hypervisor;
  private xsd?: SimXenstore;
  private _dom0?: Domain;
  private toolstack?: Toolstack;
  private view?: SimXenstoreView;
  sink?: TraceSink;
  /** The run's `<report dir>/artifacts` (crash dumps and installer logs go there), when it keeps one. */
  artifactsDir?: string;
  /** The run's guests by handle, `<instance>/<guest>`. */
  readonly guests = new Map<string, SimGuest>();
  /** Guests --keep-on-failure kept past their instance, by domid: still running, their names free. */
  readonly kept = new Map<number, SimGuest>();
  private bridges = new Map<string, VirtualBridge>();
  // dom0's own port on the bridge uses the address Xen gives dom0 vifs (fe:ff:ff:ff:ff:ff).
  readonly dom0Endpoint = new Dom0Endpoint(parseMac('fe:ff:ff:ff:ff:ff'));

  constructor(readonly opts: SimHostOptions) {}

  /** Boots the simulator: hypervisor, xenstored and dom0 (named in xenstore), its toolstack and the probes' view. */
  async open(trace: TraceSink, opts: { seed: number; artifactsDir?: string }): Promise<Hypervisor> {
    this.sink = trace;
    this.artifactsDir = opts.artifactsDir;
    const sched = new Scheduler(opts.seed);
    this.xsd = simXenstore(sched);
    const hv = new Hypervisor(sched, this.xsd);
    this._hv = hv;
    hv.sched.onError = (e) => hv.report.log('error', `simulator: ${(e as Error).stack ?? String(e)}`);
    this._dom0 = await hv.boot();
    this.toolstack = new Toolstack(hv, this._dom0, (name) => this.bridge(name), this.opts.diskBackend);
    const viewClient = XenstoreClient.inProcess(this.xsd.server, 0);
    this.view = new SimXenstoreView(viewClient, this.xsd.server, hv.sched);
    return hv;
  }

  get isOpen(): boolean {
    return this._hv !== undefined;
  }

  /** The hypervisor, once open (undefined before: the clock reads 0 then). */
  get hvIfOpen(): Hypervisor | undefined {
    return this._hv;
  }

  get hv(): Hypervisor {
    return opened(this._hv);
  }

  get dom0(): Domain {
    return opened(this._dom0);
  }

  get xenstore(): SimXenstoreView {
    return opened(this.view);
  }

  get xenstored(): SimXenstore {
    return opened(this.xsd);
  }

  ts(): Toolstack {
    return opened(this.toolstack);
  }

  emit(e: TraceEventInput): void {
    this.sink?.emit(e);
  }

  /**
   * A guest's domain as the toolstack builds it from the guest's configuration: a new domid, its
   * xenstore keys and a backend per device, paused. How a guest is created, how a saved image is
   * restored (`from`: its memory and grant table) and how a reboot or a bug check's restart makes
   * the guest's next domain (xl's on_reboot="restart" and xapi both destroy the old domain and build
   * a new one). `disks`, by vdev, keep their contents over the rebuild.
   */
  async buildDomain(shape: GuestShape, opts: { from?: { memory: GuestMemory; grants: GrantTable }; disks?: Map<string, SparseDisk> } = {}): Promise<Domain> {
    const dom = await this.hv.createDomain(shape.name, opts.from);
    dom.timings = guestTimings(shape.timings);
    const ts = this.ts();
    await ts.createDomainKeys(dom, shape.name, shape.memoryMiB * 1024, (shape.memoryTargetMiB ?? shape.memoryMiB) * 1024);
    for (const vbd of shape.vbds) await ts.addVbd(dom, vbd, opts.disks?.get(vbd.vdev));
    for (const vif of shape.vifs) await ts.addVif(dom, vif);
    return dom;
  }

  /** The disks of a guest's devices, by vdev (each through `keep`: the disk itself, or a copy). */
  disksOf(g: SimGuest, keep: (d: SparseDisk) => SparseDisk = (d) => d): Map<string, SparseDisk> {
    const disks = new Map<string, SparseDisk>();
    for (const rec of this.ts().devicesOf(g.dom.domid)) if (rec.disk && 'vdev' in rec.shape) disks.set(rec.shape.vdev, keep(rec.disk));
    return disks;
  }

  /** The bridge a vif names, made on first use with dom0's port on it. */
  bridge(name: string): VirtualBridge {
    let b = this.bridges.get(name);
    if (!b) {
      b = new VirtualBridge(name);
      b.attach(this.dom0Endpoint);
      this.bridges.set(name, b);
    }
    return b;
  }

  byDomid(domid: number): SimGuest | undefined {
    for (const g of this.guests.values()) if (g.dom.domid === domid) return g;
    return undefined;
  }

  /** Guests are kept by handle, `<instance>/<guest>`, so instances sharing the host at once (a
   *  parallel run's bench) never meet; a ref without a handle (a fault naming a guest) finds the
   *  guest by name when only one guest has it. */
  find(ref: GuestRef): SimGuest | undefined {
    const g = this.guests.get(ref.handle);
    if (g) return g;
    const named = [...this.guests.values()].filter((x) => x.ref.name === ref.name);
    return named.length === 1 ? named[0] : undefined;
  }

  guest(ref: GuestRef): SimGuest {
    const g = this.find(ref);
    if (!g) throw hostError('SIM_NO_GUEST', `no guest '${ref.name}' on the simulated host`);
    return g;
  }

  lifecycle(g: SimGuest, what: GuestLifecycle, detail?: Record<string, string | number>): void {
    this.emit({ ev: 'guest', inst: g.inst, guest: g.ref.name, domid: g.dom.domid, what, ...(detail ? { detail } : {}) });
  }

  /** The domain's memory as Xen accounts it: the static maximum less what xenbus's balloon gave back. */
  emitMemory(g: SimGuest): void {
    const staticMaxKiB = g.shape.memoryMiB * 1024;
    const targetKiB = (g.shape.memoryTargetMiB ?? g.shape.memoryMiB) * 1024;
    const actualKiB = g.win.balloon?.actualKiB(staticMaxKiB) ?? staticMaxKiB;
    this.emit({ ev: 'memory', inst: g.inst, guest: g.ref.name, domid: g.dom.domid, targetKiB, staticMaxKiB, actualKiB });
  }

  audit(g: SimGuest, when: 'device-closed' | 'teardown', dev?: DeviceRef): void {
    const a = this.hv.grantOps.audit(g.dom.domid, dev);
    this.emit({ ev: 'grants', inst: g.inst, guest: g.ref.name, domid: g.dom.domid, ...(dev ? { dev } : {}), when, active: a.active, mapped: a.mapped, revokedWhileMapped: a.revokedWhileMapped });
  }

  emitStats(g: SimGuest, dev: DeviceRef): void {
    const rec = this.ts().record(g.dom.domid, dev);
    if (rec) this.emit({ ev: 'backend.stats', inst: g.inst, guest: g.ref.name, dev, stats: rec.backend.stats() });
  }
}
