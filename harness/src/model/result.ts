// Verdicts: what checks produce from a trace and what reporters consume.
import type { CheckName } from './catalog';
import type { ErrorInfo } from './errors';

export type Verdict = 'pass' | 'fail' | 'skip';

/** YAML diagnostics of a failed check point (TAP 14). */
export interface Diagnostics {
  expected?: unknown;
  observed?: unknown;
  /** Trace time (ms) of the offending observation. */
  at?: number;
  path?: string; // xenstore path
  ring?: string; // `vbd/51712 q0 blk`
  seq?: number; // trace event
  [more: string]: unknown;
}

export interface CheckResult {
  check: CheckName;
  verdict: Verdict;
  /** One line: what was judged, e.g. `vbd/51712: Initialising -> InitWait -> Connected`. */
  message: string;
  diagnostics?: Diagnostics;
}

export interface InstanceResult {
  inst: string;
  scenario: string;
  file: string;
  params: Record<string, string>;
  tags: string[];
  /** skip: whole instance skipped (reason in skipReason); fail: a check failed or the run aborted. */
  verdict: Verdict;
  skipReason?: string;
  /** Why the instance stopped early; its kind decides the run's exit status (cli/run-support.ts). */
  aborted?: ErrorInfo;
  checks: CheckResult[];
  durationMs: number;
  /** How many times the instance ran (`--retries`); absent = once. */
  attempts?: number;
  /** Failed, then passed on a retry. */
  flaky?: boolean;
  /** A failure that matches the known-issues file: the issue it is tracked under. */
  known?: { issue: string; check: string };
}

export interface RunSummary {
  seed: number;
  host: { kind: string; label: string };
  complete: boolean;
  bailOut?: string;
  counts: { instances: number; passed: number; failed: number; skipped: number; checks: number; checksFailed: number; flaky?: number; known?: number };
  /** Known issues whose scenario ran and passed: they may be fixed and can be closed. */
  knownNotFailing?: { issue: string; scenario: string; check: string }[];
  instances: InstanceResult[];
  /** With --repeat-each N > 1: per instance, how its repetitions fared (runner/repeat.ts). */
  passRates?: PassRate[];
}

export interface PassRate {
  /** The instance id without the repetition mark. */
  inst: string;
  runs: number;
  passed: number;
  failed: number;
  skipped: number;
  /** passed / (runs - skipped); absent when every repetition was skipped. */
  rate?: number;
  /** The repetitions that failed (their ids), to look at in the trace. */
  failures: string[];
}
