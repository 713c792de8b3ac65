// The simulated host backend (`--host sim`).
export { SimHost, SIM_CAPABILITIES, isSimHost } from './sim-host';
export type { SimHostOptions, SimGuest } from './sim-host';
export { FAULT_SYMPTOMS } from './faults';
