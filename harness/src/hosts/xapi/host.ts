// The XenAPI host backend (`xapi://user@pool-master`): Windows guests on a XenServer / XCP-ng pool.
// Lifecycle through XenAPI tasks, waits on event.from (never polling), every object tagged with the
// run so nothing is left behind, dom0 probes over SSH, Windows guests over OpenSSH + PowerShell.
//
// This object holds the session and composes the parts, each with one job: lifecycle.ts (build,
// start, reboot, destroy, crashes), moves.ts (suspend, save/restore, migrate, snapshot),
// devices.ts (hot-plug, backend control, data disk, ISOs), guest-transport.ts (finding a guest, its
// SSH and agent), dom0-access.ts (dom0 over SSH: probes' views, ntttcp); they share host-state.ts.
// Leases are lease.ts, used by the CLI around a run.
import type { BuiltinArtefacts } from '../../model/bundle';
import { randomBytes } from 'node:crypto';
import type {
  BackendControlCapability, BugcheckCapability, GuestAgent, GuestPowerState, GuestRef, HostBackend, HostClock, HostNeeds, HotplugCapability, MigrateCapability,
  RebootOptions, RingView, SaveRestoreCapability, SnapshotCapability, SuspendCapability, XenstoreView,
} from '../../model/host';
import type { Capability } from '../../model/catalog';
import { doctor } from './doctor';
import type { DeviceRef, GuestShape } from '../../model/scenario';
import type { TraceSink } from '../../model/trace';
import type { XapiHostConfig } from './config';
import { num, XapiSession } from './session';
import { newRunId } from './tags';
import { homePath, withTimeout, XapiState } from './host-state';
import { Dom0Access } from './dom0-access';
import { XapiDevices } from './devices';
import { GuestTransport } from './guest-transport';
import { XapiLifecycle } from './lifecycle';
import { XapiMoves } from './moves';
import { XapiBugcheck } from './bugcheck';

export class XapiHost implements HostBackend {
  readonly kind = 'xapi' as const;
  readonly label: string;
  /** XAPI reboots a VM into a new domain. */
  readonly rebootMakesNewDomain = true;
  readonly capabilities: ReadonlySet<Capability>;
  readonly clock: HostClock;
  readonly xenstore: XenstoreView;
  readonly rings: RingView;
  readonly runId: string;
  readonly suspend: SuspendCapability;
  readonly saveRestore: SaveRestoreCapability;
  readonly migrate: MigrateCapability;
  readonly snapshot: SnapshotCapability;
  readonly hotplug: HotplugCapability;
  readonly backendControl: BackendControlCapability;
  readonly bugcheck: BugcheckCapability;
  /** Our releases are winpv-<version>.iso on the ISO SR; the rest (other vendors' tools) are what the
   *  config's "bundles" names. */
  readonly builtinArtefacts: BuiltinArtefacts;

  private session?: XapiSession;
  private onObjects?: () => void;
  private readonly t0 = Date.now();
  private readonly st: XapiState;
  private readonly dom0: Dom0Access;
  private readonly devices: XapiDevices;
  private readonly transport: GuestTransport;
  private readonly lifecycle: XapiLifecycle;

