// The trace: what a run observed, one JSON object per line (trace.jsonl). Every host backend writes
// this same schema; checks read only it (plus the driver specs), so a stored trace can be re-judged
// offline by `winpv check` and shards merge by replaying their traces.
//
// Rules that keep traces comparable and deterministic:
// - `t` is milliseconds since the run started: virtual time on the simulator, wall time elsewhere.
// - No wall-clock dates, random ids, host names with credentials or absolute paths go into a trace;
//   the run id and dates live in summary.json. Same seed + same inputs on the simulator => same bytes.
// - `seq` increases by one per event; a gap means a lost event.
// - The last event is `run.end`; a trace without it was cut off (the reader reports it as truncated).
import type { CheckConfig, DeviceRef, FaultConfig, GuestShape, Step } from './scenario';
import type { Capability } from './catalog';
import type { KnownIssue } from './outcomes';
import type { Baseline } from './results';
import type { ErrorInfo } from './errors';

/** The schema a run writes. /2 records ring.io as runs of ids (`ids`, `ops`, `statuses`): the
 *  requests or responses one ring saw at one instant, one event (in /1 one event per id, two thirds
 *  of a simulator trace). The reader still reads /1 (trace/reader.ts turns each id into a run of one). */
export const TRACE_SCHEMA = 'winpv-trace/2';
/** Schemas trace/reader.ts reads. */
export const TRACE_SCHEMAS_READ: readonly string[] = ['winpv-trace/1', TRACE_SCHEMA];

interface Base {
  seq: number;
  t: number;
}

/** Fields of events that belong to one scenario instance. */
interface InInstance extends Base {
  inst: string;
}

export interface RunStartEvent extends Base {
  ev: 'run.start';
  /** TRACE_SCHEMA when written; an older one of TRACE_SCHEMAS_READ in a trace read back. */
  schema: string;
  seed: number;
  host: { kind: string; label: string; capabilities: Capability[] };
  /** sha256 of each driver spec file used, so `winpv check` can say when specs changed since. */
  specs: Record<string, string>;
  instances: string[];
  shard?: { index: number; count: number };
  /** The known-issues entries the run judged with, so `winpv check` and `report merge` mark the same failures known. */
  knownIssues?: KnownIssue[];
}

/** A metric's history from the results store, fetched as the instance ended (for the regression
 *  check): the values of comparable runs before this one (same scenario, host class and Windows
 *  build), oldest first. An empty list with a note says why there is none. */
/** A metric's history from the results store, written as the instance ended, for the regression
 *  check (so `winpv check` re-judges it without the store). */
export interface BaselineEvent extends InInstance, Baseline {
  ev: 'baseline';
}

export interface ScenarioStartEvent extends InInstance {
  ev: 'scenario.start';
  scenario: string;
  file: string;
  params: Record<string, string>;
  tags: string[];
  drivers: string[];
  guests: GuestShape[];
  /** The checks and thresholds to apply, so the trace is self-contained. */
  checks: CheckConfig[];
  faults: FaultConfig[];
}

export interface ScenarioSkipEvent extends InInstance {
  ev: 'scenario.skip';
  reason: string;
}

export interface ScenarioEndEvent extends InInstance {
  ev: 'scenario.end';
  /** `aborted` when a step failed or the host dropped; checks still run on what was recorded. */
  status: 'completed' | 'aborted';
  error?: ErrorInfo;
}

/** A teardown task (destroy a guest, stop probes, switch a fault off) that failed or overran its
 *  deadline after scenario.end: the instance fails with TEARDOWN_FAILED unless it already aborted. */
export interface TeardownFailEvent extends InInstance {
  ev: 'teardown.fail';
  label: string;
  error: { code: string; message: string };
}

export interface StepEvent extends InInstance {
  ev: 'step.start' | 'step.end';
  /** Dotted position in the step tree: `3`, `4.1.2` (parallel branch 1, step 2). */
  step: string;
  kind: Step['kind'];
  label: string;
  ok?: boolean; // step.end
  error?: ErrorInfo; // step.end
}

