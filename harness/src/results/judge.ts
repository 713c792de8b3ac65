// Regression verdicts for a whole recorded run: every metric of every instance against the same
// scenario's history on the same host class and Windows build, runs before this one only.
import type { RegressionVerdict } from '../model/results';
import type { RunRecord } from './record';
import type { ResultsStore } from './store';
import { judgeRegression } from '../model/regression';

export interface JudgeOptions {
  tolerance: number;
  window: number;
  minHistory: number;
  metrics?: string[];
  seed: number;
}

export async function judgeRun(store: ResultsStore, rec: RunRecord, o: JudgeOptions): Promise<(RegressionVerdict & { inst: string; scenario: string })[]> {
  const out: (RegressionVerdict & { inst: string; scenario: string })[] = [];
  for (const i of rec.instances) {
    for (const m of i.metrics) {
      if (o.metrics && !o.metrics.includes(m.name)) continue;
      const hist = await store.history({ scenario: i.scenario, metric: m.name, hostClass: rec.hostKind, windowsBuild: rec.windowsBuild }, { limit: o.window, before: rec.startedAt });
      const v = judgeRegression(m.name, hist.filter((h) => h.runId !== rec.runId).map((h) => h.value), [m.value], { tolerance: o.tolerance, better: m.better, minHistory: o.minHistory, seed: o.seed });
      out.push({ ...v, inst: i.inst, scenario: i.scenario });
    }
  }
  return out;
}
