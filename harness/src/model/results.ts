// The results store's shared shapes: what a recorded run holds, what a regression verdict says, and
// the trend model the HTML report draws (per scenario and metric, points plus a baseline band).

/** Which runs are comparable: same scenario, host class and Windows build. */
export interface HistoryKey {
  scenario: string;
  metric: string;
  /** Host kind (`sim`, `xl`, `xapi`); absent = any. */
  hostClass?: string;
  /** Windows build (the guest image or template the run booted; `sim` on the simulator); absent = any. */
  windowsBuild?: string;
}

/** One metric of one instance of one run. `better` says which direction is an improvement. */
export interface MetricValue {
  name: string;
  value: number;
  unit: string;
  better: 'higher' | 'lower';
}

export interface TrendPoint {
  runId: string;
  startedAt: string;
  driverVersion: string;
  value: number;
}

export interface Trend {
  scenario: string;
  metric: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Oldest first. */
  points: TrendPoint[];
  /** The baseline window's centre (median) and spread (empirical 2.5 % and 97.5 % quantiles) over the
   *  runs before the newest one; absent when there is too little history. */
  baseline?: { median: number; low: number; high: number; runs: number };
}

export type RegressionMethod = 'bootstrap' | 'mann-whitney';

export interface RegressionVerdict {
  verdict: 'pass' | 'fail' | 'skip';
  metric: string;
  /** Relative change of the new value(s) from the baseline median: -0.15 is 15 % lower. */
  change?: number;
  /** Confidence interval of the change (bootstrap) or p-value (Mann-Whitney U). */
  ci?: [number, number];
  p?: number;
  method: RegressionMethod;
  baselineRuns: number;
  tolerance: number;
  significant?: boolean;
  /** One line saying how far the value is from the baseline, the method and why the verdict. */
  message: string;
}

/** A metric's history as the regression check reads it from a `baseline` trace event. */
export interface Baseline {
  metric: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Comparable earlier runs' values, oldest first. */
  values: number[];
  hostClass: string;
  windowsBuild: string;
  note?: string;
}

/** Where the runner gets an ending instance's baselines (the results store, given by the CLI). */
export type BaselineSource = (q: { scenario: string; metrics: readonly MetricValue[]; window: number }) => Promise<Baseline[]>;
