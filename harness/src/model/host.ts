// The host backend interface. Three backends implement it: the embedded simulator (`sim`, the default),
// plain Xen through `xl` over SSH (`xl://user@host`, `lab`) and XenServer/XCP-ng through XenAPI
// (`xapi://user@pool-master`). The core interface is narrow: domain lifecycle, the guest agent, and
// the two probe surfaces (xenstore and rings). Optional powers are separate capability objects that a
// backend may leave undefined; the runner skips a scenario that needs a missing one, with the reason.
//
// Call order the runner follows: open() -> [createGuest -> startGuest -> ...steps... -> destroyGuest]* -> close().
// Teardown runs in reverse order even when a setup step failed; destroyGuest must be safe to call
// on a guest in any state (and twice).
import type { BuiltinArtefacts } from './bundle';
import type { BackendRestartKind, Capability, FaultName } from './catalog';
import type { DestinationBackend, DeviceRef, FaultConfig, GuestShape, VbdShape, VifShape, BlockWorkloadStep, NetWorkloadStep } from './scenario';
import type { BlockResult, DriverState, NetResult, NicReport, ReadBatch, RingAddress, RingIndices, TraceSink } from './trace';
import type { DriverName } from './spec';

export type HostKind = 'sim' | 'xl' | 'xapi';

/** Time as the host sees it. On the simulator this is a virtual clock driven by the seeded scheduler:
 *  sleep() returns when virtual time reaches the deadline, with no real waiting. Everything in a run
 *  that waits (runner, probes, timeouts) must wait through this clock, never setTimeout. */