export type GuestLifecycle =
  | 'created' | 'started' | 'rebooted' | 'shutdown' | 'destroyed' | 'crashed' | 'halted-unexpectedly'
  | 'paused' | 'unpaused' | 'suspended' | 'resumed' | 'saved' | 'restored' | 'migrated' | 'snapshot' | 'reverted'
  /** The toolstack has begun to suspend or save the guest. Hosts whose suspend destroys the domain
   *  (XenAPI) emit it first: the domain and its xenstore tree go before `suspended`/`saved` is known. */
  | 'suspending'
  /** One reboot of a driver install (detail: n, reason, ms): the install takes as many as Windows asks for. */
  | 'install-reboot'
  /** xenstored stopped serving the guest's connection (a request over XENSTORE_PAYLOAD_MAX: C xenstored's
   *  handle_input ignores the connection from then on); its PV drivers can no longer reach the toolstack. */
  | 'xenstore-lost'
  /** The guest bugchecked on purpose (a `bugcheck` step; detail: code, name): it writes its crash dump and
   *  restarts (`rebooted`). Unlike `crashed`, the guest is expected back and is judged on afterwards. */
  | 'bugcheck';

export interface GuestEvent extends InInstance {
  ev: 'guest';
  guest: string;
  domid: number;
  what: GuestLifecycle;
  /** For migrated/restored: the new domid. For crashed: where the dump is. */
  detail?: Record<string, string | number>;
}

/** A xenstore change seen by the xenstore probe; value null means the node was removed. */
export interface XenstoreEvent extends InInstance {
  ev: 'xs';
  path: string;
  value: string | null;
  /** The guest whose probe saw the change (the probe knows; checks fall back to the domid in the path). */
  guest?: string;
  /** Read when the probe attached (the value was already there), not seen changing. */
  snapshot?: boolean;
  /** Read late, in one pass with the other events of this batch (model/host.ts WatchCallback). */
  batch?: ReadBatch;
}

/**
 * A batch of values a dom0 watch reader read late, in one pass after the changes (hosts/
 * dom0-xenstore.ts PERL_WATCHER): the values hold together, as of the pass's end. The batch's events
 * are consecutive in the trace, in the order of each path's last change; `first` and `last` are
 * where this path's first and last change fall among the batch's watch events (1-based, in
 * xenstored's order of the writes). `first < last`: the path changed more than once, and the
 * values between are not known.
 */
export interface ReadBatch {
  id: number;
  first: number;
  last: number;
}

export type RingName = 'blk' | 'tx' | 'rx' | 'ctrl';

/** Which ring of a guest's device: `vbd/51712` queue 0 `blk`. */
export interface RingAddress {
  dev: DeviceRef;
  queue: number;
  ring: RingName;
}

/** Indices of one shared ring: the ring.h sring header plus the private consumer positions where visible. */
export interface RingIndices {
  nr_ents: number;
  req_prod: number;
  req_event: number;
  rsp_prod: number;
  rsp_event: number;
  /** Backend's private req_cons and frontend's rsp_cons, when the host can see them. */
  req_cons?: number;
  rsp_cons?: number;
  /** The producer and consumer indices read again, after every index of this sample was read: set
   *  where the host reads a live ring one index at a time (netback's debugfs file prints each field
   *  as it loads it, while netback runs), so the sample is no single moment. Indices only grow, so at
   *  any moment between the two reads each index lies between its two values; checks judge that
   *  range, and a sample without `reread` as one moment. */
  reread?: RingReread;
}

/** The indices of a ring read a second time (RingIndices.reread). */
export interface RingReread {
  req_prod: number;
  rsp_prod: number;
  req_cons?: number;
  rsp_cons?: number;
}

/** One sample of a ring's indices (periodic, at a notification, or the last one). */
export interface RingSampleEvent extends InInstance, RingAddress, RingIndices {
  ev: 'ring';
  guest: string;
  why: 'periodic' | 'notify' | 'final';
}

/** Requests produced or responses consumed on a ring (hosts with the `ring-ids` capability): the
 *  ids in ring order, consecutive ones of one ring and direction at one instant as one event (the
 *  trace writer joins them; no other event came between them). */
