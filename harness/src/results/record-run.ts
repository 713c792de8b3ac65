// Recording a finished run into the store, as `winpv run` does when a store is in use. The reports
// are written first and stay the source: a store that cannot be reached or refuses the run costs a
// warning, never the run or its reports, and `winpv results import <dir>` loads it later.
import { existsSync } from 'node:fs';
import type { TraceEvent } from '../model/trace';
import type { TrendSeries } from '../model/report-input';
import type { Trend } from '../model/results';
import { maskUrl } from './db';
import { readRunDir } from './record';
import { ResultsStore } from './store';
import { trendsOf } from './trends';

/** Which store `winpv run` records into: the one configured (--db, WINPV_DB, config), else the default
 *  data directory once it exists (made by the first `winpv results import`), else none. */
export function runStoreTarget(configured: string | undefined, defaultDataDir: string): string | undefined {
  if (configured === 'none' || configured === '') return undefined;
  if (configured !== undefined) return configured;
  return existsSync(defaultDataDir) ? defaultDataDir : undefined;
}

/** The report's form of a store trend (report/ may not import results/). */
export function trendSeries(t: Trend): TrendSeries {
  return {
    scenario: t.scenario,
    metric: t.metric,
    unit: t.unit,
    lowerIsBetter: t.better === 'lower',
    points: t.points.map((p) => ({ run: p.runId, at: p.startedAt, build: p.driverVersion, value: p.value })),
    ...(t.baseline ? { baseline: { low: t.baseline.low, high: t.baseline.high, centre: t.baseline.median, method: `2.5-97.5 % of the ${t.baseline.runs} runs before` } } : {}),
  };
}

/** Records the run in dir and reads back the trends of its scenarios (for report.html); returns a
 *  warning to print when it could not. */
export async function recordRunDir(target: string, dir: string, harnessVersion: string, events?: readonly TraceEvent[]): Promise<{ recorded?: string; warning?: string; trends?: TrendSeries[] }> {
  try {
    const rec = readRunDir(dir, harnessVersion, events);
    const store = await ResultsStore.open(target);
    try {
      await store.record(rec);
      const trends = (await trendsOf(store, [...new Set(rec.instances.map((i) => i.scenario))], { hostClass: rec.hostKind, windowsBuild: rec.windowsBuild, limit: 30 })).map(trendSeries);
      return { recorded: store.label, trends };
    } finally {
      await store.close().catch(() => undefined);
    }
  } catch (e) {
    return { warning: `the results store ${maskUrl(target)} did not record this run (${(e as Error).message}); the reports are complete: load them later with winpv results import ${dir}` };
  }
}
