// Plain Xen through `xl` over SSH (`xl://user@host[:port]`, and `lab`). Guests are created paused
// from a generated config, so the probes are attached before any frontend moves; everything the run
// creates in dom0 (configs, disks, save images) lives under RUN_DIR and goes with its domain.
//
// This object opens dom0 and composes the parts, each with one job: lifecycle.ts (create, start,
// reboot, shut down, save/restore, destroy), migrate.ts (xl migrate within the dom0), devices.ts (disks, hot-plug, backends),
// guest-transport.ts (the Linux console agent), crash-watch.ts (crash detection), faults.ts (the
// faults real Xen can have); they share host-state.ts (the dom0 connection, the run's guests).
import { hostError } from '../../model/errors';
import type { Capability } from '../../model/catalog';
import { dom0Load, dom0LoadProblem } from '../../remote/dom0-load';
import type {
  BackendControlCapability, FaultCapability, GuestAgent, GuestPowerState, GuestRef, HostBackend, HostClock, HostNeeds, HotplugCapability, MigrateCapability, SaveRestoreCapability,
} from '../../model/host';
import type { DeviceRef, GuestShape } from '../../model/scenario';
import type { TraceSink } from '../../model/trace';
import type { XlRings } from './rings';
import type { XlXenstore } from './xenstore';
import { BRIDGE, RUN_DIR, sleep, XlState, type GuestRecord, type XlHostOptions } from './host-state';
import { XlDevices } from './devices';
import { CrashWatch } from './crash-watch';
import { XlGuestTransport } from './guest-transport';
import { GUEST_INITRD, GUEST_KERNEL, XlLifecycle } from './lifecycle';
import { XlFaults } from './faults';
import { XlMigration } from './migrate';
import { restoreParams } from './backend-params';
import { BLOCK_SCRIPT, BLOCK_SCRIPT_PATH, VIF_SCRIPT, VIF_SCRIPT_PATH } from './block-script';

export { BRIDGE, RUN_DIR, type XlHostOptions } from './host-state';
export { GUEST_INITRD, GUEST_KERNEL, LAB_HVM_IMAGE } from './lifecycle';
export { RESTART_BACKEND_SCRIPT } from './devices';
export { XL_FAULTS } from './faults';

export class XlHost implements HostBackend {
  readonly kind = 'xl' as const;
  readonly label: string;
  /** `xl reboot` destroys the domain and builds a new one (on_reboot="restart"). */
  readonly rebootMakesNewDomain = true;
  /** `fault-injection` covers the faults of XL_FAULTS only (`faults.supported`). */
  /** No `windows-guest`: the xl backend boots a Windows image (os="windows" with a user image) but has
   *  no Windows agent to install drivers or run workloads, so Windows scenarios are skipped here with
   *  the reason rather than failing step by step. Drive Windows guests through XenAPI. */
  capabilities: ReadonlySet<Capability> = new Set<Capability>(['hotplug', 'save-restore', 'backend-control', 'backend-keys', 'destination-backend-keys', 'fault-injection', 'linux-guest', 'balloon', 'migrate']);
  private t0 = Date.now();
  readonly clock: HostClock = { now: () => Date.now() - this.t0, sleep };
  readonly hotplug: HotplugCapability;
  readonly saveRestore: SaveRestoreCapability;
  readonly migrate: MigrateCapability;
  readonly backendControl: BackendControlCapability;
  readonly faults: FaultCapability;
  private readonly st: XlState;
  private readonly devs: XlDevices;
  private readonly crashes: CrashWatch;
  private readonly transport: XlGuestTransport;
  private readonly lifecycle: XlLifecycle;

  constructor(opts: XlHostOptions) {
    this.label = opts.label;
    this.st = new XlState(opts, (g) => this.devs.devices(g));
    this.devs = new XlDevices(this.st);
    this.crashes = new CrashWatch(this.st);
    this.transport = new XlGuestTransport(this.st, this.devs, (g) => this.crashes.powerState(g));
    this.lifecycle = new XlLifecycle(this.st, this.devs);
    this.faults = new XlFaults(this.st, this.devs, this.transport, this.crashes);
    this.hotplug = this.devs.hotplug;
    this.backendControl = this.devs.backendControl;
    this.saveRestore = this.lifecycle.saveRestore;
    this.migrate = new XlMigration(this.st, this.lifecycle).migrate;
  }

  get xenstore(): XlXenstore {
    return this.st.xenstore;
  }

  get rings(): XlRings {
    return this.st.rings;
  }

