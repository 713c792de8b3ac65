// The regression check's baselines from the results store: for each metric an ending instance
// measured, the values of the same scenario's earlier runs on the same host class and Windows build
// (the run-level key the store records runs under: results/record.ts), from the store the run
// records into (record-run.ts RunRecorder opens and closes it).
import type { BaselineSource, MetricValue } from '../model/results';
import type { PlanInstance } from '../model/plan';
import type { ResultsStore } from './store';

/** The Windows build a run is recorded under: its Windows guests' images, as recordFromRun names it. */
export function windowsBuildOfPlan(instances: readonly PlanInstance[], hostKind: string): string {
  const images = new Set<string>();
  for (const i of instances) {
    if (i.skip) continue;
    for (const g of i.scenario.guests) if (g.os === 'windows') images.add(g.image ?? (hostKind === 'sim' ? 'sim' : 'unknown'));
  }
  return [...images].sort().join(',') || (hostKind === 'sim' ? 'sim' : 'unknown');
}

export function storeBaselines(store: () => Promise<ResultsStore>, hostKind: string, windowsBuild: string): BaselineSource {
  return async ({ scenario, metrics, window }) => {
    const s = await store();
    const hist = (await s.histories({ scenarios: [scenario], metrics: metrics.map((m) => m.name), hostClass: hostKind, windowsBuild }, { limit: window })).get(scenario);
    return metrics.map((m: MetricValue) => ({ metric: m.name, unit: m.unit, better: m.better, values: (hist?.get(m.name) ?? []).map((h) => h.value), hostClass: hostKind, windowsBuild }));
  };
}