export interface HostClock {
  /** Milliseconds since open(). */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface GuestRef {
  /** Name from the scenario's guest shape. */
  name: string;
  /** Current domid (changes on migrate and restore). */
  domid: number;
  /** Host-native handle: sim domid, xl domain name, XenAPI VM OpaqueRef. */
  handle: string;
}

export type GuestPowerState = 'running' | 'paused' | 'suspended' | 'halted' | 'crashed' | 'gone';

/** dom0's view of xenstore, used by probes and wait steps. Paths are absolute. */
/**
 * A watch's callback. Hosts that know the value at the time of the change (the simulator) pass it as
 * `value` (null = removed), so the probe records every intermediate state exactly; hosts that read it
 * in dom0 right after the event pass what they read; others leave it undefined and the probe reads
 * the path. `batch`: the value was read late, together with the other changes of the same batch in
 * one pass that holds together (model/trace.ts ReadBatch, hosts/dom0-xenstore.ts PERL_WATCHER).
 */
export type WatchCallback = (changedPath: string, value?: string | null, batch?: ReadBatch) => void;

export interface XenstoreView {
  read(path: string): Promise<string | null>;
  directory(path: string): Promise<string[]>;
  /** Calls back with the changed path for every change at or below `path`; resolves once registered. */
  watch(path: string, onChange: WatchCallback): Promise<() => Promise<void>>;
  write(path: string, value: string): Promise<void>;
  rm(path: string): Promise<void>;
}

/** A ring of a guest's device, as the ring view lists them. */
export type RingId = RingAddress;
export type { RingIndices };

/** Read access to the shared rings of a guest's devices (sim: ring memory; xl/xapi: netback debugfs). */
export interface RingView {
  rings(guest: GuestRef): Promise<RingId[]>;
  sample(guest: GuestRef, ring: RingId): Promise<RingIndices | null>;
  /** Backend counters (blkback statistics/, netback totals), if the host has them. */
  backendStats?(guest: GuestRef, dev: DeviceRef): Promise<Record<string, number> | null>;
  /** Called on every event-channel notification of a ring (hosts that can see them: the simulator).
   *  The ring probe takes a `why: 'notify'` sample there: `now` is the ring's indices read at the
   *  notification when the host has them in hand (the simulator: its shared page is in this process),
   *  so the sample is recorded at once, not through sample()'s promise (tens of thousands per run).
   *  Returns the unsubscribe function. */
  onNotify?(cb: (guest: GuestRef, ring: RingId, now?: RingIndices | null) => void): () => void;
}

/** A driver package set to install: a directory with one subfolder per driver, each with .inf/.sys/.cat. */
export interface DriverBundle {
  /** Directory on the machine running winpv (unpacked bundle) or `builtin:<version>` on the simulator. */
  location: string;
  version: string;
  drivers: DriverName[];
  /** Enable Driver Verifier (standard settings) for the installed drivers (real Windows guests). */
  verifier?: boolean;
  /** Install with the vendor's installer (the .msi at the bundle's root) instead of pnputil. */
  installer?: boolean;
  /** Staged the way an OS update does: driver store and PnP, no reboot of its own (`driver-staging`). */
  staged?: boolean;
  /** What `location` was opened from (an ISO bundle is handed to a guest as that ISO, unchanged). */
  source?: { path: string; kind: 'dir' | 'iso' | 'zip' };
  /** Registers the removal of what delivering the bundle put on the host (an uploaded ISO): it
   *  runs when the step's bundle is cleaned up, whatever happened. Without it the agent removes
   *  such things itself at the end of the install. */
  onCleanup?(label: string, undo: () => Promise<void>): void;
}

export interface BoundDriver {
  driver: string;
  version: string;
  hardwareId: string;
  service: string;
}

// DriverState and NicReport live in trace.ts (the drivers trace event carries them); re-exported here.
export type { DriverState, NicReport } from './trace';

export interface DriverStatus {
  bound: BoundDriver[];
  unbound: { hardwareId: string; reason: string }[];
  unplugged: { disks: boolean; nics: boolean };
  /** Drivers Driver Verifier checks now (`verifier /querysettings`), where the guest can say (Windows). */
  verified?: string[];
  /** Each driver's state (guests that can say: the simulator, `driver-staging`). */
  states?: DriverState[];
  /** Every network interface's configuration (guests with `nic-settings`). */
  nics?: NicReport[];
}

/** What runs inside a guest: driver install, workloads, status. Windows over SSH/PowerShell,
 *  Linux over SSH/console, or the simulator's modelled Windows guest. */
export interface GuestAgent {
  /** Installs the bundle's drivers. A bundle whose version is only known once it is read where it
   *  is (a disc in the guest with its manifest) reports that version. */
  installDrivers(bundle: DriverBundle): Promise<void | { version?: string }>;
  driverStatus(): Promise<DriverStatus>;
  /** Removes the PV drivers (hosts with `driver-uninstall`); `vendor` limits it to one vendor's packages. */
  uninstallDrivers?(opts: { vendor?: string; installer?: boolean }): Promise<void>;
  /** Static IP configuration of the NIC with this MAC (hosts with `nic-settings`). */
  setNic?(nic: { mac: string; ipv4: string[]; ipv6: string[]; dns: string[]; mtu?: number }): Promise<void>;
  /** Runs the workload and returns the parsed result plus the tool's raw XML/text output. */
  blockWorkload(w: BlockWorkloadStep): Promise<{ result: BlockResult; raw?: string }>;
  netWorkload(w: NetWorkloadStep, peer?: GuestAgent): Promise<{ result: NetResult; raw?: string }>;
}

export interface RebootOptions {
  beforeUnpause?(guest: GuestRef): Promise<void>;
}

/** Where a moving guest (migrate, restore, resume) lands: backend keys per device of the destination
 *  that differ from what the guest had (a poorer host). Only hosts with `destination-backend-keys`. */
export interface DestinationOptions {
  destination?: readonly DestinationBackend[];
}

export interface HotplugCapability {
  attachVbd(guest: GuestRef, vbd: VbdShape): Promise<DeviceRef>;
  attachVif(guest: GuestRef, vif: VifShape): Promise<DeviceRef>;
  /** surprise=true removes the backend without the Closing handshake. */
  detach(guest: GuestRef, dev: DeviceRef, opts: { surprise: boolean }): Promise<void>;
}

export interface SuspendCapability {
  suspend(guest: GuestRef): Promise<void>;
  /** Resumes a suspended guest. A host that resumes the same domain (the simulator) returns nothing.
   *  A host whose resume builds a new domain (XenAPI: VM.resume restores the suspend image into a
   *  new domid) returns the guest under its new domid and, given `opts.beforeUnpause`, calls it once
   *  the new domain exists but before it runs, so probes follow it from the first frontend write. */
  resume(guest: GuestRef, opts?: RebootOptions & DestinationOptions): Promise<GuestRef | void>;
}

export interface SaveRestoreCapability {
  save(guest: GuestRef): Promise<string>;
  /** Returns the guest under its new domid. */
  restore(guest: GuestRef, image: string, opts?: DestinationOptions): Promise<GuestRef>;
}

export interface MigrateCapability {
  /** Live-migrates; returns the guest under its new domid (and host, for pools). */
  migrate(guest: GuestRef, target?: string, opts?: DestinationOptions): Promise<GuestRef>;
}

/** xenstore requests from inside a Windows guest through xeniface's store IOCTLs (IOCTL_XENIFACE_STORE_READ,
 *  _WRITE, _DIRECTORY, _REMOVE). `status` is the NTSTATUS name the IOCTL completed with. */
export interface XenifaceStoreCapability {
  request(guest: GuestRef, req: { op: 'read' | 'write' | 'directory' | 'remove'; path: string; value?: string }): Promise<{ status: string; value?: string }>;
}

/** Bugchecks a Windows guest on purpose (a BSOD with the stop code given) and returns once the guest
 *  wrote its crash dump, restarted, and the host collected the dump into the run's artifacts (an
 *  `artifact` trace event of kind crash-dump, or one saying why there is none). */
export interface BugcheckCapability {
  bugcheck(guest: GuestRef, opts: { code: number }): Promise<void>;
}

export interface SnapshotCapability {
  snapshot(guest: GuestRef, label: string): Promise<string>;
  revert(guest: GuestRef, snapshot: string): Promise<void>;
  deleteSnapshot(snapshot: string): Promise<void>;
}

// The backend-restart kinds live in the catalogue (model/scenario.ts names them too); re-exported
// here beside BackendControlCapability, which reports one.
export { BACKEND_RESTART_KINDS, BACKEND_RESTART_MEANS, type BackendRestartKind } from './catalog';

export interface BackendControlCapability {
  /** What restartBackend means on this host (see BackendRestartKind). */
  readonly restartKind: BackendRestartKind;
  restartBackend(guest: GuestRef, dev: DeviceRef): Promise<void>;
  /** Force the backend's XenbusState (e.g. Closing) as `xenstore-write` would. */
  forceBackendState(guest: GuestRef, dev: DeviceRef, state: number): Promise<void>;
}

export interface FaultCapability {
  /** The faults of FAULTS this host can inject (absent: all of them). A scenario needing another one
   *  is skipped by the planner with the reason, as for a missing capability; inject() refuses it. */
  readonly supported?: ReadonlySet<FaultName>;
  /** Switch a fault on; the returned function switches it off. */
  inject(fault: FaultConfig, guest?: GuestRef): Promise<() => Promise<void>>;
}

/** What the largest instance of a run needs of a host, for the preflight before the host gets work. */
export interface HostNeeds {
  /** Memory of the instance's guests together. */
  memoryBytes: number;
  /** Disk space of the instance's guests' disks together (system disks are the template's). */
  diskBytes: number;
  /** `iso:<name>` driver bundles the run installs from an ISO already on the host. */
  isos: string[];
}

export interface HostBackend {
  readonly kind: HostKind;
  /** For reports: no credentials, no local paths. */
  readonly label: string;
  readonly capabilities: ReadonlySet<Capability>;
  /** A reboot builds a new domain with a new domid (xl, XenAPI) rather than restarting the guest in
   *  its domain (the simulator). The runner then watches every guest domain across the reboot, so the
   *  probes record the new domain from its first write. Absent: false. */
  readonly rebootMakesNewDomain?: boolean;
  readonly clock: HostClock;
  readonly xenstore: XenstoreView;
  readonly rings: RingView;