  async open(trace: TraceSink, _opts: { seed: number }): Promise<void> {
    const st = this.st;
    st.trace = trace;
    this.t0 = Date.now();
    await st.connect();
    const info = await st.dom0.try(['xl', 'info']);
    if (info.code !== 0) throw hostError('XL_UNAVAILABLE', `\`xl info\` failed on ${this.label}: ${info.stderr.trim()} (is this a Xen dom0 with the toolstack running?)`);
    await st.dom0.run(['mkdir', '-p', RUN_DIR]);
    await st.connection!.link.putFile(Buffer.from(BLOCK_SCRIPT), BLOCK_SCRIPT_PATH);
    await st.connection!.link.putFile(Buffer.from(VIF_SCRIPT), VIF_SCRIPT_PATH);
    await st.dom0.run(['chmod', '755', BLOCK_SCRIPT_PATH, VIF_SCRIPT_PATH]);
    st.blockScript = BLOCK_SCRIPT_PATH;
    st.vifScript = VIF_SCRIPT_PATH;
    // backend module parameters a run that died mid-restore left changed (backend-params.ts)
    const put = await restoreParams(st.dom0);
    if (put.length) trace.emit({ ev: 'log', level: 'warn', msg: `dom0 backend parameters left changed by an earlier run put back: ${put.join(', ')}` });
    const hasPvGuest = await st.dom0.try(['test', '-r', GUEST_KERNEL, '-a', '-r', GUEST_INITRD]);
    if (hasPvGuest.code !== 0) this.capabilities = new Set([...this.capabilities].filter((c) => c !== 'linux-guest'));
    const addr = await st.dom0.try(['ip', '-4', '-o', 'addr', 'show', 'dev', BRIDGE]);
    st.bridgeAddress = /inet (\d+\.\d+\.\d+\.\d+)/.exec(addr.stdout)?.[1] ?? '';
    await this.crashes.start();
  }

  /** `xl info`'s free_memory (MiB): what the hypervisor has left for new domains. */
  async freeMemoryBytes(): Promise<number> {
    const out = await this.st.dom0.run(['xl', 'info']);
    const m = /^free_memory\s*:\s*(\d+)/m.exec(out);
    if (!m) throw hostError('XL_NO_FREE_MEMORY', `\`xl info\` on ${this.label} names no free_memory`);
    return Number(m[1]) * 2 ** 20;
  }

  /** Before the host gets work: `xl info`'s free memory holds one instance's guests, and dom0 is not
   *  overloaded (its load average per CPU, remote/dom0-load.ts); the failed ones. */
  async preflight(needs: HostNeeds): Promise<string[]> {
    const out: string[] = [];
    const free = await this.freeMemoryBytes().catch((e: Error) => (out.push(`memory: ${e.message}`), undefined));
    if (free !== undefined && free < needs.memoryBytes) {
      out.push(`memory: \`xl info\` on ${this.label}: ${(free / 2 ** 20).toFixed(0)} MiB free, an instance's guests need ${(needs.memoryBytes / 2 ** 20).toFixed(0)} MiB`);
    }
    const busy = dom0LoadProblem(`dom0 of ${this.label}`, await dom0Load((argv) => this.st.dom0.try(argv, { timeoutMs: 20_000 })).catch(() => undefined));
    if (busy) out.push(`dom0: ${busy}`);
    return out;
  }

  async healthy(): Promise<boolean> {
    const conn = this.st.connection;
    if (this.st.droppedOnce || this.st.connectionDropped || !conn) return false;
    const r = await conn.try(['true'], { timeoutMs: 20_000 }).catch(() => undefined);
    return r?.code === 0;
  }

  /** Puts back any backend module parameter a destination changed (a restore cut short), then closes. */
  async close(): Promise<void> {
    if (this.st.connection && !this.st.connectionDropped) await restoreParams(this.st.dom0).catch(() => undefined);
    return this.st.close();
  }

  createGuest(shape: GuestShape, inst: string): Promise<GuestRef> {
    return this.lifecycle.createGuest(shape, inst);
  }

  startGuest(guest: GuestRef): Promise<void> {
    return this.lifecycle.startGuest(guest);
  }

  rebootGuest(guest: GuestRef): Promise<void> {
    return this.lifecycle.rebootGuest(guest);
  }

  shutdownGuest(guest: GuestRef, how: 'clean' | 'hard'): Promise<void> {
    return this.lifecycle.shutdownGuest(guest, how);
  }

  destroyGuest(guest: GuestRef): Promise<void> {
    return this.lifecycle.destroyGuest(guest);
  }

  powerState(guest: GuestRef): Promise<GuestPowerState> {
    return this.crashes.powerState(guest);
  }

  homePath(guest: GuestRef): string {
    return `/local/domain/${guest.domid}`;
  }

  /** The devices of a guest, from the backend directories in xenstore. */
  devices(guest: GuestRef): Promise<DeviceRef[]> {
    return this.devs.devices(guest);
  }

  /** The guest's console as xenconsoled logged it (for diagnostics). */
  consoleText(guest: GuestRef, maxBytes = 4096): Promise<string> {
    return this.st.consoleText(guest, maxBytes);
  }

  agent(guest: GuestRef): GuestAgent {
    return this.transport.agent(guest);
  }

  /** One backend.stats event per device of the guest, as dom0 reports the counters now. */
  emitBackendStats(rec: GuestRecord): Promise<void> {
    return this.devs.emitBackendStats(rec);
  }
}
