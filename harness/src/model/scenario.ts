// A scenario, as loaded from scenarios/*.xml (before matrix expansion), and the guest shapes it asks for.
import type { SourceLocation } from './errors';
import type { BackendRestartKind, Capability, CheckName, FaultName } from './catalog';
import type { DriverName } from './spec';

export type Tag = 'smoke' | 'nightly' | 'release' | 'lab' | (string & {});

export interface Scenario {
  source: SourceLocation;
  name: string;
  title: string;
  description: string;
  tags: Tag[];
  drivers: DriverName[];
  needs: Capability[];
  /** Host labels (from the config's host entries) the scenario requires, e.g. `windows-2022`. */
  labels?: string[];
  guests: GuestShape[];
  steps: Step[];
  checks: CheckConfig[];
  /** Faults switched on for the whole scenario (time-bounded ones are steps). */
  faults: FaultConfig[];
  /** Axes expanded by the planner; `${name}` in attribute values is replaced per instance. */
  matrix: MatrixAxis[];
  /** Upper bound for the whole instance, in ms (virtual on the simulator). */
  timeoutMs: number;
  /** Typed values that depend on matrix variables: the planner substitutes `${name}` in `template`
   *  per instance and writes the converted value at `at` (a property path into this object).
   *  String values with `${name}` anywhere in the scenario are substituted directly. */
  templated?: TemplatedValue[];
}

export interface TemplatedValue {
  at: (string | number)[];
  template: string;
  as: 'int' | 'bool' | 'string';
}

export interface MatrixAxis {
  name: string;
  values: string[];
}

export type GuestOs = 'windows' | 'linux';

export interface GuestShape {
  name: string;
  os: GuestOs;
  vcpus: number;
  /** Static maximum. */
  memoryMiB: number;
  /** Balloon target from the first boot (memory/target below static-max: XenAPI dynamic-max, xl
   *  memory= with maxmem=); absent: the target is the static maximum. Needs the `balloon` capability. */
  memoryTargetMiB?: number;
  vbds: VbdShape[];
  vifs: VifShape[];
  /** Host-specific image or template (xl: disk image; xapi: template name); the simulator ignores it. */
  image?: string;
  /** REG_DWORD values an administrator sets under a driver's Parameters key before the drivers load
   *  (scenario `<registry>`): they override the INF's AddReg defaults the driver specs list. */
  registry?: RegistrySetting[];
  /** The XenServer guest agent (the management agent service, a separate install from the drivers)
   *  runs in this Windows guest (scenario `agent="true"`). Needs the `guest-agent` capability. */
  agent?: boolean;
  /** The Xen platform PCI device the guest gets (its device id, 4 hex digits): 0001 (Xen's default),
   *  0002 (XenServer's platform:device_id=0002) or C000 (XenServer's vendor device beside it);
   *  absent: the host's default. Needs the `platform-device` capability. */
  platformDevice?: string;
  /** The simulator's durations for this guest (scenario `<timings>`); real hosts ignore them. */
  timings?: GuestTimings;
}

/** One driver parameter: HKLM\SYSTEM\CurrentControlSet\Services\<driver>\Parameters\<value> = data. */
export interface RegistrySetting {
  driver: DriverName;
  value: string;
  data: number;
}

/** Durations the simulated host models for one guest (scenario `<timings>`), over its defaults
 *  (sim/timings.ts, measured on the lab); real hosts have their own and ignore them. */
export interface GuestTimings {
  backendReactionMs?: number;
  bootToFrontendMs?: number;
  restoreDowntimeMs?: number;
}

export interface VbdShape {
  /** Xen virtual device, e.g. xvda, hda; the numeric devid follows Xen's vdev encoding. */
  vdev: string;
  sizeMiB: number;
  mode: 'w' | 'r';
  /** What the frontend asks for (capped by the backend's max-ring-page-order). */
  ringPageOrder?: number;
  queues?: number;
  /** Backend keys to override, e.g. {'max-ring-page-order': '0', 'multi-queue-max-queues': '1'}. */
  backend: Record<string, string>;
  /** Which backend serves the disk, named by its xenstore directory as xenopsd and the xl host name
   *  it (BACKEND_TYPES): `vbd` (Linux blkback) or `vbd3` (tapdisk3 behind tapback, XenServer's);
   *  absent: the host's default. Needs the `disk-backend` capability. */
  backendType?: DiskBackendType;
}

