// Workload tools' result documents: diskspd -Rxml and NTttcp -xml, parsed into the trace's
// BlockResult / NetResult, and written by the simulator's Windows guest.
export { renderDiskspdXml, parseDiskspdXml, percentile, REPORTED_PERCENTILES } from './diskspd';
export type { DiskspdRun, DiskspdThread, DiskspdTarget, DiskspdCpu } from './diskspd';
export { renderNtttcpXml, parseNtttcpXml } from './ntttcp';
export type { NtttcpRun, NtttcpThread } from './ntttcp';
