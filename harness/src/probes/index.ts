// Probes: subscribe through the host interface and emit trace events.
export { XenstoreProbe } from './xenstore-probe';
export { RingProbe, type RingProbeOptions } from './ring-probe';