/** The disk backends a scenario can choose (scenario `<vbd backend-type>`). */
export const DISK_BACKEND_TYPES = ['vbd', 'vbd3'] as const;
export type DiskBackendType = (typeof DISK_BACKEND_TYPES)[number];

export interface VifShape {
  devid: number;
  mac?: string;
  queues?: number;
  bridge?: string;
  backend: Record<string, string>;
}

/** Device address used in steps, probes and trace events: `vbd/51712`, `vif/0`. */
export type DeviceRef = `${'vbd' | 'vif'}/${number}`;

export type Step =
  | InstallDriversStep
  | RebootStep
  | UninstallDriversStep
  | SetNicStep
  | WaitStep
  | BlockWorkloadStep
  | NetWorkloadStep
  | HotplugStep
  | LifecycleStep
  | XenifaceStoreStep
  | BugcheckStep
  | BackendStep
  | FaultStep
  | SleepStep
  | ParallelStep
  | RepeatStep;

interface StepBase {
  source: SourceLocation;
  /** Short label for reports; defaults to the step kind. */
  label?: string;
}

export interface InstallDriversStep extends StepBase {
  kind: 'install-drivers';
  guest: string;
  /** A bundle directory/ISO/zip, or `builtin:<version>` for the simulator's reference package. */
  bundle: string;
  /** Drivers to install from it (default: the scenario's drivers). */
  drivers?: DriverName[];
  reboot: boolean;
  /** `installer`: the vendor's installer (an .msi at the bundle's root) instead of pnputil (Windows guests);
   *  `staged`: what an OS update does (the packages go to the driver store and PnP installs them onto
   *  the devices; nothing reboots: the scenario's next reboot is the only one). */
  method?: 'pnputil' | 'installer' | 'staged';
  /** The installer is expected to fail with this exit code (1603): the step passes when it does, with
   *  the installer's log collected, and fails when it does not. */
  expectExit?: number;
  /** Driver Verifier (standard settings) on the installed drivers from the next boot (Windows guests). */
  verifier?: boolean;
}

/** The PV drivers removed from the guest (pnputil /delete-driver /uninstall of every package, or the
 *  vendor installer's uninstall), then by default a reboot: the emulated devices must be back. */
export interface UninstallDriversStep extends StepBase {
  kind: 'uninstall-drivers';
  guest: string;
  /** Only the packages of this vendor prefix (XP, XN, XS): another vendor's tools removed before ours go on. */
  vendor?: string;
  method?: 'pnputil' | 'installer';
  reboot: boolean;
}

/** An administrator's static network configuration of the NIC of a VIF (netsh / Set-NetIPInterface). */
export interface SetNicStep extends StepBase {
  kind: 'set-nic';
  guest: string;
  device: DeviceRef;
  /** `192.0.2.10/24` */
  ipv4: string[];
  /** `2001:db8::10/64` */
  ipv6: string[];
  dns: string[];
  mtu?: number;
}

export interface RebootStep extends StepBase {
  kind: 'reboot';
  guest: string;
}

/** Wait for a xenstore condition: a path to exist, equal a value, or a device to reach a state. */
export interface WaitStep extends StepBase {
  kind: 'wait';
  guest: string;
  /** Relative to the guest home (`device/vbd/51712/state`) or absolute. */
  path: string;
  equals?: string;
  exists?: boolean;
  timeoutMs: number;
}

export interface BlockWorkloadStep extends StepBase {
  kind: 'block';
  guest: string;
  device: DeviceRef;
  blockSize: number; // bytes
  queueDepth: number;
  threads: number;
  writePercent: number; // 0..100
  pattern: 'random' | 'sequential';
  durationMs: number;
  /** Write a pattern and read it back; a mismatch is a data error. */
  verify: boolean;
  /** Issue discard/TRIM (or flush) requests as part of the mix. */
  discard?: boolean;
  flush?: boolean;
}

