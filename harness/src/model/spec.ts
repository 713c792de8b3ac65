// The driver contract, as loaded from drivers-spec/<driver>.xml. Pure data: the simulator's
// reference frontends, the checks and the package verifier all read these objects, so a change
// to a spec changes every one of them.
import type { SourceLocation } from './errors';

/** Every driver a spec can describe (drivers-spec/driver-spec.xsd `driverName`), in the order win-pv
 *  builds and installs them when dependencies leave a choice: the bus first, then its children. */
export const DRIVER_NAMES = ['xenbus', 'xenvif', 'xennet', 'xenvbd', 'xeniface', 'xencons', 'xenhid'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];
export type DeviceType = 'vbd' | 'vif' | 'vkbd' | 'console' | 'iface';
export type RingAbi = 'blkif' | 'netif';

export interface DriverSpec {
  /** Where it came from, for located messages. */
  source: SourceLocation;
  name: DriverName;
  description: string;
  identity: DriverIdentity;
  /** The bus driver this one's devices are children of (`xenbus` for xenvif/xenvbd/xeniface, `xenvif` for xennet). */
  parent?: DriverName;
  /** For a bus driver: the revisions it advertises and the interface versions of each. */
  revisions: Revision[];
  /** For a child driver: the revisions of the parent it binds to (exact match, as an INF does). */
  bindsRevisions: string[];
  /** Interfaces a child consumes from its parent, with the versions it was built against. */
  consumes: InterfaceRef[];
  /** Device protocol on xenstore (absent for drivers without a backend, e.g. xenbus itself). */
  device?: DeviceProtocol;
  /** Keys the driver writes under the guest's home (drivers/<N>, control/feature-suspend, ...). */
  guestKeys: KeySpec[];
  ring?: RingSpec;
  unplug?: UnplugSpec;
  registry: RegistryParam[];
  build: BuildSpec;
}

export interface DriverIdentity {
  services: string[];
  inf: string;
  deviceClass: string;
  classGuid?: string;
  files: PackageFile[];
  vendorPrefixes: VendorPrefix[];
  /**
   * Hardware IDs it binds to; `<prefix>`, `<device>` (the platform device's 4-hex-digit PCI device id:
   * 0001, 0002 or the vendor's own) and `<rev>` are placeholders filled per vendor and revision, e.g.
   * `XENBUS\VEN_<prefix><device>&DEV_VBD&REV_<rev>`. `expandHardwareIds` (spec-eval.ts) fills them.
   */
  hardwareIds: string[];
  /** The same IDs, structured (enumerator and device name), in the order of `hardwareIds`. */
  hardwareIdParts?: HardwareIdTemplate[];
  /** PCI vendor/device ranges (xenbus only). */
  pci?: PciIdRange[];
}

export interface HardwareIdTemplate {
  /** `PCI` for the platform device, else the parent bus enumerator (`XENBUS`, `XENVIF`). */
  enumerator: string;
  /** Device name after `DEV_` (`VIF`, `VBD`, `IFACE`, `NET`), or the PCI device id (4 hex digits). */
  device: string;
  /** Whether `&REV_<rev>` is part of the ID (child devices: yes; the PCI platform device: no). */
  withRevision: boolean;
}

export interface PackageFile {
  name: string;
  kind: 'inf' | 'sys' | 'cat' | 'dll' | 'coinstaller' | 'other';
  optional: boolean;
}

export interface VendorPrefix {
  prefix: string; // XP, XN, XS, ...
  vendor: string; // "Xen Project", "XCP-ng", ...
  /** PCI device-id range of the platform device for this vendor, inclusive, e.g. C200-C2FF. */
  deviceRange?: [number, number];
  /** The device id its builds use for `<device>` (VENDOR_DEVICE_ID), inside deviceRange. */
  deviceId?: number;
}

export interface PciIdRange {
  vendorId: number; // 0x5853
  deviceIds: number[]; // 0x0001, 0x0002
  description: string;
}

export interface Revision {
  /** 8 hex digits as in REV_xxxxxxxx. */
  id: string;
  interfaces: InterfaceRef[];
}