  /** Connects (or boots the simulator). Lifecycle events of guests go to the sink as `guest` events.
   *  `artifactsDir` is the run's `<report dir>/artifacts`: a host that collects files (crash dumps)
   *  stores them below `<artifactsDir>/<inst>/` and records each with an `artifact` trace event. */
  open(trace: TraceSink, opts: { seed: number; artifactsDir?: string }): Promise<void>;
  close(): Promise<void>;
  /** Asked after a scenario ended on a host error: does the host still answer? Yes means the host
   *  refused that scenario (a missing ISO, a device it cannot attach): the scenario is not ok and
   *  the run goes on. No (or no such method) means the host is lost and the run stops. A host whose
   *  connection dropped once says no for the rest of the run even if teardown reconnected. */
  healthy?(): Promise<boolean>;
  /** Asked once before a real host gets work (issue #16 "health before use"): the reasons it should
   *  not get any (unreachable, disabled, too little free memory or SR space for one instance, dom0
   *  overloaded, template or driver ISO missing), each saying what was seen. None: usable. Reads only.
   *  Absent: the host is judged by `healthy` alone. */
  preflight?(needs: HostNeeds): Promise<string[]>;
  /** Memory free on the host for new guests, in bytes (a parallel run's memory budget starts from it). */
  freeMemoryBytes?(): Promise<number>;