export interface RingIoEvent extends InInstance, RingAddress {
  ev: 'ring.io';
  guest: string;
  dir: 'req' | 'rsp';
  ids: number[];
  /** Per id, where the host sees them: the request's operation (blkif operation, netif flags). */
  ops?: number[];
  /** Per id, where the host sees them: the response's status. */
  statuses?: number[];
}

/** Backend counters (blkback statistics/, netback io_ring_q*), as the host reports them. */
export interface BackendStatsEvent extends InInstance {
  ev: 'backend.stats';
  guest: string;
  dev: DeviceRef;
  stats: Record<string, number>;
}

/** Grant-table audit for one domain (hosts with `grant-audit`): emitted on each device close and at teardown. */
export interface GrantAuditEvent extends InInstance {
  ev: 'grants';
  guest: string;
  domid: number;
  dev?: DeviceRef;
  when: 'device-closed' | 'teardown';
  /** Grant refs still granted by the domain for this device. */
  active: number[];
  /** Refs still mapped by the backend. */
  mapped: number[];
  /** Grants the frontend ended while the backend still had them mapped. */
  revokedWhileMapped: number[];
}

export interface BlockResult {
  kind: 'block';
  bytes: number;
  ios: number;
  readBytes: number;
  writeBytes: number;
  seconds: number;
  iops: number;
  mbps: number; // MB/s, 10^6 bytes
  errors: number;
  verifyErrors: number;
  /** Latency percentiles in ms, keyed by percentile ("50", "99", "99.9"). */
  latencyMs: Record<string, number>;
  /** Average CPU utilisation of the guest during the run, percent (diskspd CpuUtilization/Average). */
  cpuPercent?: number;
}

export interface NetResult {
  kind: 'net';
  bytes: number;
  seconds: number;
  mbps: number; // megabits per second as NTttcp reports
  retransmits: number;
  errors: number;
  cpuPercent?: number;
}

export interface WorkloadEvent extends InInstance {
  ev: 'workload';
  guest: string;
  step: string;
  dev: DeviceRef;
  result: BlockResult | NetResult;
  /** The raw tool output the result was parsed from (diskspd/NTttcp XML), for the report. */
  raw?: string;
}

export interface DriversEvent extends InInstance {
  ev: 'drivers';
  guest: string;
  bound: { driver: string; version: string; hardwareId: string; service: string }[];
  /** Devices that wanted a driver and got none, with the reason Windows would give. */
  unbound: { hardwareId: string; reason: string }[];
  unplugged: { disks: boolean; nics: boolean };
  /** What the run installed last (from the install step), so drivers-bound can judge the trace alone;
   *  `verifier`: the step asked for Driver Verifier on them. */
  expected?: { version: string; drivers: string[]; verifier?: boolean; removed?: boolean; staged?: boolean };
  /** Drivers Driver Verifier checks, as the guest reports them (Windows guests that were asked to). */
  verified?: string[];
  /** Each driver's state as the guest reports it (running, restart pending, reboot required ...). */
  states?: DriverState[];
  /** Every network interface's IP configuration (guests with `nic-settings`). */
  nics?: NicReport[];
}

/** A static configuration the scenario gave a NIC (`set-nic`), for the nic-settings check. */
export interface NicSetEvent extends InInstance {
  ev: 'nic.set';
  guest: string;
  dev: DeviceRef;
  mac: string;
  ipv4: string[];
  ipv6: string[];
  dns: string[];
  mtu?: number;
}

/** A guest's memory as the hypervisor accounts it (hosts with the `balloon` capability): the balloon
 *  target the toolstack set (memory/target), the static maximum, and what the domain holds now. */
export interface MemoryEvent extends InInstance {
  ev: 'memory';
  guest: string;
  domid: number;
  targetKiB: number;
  staticMaxKiB: number;
  actualKiB: number;
}

export interface FaultEvent extends InInstance {
  ev: 'fault';
  name: string;
  on: boolean;
  detail?: Record<string, string | number>;
}

/** A file the host collected for the report (a crash dump), or why there is none. The file lives in
 *  the run's report directory; reporters name it, they never fetch anything from a host. */