export interface InterfaceRef {
  name: string; // SUSPEND, SHARED_INFO, EVTCHN, DEBUG, STORE, RANGE_SET, CACHE, GNTTAB, UNPLUG, EMULATED, VIF, ...
  version: number;
  /** Which driver's interface family it is (`XENBUS`, `XENFILT`, `XENVIF`); absent means the parent's own. */
  provider?: string;
}

export type KeySide = 'frontend' | 'backend' | 'guest';
export type KeyType = 'int' | 'uint' | 'bool' | 'string' | 'enum' | 'mac' | 'state';

/** A key on one side, as conditions and constraints name it: `backend:multi-queue-max-queues`. */
export interface KeyRef {
  side: KeySide;
  name: string;
}

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

/**
 * One term of a `when` condition. Without `op` it is a feature test: the key is present and not `0`
 * (`negate`: absent or `0`). With `op` the key's value is compared with `value`; an absent key takes
 * its spec's `default`, and with no default the term is false.
 */
export interface Condition {
  ref: KeyRef;
  negate?: boolean;
  op?: CompareOp;
  value?: string | number;
}

/** A bound on a key's numeric value: `<= backend:multi-queue-max-queues` or `>= 1`. */
export interface Constraint {
  op: CompareOp;
  /** The other key (its value, or its spec's default when absent)... */
  ref?: KeyRef;
  /** ...or a number. */
  value?: number;
  /** The source text, for messages. */
  text: string;
}

/**
 * What a key's value is, so a frontend model knows what to write and a check what to compare:
 * `grant-ref` (a grant reference of the ring page), `event-channel` (a port), `ring-page-order`,
 * `queue-count`, `protocol`, `feature` (a 0/1 flag), `state` (XenbusState), `path`, `domid`,
 * `device-id`, `mac`, `mtu`, `size`, `version-string`, `address`, `name`, `other`.
 */
export type KeyRole =
  | 'grant-ref'
  | 'event-channel'
  | 'ring-page-order'
  | 'queue-count'
  | 'protocol'
  | 'feature'
  | 'state'
  | 'path'
  | 'domid'
  | 'device-id'
  | 'mac'
  | 'mtu'
  | 'size'
  | 'version-string'
  | 'address'
  | 'name'
  | 'other';

export interface KeySpec {
  /**
   * Relative to the side's device directory (or the guest home for guest keys); may contain
   * placeholders: `<i>` ring page index (0 .. 2^ring-page-order - 1), `<q>` queue index, `<N>` and `<n>`
   * decimal indexes, `<id>` a path component (device name). `keyNamePattern` (spec-eval.ts) matches real paths.
   */
  name: string;
  side: KeySide;
  type: KeyType;
  min?: number;
  max?: number;
  enumValues?: string[];
  pattern?: string;
  /**
   * Must be present (and valid) whenever the writer's state is at least this one and at most
   * Connected (4): the states are listed in `requiredStates`. Device keys are judged against the
   * writer's state; guest keys (no XenbusState) are required once the driver has started.
   */
  requiredFrom?: number;
  /** The XenbusStates (of the writer) in which the key must be present; derived from requiredFrom. */
  requiredStates?: number[];
  /** The writer writes the key while in this state, before leaving it (a frontend's ring keys: Initialising, 1). */
  writtenIn?: number;
  /** The key is written only when this feature/condition holds, e.g. `backend:multi-queue-max-queues > 1`. */
  when?: string;
  /** `when`, parsed: every term must hold. */
  conditions?: Condition[];
  /** Extra constraint in the small expression language: `<= backend:multi-queue-max-queues`. */
  constraint?: string;
  /** `constraint`, parsed (terms joined by `and`). */
  constraints?: Constraint[];
  /** One of a group of alternatives (e.g. `event-channel` vs split `event-channel-tx`/`-rx`). */
  alternativeGroup?: string;
  /** Value the reader assumes when the key is absent (backend `multi-queue-max-queues` absent = 1). */
  default?: string;
  /** The exact value the writer writes, when fixed (`x86_64-abi`, `1`). */
  value?: string;
  /** What the value is (see KeyRole). */
  role?: KeyRole;
  /** Written once per queue: under `queue-<q>/` when multi-queue-num-queues > 1, else in the device directory. */
  perQueue?: boolean;
  /** Whether the driver reads (honours) the key, for keys written by the other side or the toolstack. */
  read?: boolean;
  description?: string;
  source?: SourceLocation;
  /** Where the real driver writes or reads the key (file and function of its source), from the spec's `source`. */
  cites?: string;
  /** A REG_DWORD of the driver's Parameters key that, when non-zero, makes the driver write `0`
   *  instead of the fixed `value` (xenvif receiver.c ReceiverDisableIpVersion4Gso for feature-gso-tcpv4). */
  unlessRegistry?: string;
}

