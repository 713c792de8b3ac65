// One measured number of `npm run bench`, with the baseline measured in the same run.
export interface BenchFigure {
  /** What is measured, e.g. "xenstore". */
  group: string;
  name: string;
  value: number;
  /** ops/s, us, ... */
  unit: string;
  /** The same workload on the reference (e.g. the C xenstored), measured in the same run. */
  baseline?: { name: string; value: number };
  /** How many times better than the baseline (>1: better); for latencies baseline/value. */
  ratio?: number;
  /** Latencies: lower is better (the ratio is inverted). Default: higher is better. */
  lowerIsBetter?: boolean;
  /** Why there is no baseline, or other context for the reader. */
  note?: string;
  /** What failed in the run the figure measures (instances that did not pass): such a figure times
   *  something other than what it names, and is printed with a WARNING line. */
  failed?: string;
}

export interface BenchModule {
  run(): Promise<BenchFigure[]>;
}

/** The ratio as BenchFigure defines it. */
export function ratioOf(value: number, baseline: number, lowerIsBetter = false): number {
  if (!(value > 0) || !(baseline > 0)) return NaN;
  return lowerIsBetter ? baseline / value : value / baseline;
}