  constructor(
    private readonly cfg: XapiHostConfig,
    opts: { runId?: string } = {},
  ) {
    this.label = cfg.label;
    this.runId = opts.runId ?? newRunId(new Date(), randomBytes(3).toString('hex'));
    const caps: Capability[] = ['windows-guest', 'vendor-installer', 'driver-verifier', 'suspend', 'save-restore', 'migrate', 'snapshot', 'hotplug', 'guest-bugcheck', 'guest-agent', 'platform-device', 'driver-uninstall', 'driver-staging', 'nic-settings', 'vendor-packages'];
    if (cfg.dom0) caps.push('backend-control');
    this.capabilities = new Set(caps);
    this.builtinArtefacts = { named: cfg.bundles ?? {}, ownByConvention: true, where: `the "bundles" of ${cfg.label}'s entry in the config file` };
    this.clock = {
      now: () => Date.now() - this.t0,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
    this.st = new XapiState(cfg, this.runId, this.clock, () => this.session);
    this.dom0 = new Dom0Access(this.st);
    this.devices = new XapiDevices(this.st, this.dom0);
    this.transport = new GuestTransport(this.st, this.dom0, this.devices);
    this.lifecycle = new XapiLifecycle(this.st, this.transport);
    const moves = new XapiMoves(this.st, this.transport);
    this.xenstore = this.dom0.xenstore;
    this.rings = this.dom0.rings;
    this.suspend = moves.suspend;
    this.saveRestore = moves.saveRestore;
    this.migrate = moves.migrate;
    this.snapshot = moves.snapshot;
    this.hotplug = this.devices.hotplug;
    this.backendControl = this.devices.backendControl;
    this.bugcheck = new XapiBugcheck(this.st, this.transport, this.dom0, this.lifecycle);
  }

  async open(trace: TraceSink, opts: { seed: number; artifactsDir?: string }): Promise<void> {
    this.st.trace = trace;
    this.st.artifactsDir = opts.artifactsDir;
    this.session = await XapiSession.open({ url: this.cfg.url, user: this.cfg.user, password: this.cfg.password, insecure: this.cfg.insecure, transport: this.cfg.transport });
    this.onObjects = () => this.lifecycle.watchGuests();
    this.session.client.objects.on('finish', this.onObjects);
  }

  /** The pool's free memory for new VMs: host.compute_free_memory summed over the enabled hosts
   *  (xapi's own estimate, which counts memory promised to VMs that are starting). */
  async freeMemoryBytes(): Promise<number> {
    const s = this.st.s;
    let free = 0;
    for (const h of s.all('host').filter((x) => x.enabled !== false)) free += num(await s.call('host.compute_free_memory', h.$ref));
    return free;
  }

  async healthy(): Promise<boolean> {
    if (!this.session) return false;
    return withTimeout(this.session.call('pool.get_all').then(() => true, () => false), 20_000, 'the pool health check').catch(() => false);
  }

  /** Before the pool gets work: winpv doctor's checks (login, template, network, SR space, a host
   *  with memory, the ISOs the run installs, dom0 SSH and load) for one instance; the failed ones. */
  async preflight(needs: HostNeeds): Promise<string[]> {
    const findings = await doctor(this.cfg, needs);
    return findings.filter((f) => f.verdict === 'fail').map((f) => `${f.check}: ${f.finding}`);
  }

  async close(): Promise<void> {
    await this.lifecycle.destroyAll();
    await this.dom0.close();
    if (this.session && this.onObjects) this.session.client.objects.removeListener('finish', this.onObjects);
    await this.session?.close();
    this.session = undefined;
  }

  createGuest(shape: GuestShape, inst: string): Promise<GuestRef> {
    return this.lifecycle.createGuest(shape, inst);
  }

  startGuest(ref: GuestRef): Promise<void> {
    return this.lifecycle.startGuest(ref);
  }

  rebootGuest(ref: GuestRef, opts: RebootOptions = {}): Promise<void> {
    return this.lifecycle.rebootGuest(ref, opts);
  }

  shutdownGuest(ref: GuestRef, how: 'clean' | 'hard'): Promise<void> {
    return this.lifecycle.shutdownGuest(ref, how);
  }

  /** Destroys the guest's VM, or with `reuseGuests` parks it for the next guest of its shape
   *  (`keep: false`, as close() does, always destroys). */
  destroyGuest(ref: GuestRef, opts: { keep?: boolean } = {}): Promise<void> {
    return this.lifecycle.destroyGuest(ref, opts);
  }

  powerState(ref: GuestRef): Promise<GuestPowerState> {
    return this.lifecycle.powerState(ref);
  }

  /** Until the guest's PV drivers run (guest-transport.ts says how that is seen); how it was seen. */
  waitPvDrivers(ref: GuestRef): Promise<string> {
    return this.transport.waitPvDrivers(ref);
  }

  homePath(ref: GuestRef): string {
    return homePath(ref);
  }

  agent(ref: GuestRef): GuestAgent {
    return this.transport.agentOf(this.st.g(ref));
  }

  resolveDevice(ref: GuestRef, dev: DeviceRef): DeviceRef {
    return this.devices.resolveDevice(ref, dev);
  }

  /** For `winpv run`'s install step on this host: insert a bundle ISO from the ISO SR into the guest's CD drive. */
  insertIso(ref: GuestRef, isoName: string): Promise<void> {
    return this.devices.insertIso(ref, isoName);
  }
}
