// What the simulated host's parts share without importing the host itself: a guest as the host
// keeps it, and the narrow view of the host the fault injector works through (faults.ts), so
// faults.ts and sim-host.ts do not import each other.
import type { GuestPowerState, GuestRef, SuspendCapability } from '../../model/host';
import type { DeviceRef, GuestShape } from '../../model/scenario';
import type { TraceEventInput } from '../../model/trace';
import type { Domain, Hypervisor } from '../../sim/hypervisor';
import type { Rng } from '../../sim/random';
import type { Toolstack } from '../../sim/toolstack';
import type { WindowsGuest } from '../../sim/windows/guest';
import type { SimXenstore } from '../../sim/xs-adapter';
import type { SimXenstoreView } from './views';

export interface SimGuest {
  ref: GuestRef;
  shape: GuestShape;
  inst: string;
  dom: Domain;
  win: WindowsGuest;
  rng: Rng;
  power: GuestPowerState;
}

/** The simulated host as the fault injector sees it (SimHost implements it). */
export interface FaultTarget {
  readonly hv: Hypervisor;
  readonly xenstore: SimXenstoreView;
  readonly xenstored: SimXenstore;
  readonly guests: ReadonlyMap<string, SimGuest>;
  readonly suspend: SuspendCapability;
  ts(): Toolstack;
  emit(e: TraceEventInput): void;
  guest(ref: GuestRef): SimGuest;
  detachDevice(ref: GuestRef, dev: DeviceRef, surprise: boolean): Promise<void>;
  crash(g: SimGuest): void;
}
