// The trend model the HTML report draws: per scenario and metric, the recorded points and the
// baseline band (median and 95 % spread of the runs before the newest).
import type { HistoryKey, Trend } from '../model/results';
import type { ResultsStore } from './store';
import { median, quantile } from '../model/regression';

export async function trendsFor(store: ResultsStore, scenario: string, opts: { metrics?: string[]; limit?: number; hostClass?: string; windowsBuild?: string } = {}): Promise<Trend[]> {
  const names = opts.metrics ?? (await store.metricNames(scenario));
  const out: Trend[] = [];
  for (const metric of names) {
    const key: HistoryKey = { scenario, metric, hostClass: opts.hostClass, windowsBuild: opts.windowsBuild };
    const rows = await store.history(key, { limit: opts.limit ?? 50 });
    if (!rows.length) continue;
    const before = rows.slice(0, -1).map((r) => r.value);
    const sorted = [...before].sort((a, b) => a - b);
    out.push({
      scenario, metric, unit: rows[0].unit, better: rows[0].better,
      points: rows.map((r) => ({ runId: r.runId, startedAt: r.startedAt, driverVersion: r.driverVersion, value: r.value })),
      ...(before.length >= 3 ? { baseline: { median: median(before), low: quantile(sorted, 0.025), high: quantile(sorted, 0.975), runs: before.length } } : {}),
    });
  }
  return out;
}