export interface ArtifactEvent extends InInstance {
  ev: 'artifact';
  guest: string;
  /** crash-dump: the guest's dump after a crash; installer-log: the vendor installer's verbose log (msiexec /l*v). */
  kind: 'crash-dump' | 'installer-log';
  /** Relative to the report directory: `artifacts/<inst>/<file>`. Absent when nothing was collected. */
  path?: string;
  bytes?: number;
  sha256?: string;
  /** Where it came from, as the guest names it (`C:\\Windows\\MEMORY.DMP`). */
  source?: string;
  /** Why no file was collected (none written, copy failed, the run keeps no artifacts). */
  missing?: string;
  /** Occurrences of the run's secrets masked in the copy (a memory dump can hold a password). */
  redacted?: number;
  /** The stop code the dump's header records (`0x000000E2`), where the host read it. */
  bugcheck?: string;
}

/** A stop code as bugcheck events and dump artifacts spell it: 0x000000E2. */
export const stopCode = (code: number): string => `0x${(code >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;

export interface LogEvent extends Base {
  ev: 'log';
  inst?: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
}

export interface RunEndEvent extends Base {
  ev: 'run.end';
  complete: boolean;
  reason?: 'interrupted' | 'host-failure' | 'internal-error';
  error?: { code: string; message: string };
}

export type TraceEvent =
  | RunStartEvent
  | ScenarioStartEvent
  | ScenarioSkipEvent
  | ScenarioEndEvent
  | StepEvent
  | GuestEvent
  | XenstoreEvent
  | RingSampleEvent
  | RingIoEvent
  | BackendStatsEvent
  | GrantAuditEvent
  | WorkloadEvent
  | BaselineEvent
  | DriversEvent
  | NicSetEvent
  | MemoryEvent
  | FaultEvent
  | ArtifactEvent
  | LogEvent
  | TeardownFailEvent
  | RunEndEvent;

/** What a trace event looks like before the sink stamps seq and t. */
export type TraceEventInput = TraceEvent extends infer E ? (E extends TraceEvent ? Omit<E, 'seq' | 't'> : never) : never;

/** Where probes, hosts and the runner send events. The sink stamps seq and t (from the host clock). */
export interface TraceSink {
  emit(e: TraceEventInput): void;
}

/** An instance's section of a trace as a worker process wrote it (cli/sim-workers.ts): its events
 *  as JSON lines ('\n' after each), stamped for their place in the run's trace; how many, and the
 *  last one's time; and what the run's digests need of them (report.html's, the results store's),
 *  named by digest and shaped where the events were, so the run's process never parses them. */
export interface WrittenSection {
  lines: string;
  count: number;
  lastT: number;
  pieces: Partial<Record<SectionDigestName, unknown>>;
}

/** The digests of a streamed run that a worker process feeds for its sections (cli/streamed-run.ts). */
export type SectionDigestName = 'page' | 'record';

/** Where one driver stands in the guest, as Windows would say it: the version running, the one staged
 *  in the driver store for the device (installed, waiting for a restart), and whether the driver asked
 *  for a reboot (the xenbus monitor's Request key). */
export interface DriverState {
  driver: string;
  /** running: bound and started; restart-pending: a newer package is installed and takes over at the
   *  next boot; reboot-required: installed but refused to start until a reboot (waiting for its unplug);
   *  not-started: its device does not exist yet (its parent is not running); removed: uninstalled. */
  state: 'running' | 'restart-pending' | 'reboot-required' | 'not-started' | 'removed';
  running?: string;
  staged?: string;
  /** The driver wrote HKLM\SYSTEM\CurrentControlSet\Services\xenbus_monitor\Request\<MODULE>\Reboot. */
  rebootRequested?: boolean;
  /** Vendor prefix of its package (XP, XN, XS). */
  vendor?: string;
}

/** The IP configuration Windows has for one network interface (Get-NetIPAddress, Get-DnsClientServerAddress,
 *  Get-NetIPInterface): the interface with the VIF's MAC is the NIC the scenario configured. */
export interface NicReport {
  mac: string;
  /** emulated (the device model's NIC) or the PV NIC (xennet). */
  kind: 'emulated' | 'pv';
  up: boolean;
  ipv4: string[];
  ipv6: string[];
  dns: string[];
  mtu?: number;
}
