// The reporter interface. Reporters see results (never hosts or probes; the HTML report alone also
// reads the run's trace events), so a live run, `winpv check` on a stored trace and `winpv report
// merge` render identically.
//
// Call order: onRunStart once; then per instance in plan order onInstanceStart, onInstanceEnd
// (a skipped instance gets both); onRunEnd once, with bailOut set when the run stopped early.
// Every method is optional. A reporter that throws is turned into a run error, not a crash.
import type { InstanceResult, RunSummary } from './result';

export interface RunInfo {
  seed: number;
  host: { kind: string; label: string };
  instances: string[];
}

export interface Reporter {
  onRunStart?(info: RunInfo): void | Promise<void>;
  onInstanceStart?(inst: string): void | Promise<void>;
  onInstanceEnd?(result: InstanceResult): void | Promise<void>;
  onRunEnd?(summary: RunSummary): void | Promise<void>;
}