  createGuest(shape: GuestShape, inst: string): Promise<GuestRef>;
  startGuest(guest: GuestRef): Promise<void>;
  /** Reboots and waits until the guest is back. Hosts where a reboot builds a new domain (XenAPI)
   *  call `opts.beforeUnpause` with the new domid once the domain exists but before it runs, so
   *  probes can follow it from the first frontend write. */
  rebootGuest(guest: GuestRef, opts?: RebootOptions): Promise<void>;
  shutdownGuest(guest: GuestRef, how: 'clean' | 'hard'): Promise<void>;
  /** Idempotent; safe in any state. */
  destroyGuest(guest: GuestRef): Promise<void>;
  /** `--keep-on-failure` keeps this guest running past its instance (destroyGuest still ends it): a host
   *  that names guests by their scenario name alone sets it aside so later instances can reuse the name.
   *  Absent: nothing to do (the host names guests per instance). */
  keepGuest?(guest: GuestRef): Promise<void>;
  /** Serves the host's xenstore to local tools on a unix socket (XENSTORED_PATH) until the returned
   *  function is called; a host whose xenstore lives in its dom0 (reach it there) has none. */
  serveXenstore?(socketPath: string): Promise<() => Promise<void>>;
  powerState(guest: GuestRef): Promise<GuestPowerState>;
  agent(guest: GuestRef): GuestAgent;
  /** The guest's xenstore home (`/local/domain/<domid>`). */
  homePath(guest: GuestRef): string;
  /** The host's name for a device the scenario names. Scenarios number disks the Xen way for the
   *  guest's n-th disk (xvda = vbd/51712); a host whose toolstack places disks elsewhere maps them
   *  (XenAPI puts userdevice 0-3 of HVM guests on IDE: xvda is vbd/768 there). The runner resolves
   *  every device and every `device/<type>/<id>` wait path through this; absent means the same. */
  resolveDevice?(guest: GuestRef, dev: DeviceRef): DeviceRef;

  readonly hotplug?: HotplugCapability;
  readonly suspend?: SuspendCapability;
  readonly saveRestore?: SaveRestoreCapability;
  readonly migrate?: MigrateCapability;
  readonly snapshot?: SnapshotCapability;
  readonly backendControl?: BackendControlCapability;
  readonly faults?: FaultCapability;
  /** What `builtin:` bundles are here (model/bundle.ts); absent: the simulator's own models of every one. */
  readonly builtinArtefacts?: BuiltinArtefacts;
  readonly xenifaceStore?: XenifaceStoreCapability;
  readonly bugcheck?: BugcheckCapability;
}
