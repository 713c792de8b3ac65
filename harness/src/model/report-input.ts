// What the HTML report takes beside the run's results and trace: marks a results history gives an
// instance (flaky, known issue), trends of metrics over past runs, and the builds under test. All
// optional: a report with none of them is a complete report of one run. A results store fills them
// in; the report only renders what it is given.
import type { Verdict } from './result';

/** An instance that failed, then passed when rerun (`--retries`). */
export interface FlakyMark {
  /** Runs of the instance in this run, the passing one included. */
  attempts: number;
  failedAttempts: number;
}

/** A failure that matched a known-issues entry. */
export interface KnownMark {
  /** The issue's name, e.g. `XSA-123` or `xenvbd#42`. */
  issue: string;
  url?: string;
  /** What matched (the symptom pattern). */
  symptom?: string;
}

/** What a results history says of one instance; without it the report reads the run's own
 * `InstanceResult.flaky`/`attempts`/`known` (`--retries`, the known-issues file). */
export interface InstanceMarks {
  flaky?: FlakyMark;
  known?: KnownMark;
}

/** One past run's value of a metric. The last point is this run's when it was recorded. */
export interface TrendPoint {
  /** Run id (shown in the tooltip). */
  run: string;
  /** ISO date of the run, when known. */
  at?: string;
  /** Driver build of the run. */
  build?: string;
  value: number;
  verdict?: Verdict;
}

/** The last N runs of one scenario's metric, with the band its history calls normal. */
export interface TrendSeries {
  scenario: string;
  /** e.g. `vbd/51712 read throughput`. */
  metric: string;
  /** e.g. `MB/s`, `ms`. */
  unit: string;
  lowerIsBetter?: boolean;
  points: TrendPoint[];
  /** The baseline window's band (e.g. a bootstrap confidence interval) and how it was made. */
  baseline?: { low: number; high: number; centre?: number; method?: string };
}

/** Builds under test, where the trace does not say (it names the drivers' versions, not Windows'). */
export interface BuildInfo {
  driver?: string;
  windows?: string;
}

export interface ReportInput {
  /** Keyed by instance id. */
  marks?: Record<string, InstanceMarks>;
  trends?: TrendSeries[];
  builds?: BuildInfo;
}
