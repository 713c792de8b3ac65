// The trend model the HTML report draws: per scenario and metric, the recorded points and the
// baseline band (median and 95 % spread of the runs before the newest).
import type { MetricValue, Trend } from '../model/results';
import type { HistoryRow, ResultsStore } from './store';
import type { RunRecord } from './record';
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
  return foldTrends(await store.histories({ scenarios, ...(opts.metrics ? { metrics: opts.metrics } : {}), hostClass: opts.hostClass, windowsBuild: opts.windowsBuild }, { limit: opts.limit ?? 50 }), scenarios, opts);
}

/** Histories read before a run was recorded, with the run's own points added the way the store's
 *  histories() would show them once it is (per scenario and metric the mean over the run's
 *  instances, in start order, the newest `limit` kept). `winpv run` reads the history while the run
 *  goes on and draws the trends as it ends, so its report is written once, not again after the insert. */
export function withRun(histories: Histories, rec: RunRecord, limit: number): Histories {
  const sums = new Map<string, Map<string, { sum: number; n: number; unit: string; better: MetricValue['better'] }>>();
  for (const i of rec.instances) {
    const byMetric = sums.get(i.scenario) ?? sums.set(i.scenario, new Map()).get(i.scenario)!;
    for (const m of i.metrics) {
      const s = byMetric.get(m.name) ?? byMetric.set(m.name, { sum: 0, n: 0, unit: m.unit, better: m.better }).get(m.name)!;
      s.sum += m.value;
      s.n++;
    }
  }
  const out: Histories = new Map([...histories].map(([scenario, byMetric]) => [scenario, new Map([...byMetric].map(([metric, rows]) => [metric, rows.filter((r) => r.runId !== rec.runId)]))]));
  for (const [scenario, byMetric] of sums) {
    const into = out.get(scenario) ?? out.set(scenario, new Map()).get(scenario)!;
    for (const [metric, s] of byMetric) {
      const rows = [...(into.get(metric) ?? []), { runId: rec.runId, startedAt: new Date(rec.startedAt).toISOString(), driverVersion: rec.driverVersion, value: s.sum / s.n, unit: s.unit, better: s.better }];
      rows.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
      into.set(metric, rows.slice(-limit));
    }
  }
  return out;
}

type Histories = Map<string, Map<string, HistoryRow[]>>;

/** Trends from histories (scenario -> metric -> rows, oldest first). */
export function foldTrends(all: Histories, scenarios: readonly string[], opts: Pick<TrendOptions, 'metrics'> = {}): Trend[] {
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
