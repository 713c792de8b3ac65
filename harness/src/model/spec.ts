// The driver contract, as loaded from drivers-spec/<driver>.xml. Pure data: the simulator's
// reference frontends, the checks and the package verifier all read these objects, so a change
// to a spec changes every one of them.
import type { SourceLocation } from './errors';

export type DriverName = 'xenbus' | 'xenvif' | 'xennet' | 'xenvbd' | 'xeniface' | 'xencons' | 'xenhid';
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
  /** Hardware IDs it binds to; `<prefix>` and `<rev>` are placeholders filled per vendor and revision. */
  hardwareIds: string[];
  /** PCI vendor/device ranges (xenbus only). */
  pci?: PciIdRange[];
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
}

export type KeySide = 'frontend' | 'backend' | 'guest';
export type KeyType = 'int' | 'uint' | 'bool' | 'string' | 'enum' | 'mac' | 'state';

export interface KeySpec {
  /** Relative to the side's device directory (or the guest home for guest keys); may contain `<N>` or `<q>` placeholders. */
  name: string;
  side: KeySide;
  type: KeyType;
  min?: number;
  max?: number;
  enumValues?: string[];
  pattern?: string;
  /** Must be present (and valid) whenever the writer's state is at least this one. */
  requiredFrom?: number;
  /** The key is written only when this feature/condition holds, e.g. `backend:multi-queue-max-queues`. */
  when?: string;
  /** Extra constraint in the small expression language: `<= backend:multi-queue-max-queues`. */
  constraint?: string;
  /** One of a group of alternatives (e.g. `event-channel` vs split `event-channel-tx`/`-rx`). */
  alternativeGroup?: string;
  description?: string;
  source?: SourceLocation;
}

export interface StateTransition {
  from: number;
  to: number;
  /** Which procedure allows it: connect, reconnect, close, suspend-resume, surprise-removal, ... */
  phase: string;
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
}

export interface RingSpec {
  abi: RingAbi;
  maxRingPageOrder: number;
  multiQueue: boolean;
  maxQueues?: number;
  indirectSegments?: number;
  persistentGrants: boolean;
  splitEventChannels?: boolean;
}

export interface UnplugSpec {
  /** Mask bits written to I/O port 0x10 (bit 0 disks, bit 1 NICs, bit 2 aux disks, bit 3 NVMe). */
  maskBits: { bit: number; name: string }[];
}

export interface RegistryParam {
  key: string; // HKLM\SYSTEM\CurrentControlSet\Services\XEN\Unplug
  value: string; // NICS
  type: 'REG_DWORD' | 'REG_SZ' | 'REG_MULTI_SZ';
  effect: string;
}

export interface BuildSpec {
  entry: string; // build.ps1 or a .sln
  configurations: string[]; // free, checked
  platforms: string[]; // x86, x64
  signModes: string[]; // TestSign, ReleaseSign, NoSign
  dependsOn: DriverName[];
}

/** All specs of a drivers-spec/ folder, by name. */
export type SpecSet = ReadonlyMap<DriverName, DriverSpec>;
