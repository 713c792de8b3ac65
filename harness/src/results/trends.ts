// The trend model the HTML report draws: per scenario and metric, the recorded points and the
// baseline band (median and 95 % spread of the runs before the newest).
import type { Trend } from '../model/results';
import type { HistoryRow, ResultsStore } from './store';
import { median, quantile } from '../model/regression';

export async function trendsFor(store: ResultsStore, scenario: string, opts: TrendOptions = {}): Promise<Trend[]> {
  return trendsOf(store, [scenario], opts);
}

export interface TrendOptions {
  metrics?: string[];
  limit?: number;
  hostClass?: string;
  windowsBuild?: string;
}

/** The trends of several scenarios (a run's) from one query of the store. */
export async function trendsOf(store: ResultsStore, scenarios: readonly string[], opts: TrendOptions = {}): Promise<Trend[]> {
  const all = await store.histories({ scenarios, ...(opts.metrics ? { metrics: opts.metrics } : {}), hostClass: opts.hostClass, windowsBuild: opts.windowsBuild }, { limit: opts.limit ?? 50 });
  const out: Trend[] = [];
  for (const scenario of scenarios) {
    for (const [metric, rows] of [...(all.get(scenario) ?? new Map<string, HistoryRow[]>())].sort(([a], [b]) => a.localeCompare(b))) {
      if (opts.metrics && !opts.metrics.includes(metric)) continue;
      const before = rows.slice(0, -1).map((r) => r.value);
      const sorted = [...before].sort((a, b) => a - b);
      out.push({
        scenario, metric, unit: rows[0].unit, better: rows[0].better,
        points: rows.map((r) => ({ runId: r.runId, startedAt: r.startedAt, driverVersion: r.driverVersion, value: r.value })),
        ...(before.length >= 3 ? { baseline: { median: median(before), low: quantile(sorted, 0.025), high: quantile(sorted, 0.975), runs: before.length } } : {}),
      });
    }
  }
  return out;
}
