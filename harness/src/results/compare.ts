// Two recorded runs side by side: verdict changes per instance and metric changes with the
// regression verdict of the newer value against the history up to and including the older run.
import { usageError } from '../model/errors';
import type { RegressionVerdict } from '../model/results';
import type { ResultsStore, StoredRun } from './store';
import { judgeRegression } from '../model/regression';

export interface RunComparison {
  a: Pick<StoredRun, 'runId' | 'startedAt' | 'driverVersion'>;
  b: Pick<StoredRun, 'runId' | 'startedAt' | 'driverVersion'>;
  newFailures: string[];
  fixed: string[];
  flaky: string[];
  onlyInA: string[];
  onlyInB: string[];
  metrics: { inst: string; metric: string; unit: string; a: number; b: number; change: number; regression: RegressionVerdict }[];
}

export async function compareRuns(store: ResultsStore, idA: string, idB: string, o: { tolerance: number; window?: number }): Promise<RunComparison> {
  const a = await store.run(idA);
  const b = await store.run(idB);
  const missing = [!a && idA, !b && idB].filter(Boolean);
  if (missing.length) throw usageError(`not in the results store ${store.label}: ${missing.join(', ')} (load a run with winpv results import reports/<run>)`);
  const ia = new Map(a!.instances.map((i) => [i.inst, i]));
  const ib = new Map(b!.instances.map((i) => [i.inst, i]));
  const c: RunComparison = {
    a: { runId: a!.runId, startedAt: a!.startedAt, driverVersion: a!.driverVersion },
    b: { runId: b!.runId, startedAt: b!.startedAt, driverVersion: b!.driverVersion },
    newFailures: [], fixed: [], flaky: [], onlyInA: [], onlyInB: [], metrics: [],
  };
  for (const [k, x] of ib) {
    const old = ia.get(k);
    if (x.flaky) c.flaky.push(k);
    if (!old) c.onlyInB.push(k);
    else if (x.verdict === 'fail' && old.verdict !== 'fail') c.newFailures.push(k);
    else if (x.verdict === 'pass' && old.verdict === 'fail') c.fixed.push(k);
  }
  for (const k of ia.keys()) if (!ib.has(k)) c.onlyInA.push(k);
  const ma = new Map(a!.metrics.map((m) => [`${m.inst}\u0000${m.name}`, m]));
  for (const m of b!.metrics) {
    const old = ma.get(`${m.inst}\u0000${m.name}`);
    if (!old) continue;
    // history up to and including A (B itself and anything after A excluded)
    const hist = (await store.history({ scenario: m.scenario, metric: m.name, hostClass: b!.hostKind, windowsBuild: b!.windowsBuild }, { limit: o.window ?? 20, before: new Date(Date.parse(a!.startedAt) + 1).toISOString() }))
      .filter((h) => h.runId !== b!.runId);
    c.metrics.push({
      inst: m.inst, metric: m.name, unit: m.unit, a: old.value, b: m.value, change: old.value === 0 ? 0 : m.value / old.value - 1,
      regression: judgeRegression(m.name, hist.map((h) => h.value), [m.value], { tolerance: o.tolerance, better: m.better }),
    });
  }
  return c;
}
