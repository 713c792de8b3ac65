// SimHost: the embedded simulated Xen host behind `--host sim`. It runs the simulator of sim/
// (hypervisor, xenstored, toolstack, Linux-style backends, spec-driven Windows frontends) in
// virtual time and implements HostBackend with every capability the simulator has. It reports
// guest lifecycle, ring.io, grants audits, fault switches and backend counters to the trace; the
// xenstore and ring samples come from the run's probes through `xenstore` and `rings`.
//
// This object opens the simulator and composes the parts, each with one job: lifecycle.ts (create,
// start, reboot, shut down, destroy, crash, bug check), devices.ts (hot-plug, backend controls, the
// rings the ring view reads), moves.ts (suspend/resume, save/restore, migrate, snapshots),
// guest-transport.ts (the guest agent; its workloads in workloads.ts), faults.ts (fault injection);
// they share host-state.ts (the simulator once open, the trace, the run's guests).
import type { Socket } from 'node:net';
import { FAULTS, type Capability, type FaultName } from '../../model/catalog';
import type {
  BackendControlCapability, BugcheckCapability, FaultCapability, GuestAgent, GuestPowerState, GuestRef, HostBackend,
  HostClock, HotplugCapability, XenifaceStoreCapability, MigrateCapability, RebootOptions, SaveRestoreCapability, SnapshotCapability, SuspendCapability,
} from '../../model/host';
import type { DeviceRef, GuestShape } from '../../model/scenario';
import type { RingIoEvent, TraceEventInput, TraceSink } from '../../model/trace';
import { hostError, WinpvError } from '../../model/errors';
import { XenbusState } from '../../model/xenbus';
import type { Hypervisor } from '../../sim/hypervisor';
import type { SimXenstore } from '../../sim/xs-adapter';
import type { Toolstack } from '../../sim/toolstack';
import { SimRingView, type SimXenstoreView } from './views';
import { SimFaultInjector } from './faults';
import type { FaultTarget, SimGuest } from './sim-guest';
import { SimState, type SimHostOptions } from './host-state';
import { SimLifecycle } from './lifecycle';
import { SimDevices } from './devices';
import { SimMoves } from './moves';
import { SimGuestTransport } from './guest-transport';

export type { SimGuest } from './sim-guest';
export type { SimHostOptions, SimBuildProperties } from './host-state';

export const SIM_CAPABILITIES: Capability[] = [
  'hotplug', 'suspend', 'save-restore', 'migrate', 'snapshot', 'backend-control', 'backend-keys', 'destination-backend-keys', 'fault-injection', 'ring-ids', 'grant-audit', 'windows-guest', 'balloon', 'xeniface-store', 'guest-bugcheck', 'guest-agent',
  'vendor-installer', 'driver-uninstall', 'driver-staging', 'nic-settings', 'platform-device', 'vendor-packages', 'disk-backend',
];

export class SimHost implements HostBackend, FaultTarget {
  readonly kind = 'sim' as const;
  readonly label = 'sim';
  readonly capabilities: ReadonlySet<Capability> = new Set(SIM_CAPABILITIES);
  /** A reboot builds the guest a new domain, as xl and xapi do (lifecycle.ts rebuild). */
  readonly rebootMakesNewDomain = true;
  readonly clock: HostClock;
  readonly faultInjector: SimFaultInjector;

  readonly hotplug: HotplugCapability;
  readonly suspend: SuspendCapability;
  readonly saveRestore: SaveRestoreCapability;
  readonly migrate: MigrateCapability;
  readonly snapshot: SnapshotCapability;
  readonly backendControl: BackendControlCapability;
  readonly faults: FaultCapability;
  readonly xenifaceStore: XenifaceStoreCapability;
  readonly bugcheck: BugcheckCapability;
  readonly rings: SimRingView;
  private readonly st: SimState;
  private readonly lifecycle: SimLifecycle;
  private readonly devices: SimDevices;
  private readonly transport: SimGuestTransport;

  constructor(readonly opts: SimHostOptions) {
    const st = (this.st = new SimState(opts));
    this.clock = {
      now: () => st.hvIfOpen?.sched.now() ?? 0,
      sleep: (ms) => (st.hvIfOpen ? st.hvIfOpen.sched.sleep(ms) : Promise.reject(hostError('SIM_NOT_OPEN', 'the simulated host is not open'))),
    };
    this.faultInjector = new SimFaultInjector(this);
    this.lifecycle = new SimLifecycle(st, (g) => this.faultInjector.applyPending(g));
    this.devices = new SimDevices(st);
    const moves = new SimMoves(st, (g, how) => this.lifecycle.shutdownGuest(g, how));
    this.transport = new SimGuestTransport(st);
    this.hotplug = this.devices.hotplug;
    this.backendControl = this.devices.backendControl;
    this.suspend = moves.suspend;
    this.saveRestore = moves.saveRestore;
    this.migrate = moves.migrate;
    this.snapshot = moves.snapshot;
    this.bugcheck = this.lifecycle.bugcheck;
    this.xenifaceStore = { request: (g, r) => st.guest(g).win.xenifaceRequest(r.op, r.path, r.value) };
    this.faults = { supported: new Set(Object.keys(FAULTS) as FaultName[]), inject: (f, g) => this.faultInjector.inject(f, g) };
    this.rings = new SimRingView(this.devices.ringSource());
  }