export interface StateTransition {
  from: number;
  to: number;
  /** Which procedure allows it: connect, reconnect, close, suspend-resume, surprise-removal, ... */
  phase: string;
  /** The other end's states in which this end makes the transition (a frontend's Initialising -> Initialised needs a backend in InitWait); absent: any. */
  peerStates?: number[];
}

export interface DeviceProtocol {
  type: DeviceType;
  keys: KeySpec[];
  /** Allowed frontend XenbusState transitions. */
  frontendTransitions: StateTransition[];
  /** Allowed backend transitions the frontend honours (used to judge both sides). */
  backendTransitions: StateTransition[];
  /** The frontend must not leave Initialising before the backend reached this state (InitWait). */
  waitsForBackendState: number;
  /** Frontend directory under the guest home, e.g. `device/vbd/<id>`. */
  frontendPath?: string;
  /** Backend directory under the backend domain's home, e.g. `backend/vbd/<domid>/<id>`. */
  backendPath?: string;
  /** The state the frontend ends in after a successful connect (Connected, 4). */
  connectedState?: number;
  /** Whether the driver writes its first connect state inside the transaction that writes its keys
   *  (the win-pv drivers do not: the keys' transaction ends, then the state is written on its own). */
  stateInConnectTransaction?: boolean;
  /** What the driver does with the keys it wrote when it closes (the win-pv drivers leave them). */
  keysOnClose?: 'kept' | 'removed';
  /** How many times the driver retries its connect transaction when the store answers EAGAIN
   *  (xenvif frontend.c FrontendConnect: 10; xenvbd frontend.c FrontendConnect: without limit). */
  connectTransactionRetries?: number;
}

export interface RingSpec {
  abi: RingAbi;
  /** Highest ring-page-order the driver ever uses (it also caps at the backend's max-ring-page-order). */
  maxRingPageOrder: number;
  multiQueue: boolean;
  /** Highest queue count the driver uses (it also caps at the backend's multi-queue-max-queues). */
  maxQueues?: number;
  /** Segments per indirect request the driver asks for (capped by the backend's feature-max-indirect-segments). */
  indirectSegments?: number;
  persistentGrants: boolean;
  splitEventChannels?: boolean;
  /** Segments in a direct request (blkif: 11). */
  segmentsPerRequest?: number;
  /** Uses the netif control ring (ctrl-ring-ref, event-channel-ctrl) when the backend offers feature-ctrl-ring. */
  controlRing?: boolean;
}

export interface UnplugSpec {
  /** Mask bits written to I/O port 0x10 (bit 0 disks, bit 1 NICs, bit 2 aux disks, bit 3 NVMe). */
  maskBits: { bit: number; name: string }[];
  /** Emulated device classes this driver asks xenbus to unplug (registry values under XEN\Unplug): `DISKS`, `NICS`. */
  requests?: string[];
  /** For the driver that does the port I/O (xenbus): the handshake numbers. */
  protocol?: { port: number; magic: number; blacklistedMagic: number; versionPort: number };
}

export interface RegistryParam {
  key: string; // HKLM\SYSTEM\CurrentControlSet\Services\XEN\Unplug
  value: string; // NICS
  type: 'REG_DWORD' | 'REG_SZ' | 'REG_MULTI_SZ';
  effect: string;
  /** Value the INF installs, when it installs one. */
  default?: string;
}

export interface BuildSpec {
  entry: string; // build.ps1 or a .sln
  configurations: string[]; // free, checked
  platforms: string[]; // x86, x64
  signModes: string[]; // TestSign, ReleaseSign, NoSign
  dependsOn: DriverName[];
  /** The solution msbuild builds, per Visual Studio (e.g. `vs2022/xenbus.sln`). */
  solutions?: string[];
}

/** All specs of a drivers-spec/ folder, by name. */
export type SpecSet = ReadonlyMap<DriverName, DriverSpec>;