export interface NetWorkloadStep extends StepBase {
  kind: 'net';
  guest: string;
  device: DeviceRef;
  /** Second guest receiving (or sending); default the host's bridge peer (dom0). */
  peer?: string;
  threads: number;
  direction: 'send' | 'receive' | 'both';
  durationMs: number;
}

export interface HotplugStep extends StepBase {
  kind: 'hotplug';
  guest: string;
  action: 'unplug' | 'plug';
  device: DeviceRef;
  /** Surprise removal: the backend goes away with no Closing handshake. */
  surprise: boolean;
}

export interface LifecycleStep extends StepBase {
  kind: 'suspend' | 'resume' | 'suspend-resume' | 'migrate' | 'save-restore' | 'shutdown' | 'start';
  guest: string;
  /** migrate, save-restore, resume, suspend-resume: the backends the guest finds at the destination,
   *  each device's keys overriding what its backend offered before (a poorer host: no persistent
   *  grants, fewer queues, single-page rings, no flush or discard). Needs `destination-backend-keys`. */
  destination?: DestinationBackend[];
}

export interface DestinationBackend {
  device: DeviceRef;
  backend: Record<string, string>;
}

/** A xenstore request from inside a Windows guest through xeniface's store IOCTLs (what guest agents
 *  and tools use), with a path and value of the lengths given, and the outcome the scenario expects. */
export interface XenifaceStoreStep extends StepBase {
  kind: 'xeniface-store';
  guest: string;
  op: 'read' | 'write' | 'directory' | 'remove';
  /** Relative to the guest's home unless it starts with '/'. */
  path: string;
  /** Pad the path with a last component of 'x' to this many bytes (its terminating NUL not counted). */
  pathBytes?: number;
  /** write: a value of this many printable bytes. */
  valueBytes?: number;
  expect: 'ok' | 'refused';
}

/** Bugchecks (BSOD) a Windows guest on purpose with a stop code; the step ends once the guest wrote
 *  its crash dump, restarted and the host collected the dump (or said why there is none). */
export interface BugcheckStep extends StepBase {
  kind: 'bugcheck';
  guest: string;
  /** The stop code (default 0xE2 MANUALLY_INITIATED_CRASH, what a keyboard- or NMI-initiated crash gives). */
  code: number;
}

export interface BackendStep extends StepBase {
  kind: 'backend-restart' | 'backend-close';
  guest: string;
  device: DeviceRef;
  /** backend-restart only: the kind of restart the scenario is about; a host whose restart is of
   *  another kind skips the scenario with the reason (the kinds test different things). */
  restartKind?: BackendRestartKind;
}

/** Switch a fault on for a time (or until the end of the enclosing block when durationMs is absent). */
export interface FaultStep extends StepBase {
  kind: 'fault';
  fault: FaultConfig;
  /** 'off' switches off a fault an earlier step of the same scenario switched on (default 'on'). */
  action?: 'on' | 'off';
}

export interface SleepStep extends StepBase {
  kind: 'sleep';
  durationMs: number;
}

export interface ParallelStep extends StepBase {
  kind: 'parallel';
  /** Each branch is a sequence; branches run concurrently ("hot-unplug under I/O"). */
  branches: Step[][];
}

export interface RepeatStep extends StepBase {
  kind: 'repeat';
  count: number;
  steps: Step[];
}

export interface FaultConfig {
  name: FaultName;
  guest?: string;
  device?: DeviceRef;
  durationMs?: number;
  /** Fault-specific knobs (e.g. latencyMs for slow-backend). */
  params: Record<string, string>;
}

export interface CheckConfig {
  name: CheckName;
  /** Thresholds, e.g. workload: {minMBps: '50', tolerancePct: '10', maxP99Ms: '20'}. */
  params: Record<string, string>;
  source?: SourceLocation;
}

/** Every step of a sequence at any depth (parallel branches and repeated bodies once each), in order. */
export function allSteps(steps: readonly Step[]): Step[] {
  const out: Step[] = [];
  const walk = (seq: readonly Step[]) => {
    for (const st of seq) {
      out.push(st);
      if (st.kind === 'parallel') st.branches.forEach(walk);
      else if (st.kind === 'repeat') walk(st.steps);
    }
  };
  walk(steps);
  return out;
}