  get hv(): Hypervisor {
    return this.st.hv;
  }

  get xenstore(): SimXenstoreView {
    return this.st.xenstore;
  }

  get xenstored(): SimXenstore {
    return this.st.xenstored;
  }

  get guests(): ReadonlyMap<string, SimGuest> {
    return this.st.guests;
  }

  ts(): Toolstack {
    return this.st.ts();
  }

  emit(e: TraceEventInput): void {
    this.st.emit(e);
  }

  async open(trace: TraceSink, opts: { seed: number; artifactsDir?: string }): Promise<void> {
    const st = this.st;
    const hv = await st.open(trace, opts);
    this.faultInjector.installHooks();
    await st.dom0.xs.write('/local/domain/0/name', 'Domain-0');
    await st.dom0.xs.write('/local/domain/0/domid', '0');
    hv.report.add({
      ringIo: (e) => {
        const g = st.byDomid(e.domid);
        if (!g) return;
        // ops and statuses assigned in the trace's key order, without a throwaway object per spread
        const io: Omit<RingIoEvent, 'seq' | 't'> = { ev: 'ring.io', inst: g.inst, guest: g.ref.name, dev: e.dev, queue: e.queue, ring: e.ring, dir: e.dir, ids: [e.id] };
        if (e.op !== undefined) io.ops = [e.op];
        if (e.status !== undefined) io.statuses = [e.status];
        st.emit(io);
      },
      deviceClosed: (domid, dev) => {
        const g = st.byDomid(domid);
        if (!g) return;
        st.audit(g, 'device-closed', dev);
        st.emitStats(g, dev);
      },
      log: (level, msg) => {
        if (level === 'debug') return;
        st.emit({ ev: 'log', level, msg });
      },
    });
  }

  async healthy(): Promise<boolean> {
    return this.st.isOpen && this.st.sink !== undefined;
  }

  async close(): Promise<void> {
    await this.lifecycle.destroyAll();
    this.st.hvIfOpen?.sched.stop();
    this.st.hvIfOpen?.releaseDisks();
    this.st.sink = undefined;
  }

  guest(ref: GuestRef): SimGuest {
    return this.st.guest(ref);
  }

  createGuest(shape: GuestShape, inst: string): Promise<GuestRef> {
    return this.lifecycle.createGuest(shape, inst);
  }

  startGuest(ref: GuestRef): Promise<void> {
    return this.lifecycle.startGuest(ref);
  }

  rebootGuest(ref: GuestRef, opts?: RebootOptions): Promise<void> {
    return this.lifecycle.rebootGuest(ref, opts);
  }

  shutdownGuest(ref: GuestRef, how: 'clean' | 'hard'): Promise<void> {
    return this.lifecycle.shutdownGuest(ref, how);
  }

  keepGuest(ref: GuestRef): Promise<void> {
    return this.lifecycle.keepGuest(ref);
  }

  destroyGuest(ref: GuestRef): Promise<void> {
    return this.lifecycle.destroyGuest(ref);
  }

  powerState(ref: GuestRef): Promise<GuestPowerState> {
    return this.lifecycle.powerState(ref);
  }

  /** Crashes a guest now (the guest-crash fault). */
  crash(g: SimGuest, reason = 'injected'): void {
    this.lifecycle.crash(g, reason);
  }

  /** The simulated xenstored on a unix socket, as `winpv xenstored` serves its own (every client is dom0). */
  async serveXenstore(socketPath: string): Promise<() => Promise<void>> {
    const net = await this.xenstored.server.listen(socketPath);
    const clients = new Set<Socket>();
    net.on('connection', (c: Socket) => {
      clients.add(c);
      c.once('close', () => clients.delete(c));
    });
    return async () => {
      for (const c of clients) c.destroy();
      await new Promise<void>((done) => net.close(() => done()));
    };
  }

  homePath(ref: GuestRef): string {
    return `/local/domain/${this.guest(ref).dom.domid}`;
  }

  agent(ref: GuestRef): GuestAgent {
    return this.transport.agent(ref);
  }

  detachDevice(ref: GuestRef, dev: DeviceRef, surprise: boolean): Promise<void> {
    return this.devices.detachDevice(ref, dev, surprise);
  }

  /** The backend's state of a device, as `xenstore-read <backend>/state` would show it, for tests. */
  async backendState(ref: GuestRef, dev: DeviceRef): Promise<number | undefined> {
    return this.devices.backendState(ref, dev);
  }

  static readonly XenbusState = XenbusState;
}

export function isSimHost(h: unknown): h is SimHost {
  return h instanceof SimHost;
}

export { WinpvError };
