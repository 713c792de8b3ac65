// Recording a finished run into the store, as `winpv run` does when a store is in use. The reports
// are written first and stay the source: a store that cannot be reached or refuses the run costs a
// warning, never the run or its reports, and `winpv results import <dir>` loads it later.
import { existsSync } from 'node:fs';
import type { ReportInput, TrendSeries } from '../model/report-input';
import type { BaselineSource, Trend } from '../model/results';
import { maskUrl } from './db';
import { readRunDir, type RunRecord } from './record';
import { ResultsStore, type HistoryRow } from './store';
import { foldTrends, trendsOf, withRun } from './trends';
import { storeBaselines } from './baselines';

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

const TREND_RUNS = 30;

export interface RunStoreKey {
  /** The scenarios of the run's plan. */
  scenarios: readonly string[];
  hostKind: string;
  /** The Windows build the run will be recorded under (baselines.ts windowsBuildOfPlan). */
  windowsBuild: string;
}

/** The store a run is recorded in. It is opened as the run starts (PGlite in a thread of its own),
 *  and the history of the run's scenarios is read while the run goes on; as the run ends, the report
 *  gets its trends from that history and the run's own figures (reportInput), while the store
 *  records the run; finish() waits for that and closes the store. A store that cannot be reached,
 *  fails or stops answering (every wait has a deadline: db-thread.ts, pg's timeouts) costs the
 *  report its trends and the run a warning, never the run or its reports. */
export class RunRecorder {
  private readonly store: Promise<ResultsStore>;
  private readonly history: Promise<Map<string, Map<string, HistoryRow[]>>>;
  private recording?: Promise<unknown>;
  private closed?: Promise<void>;
  /** The regression check's baselines, read from the same store. */
  readonly baselines: BaselineSource;

  constructor(
    readonly target: string,
    private readonly key: RunStoreKey,
  ) {
    this.store = ResultsStore.open(target, { thread: true });
    this.history = this.store.then((s) => s.histories({ scenarios: key.scenarios, hostClass: key.hostKind, windowsBuild: key.windowsBuild }, { limit: TREND_RUNS }));
    this.store.catch(() => undefined); // said by finish()
    this.history.catch(() => undefined);
    this.baselines = storeBaselines(() => this.store, key.hostKind, key.windowsBuild);
  }

  /** As the run ends (its reports being written): starts recording it, and returns what the report
   *  adds from the history (the trends of its scenarios), nothing when the store failed. */
  async reportInput(rec: RunRecord): Promise<ReportInput> {
    this.recording = this.store.then((s) => s.record(rec));
    this.recording.catch(() => undefined);
    try {
      const scenarios = [...new Set(rec.instances.map((i) => i.scenario))];
      const sameKey = rec.hostKind === this.key.hostKind && rec.windowsBuild === this.key.windowsBuild;
      // the history read under another key than the run is recorded under: read it again once recorded
      const trends = sameKey
        ? foldTrends(withRun(await this.history, rec, TREND_RUNS), scenarios)
        : (await this.recording, await trendsOf(await this.store, scenarios, { hostClass: rec.hostKind, windowsBuild: rec.windowsBuild, limit: TREND_RUNS }));
      return trends.length ? { trends: trends.map(trendSeries) } : {};
    } catch {
      return {}; // finish() says why
    }
  }

  /** Waits for the run to be recorded (recording it from dir, its files read back, if reportInput
   *  was not called) and closes the store; returns where it went, or the warning to print. */
  async finish(dir: string, harnessVersion: string): Promise<{ recorded?: string; warning?: string }> {
    try {
      const store = await this.store;
      await (this.recording ??= store.record(readRunDir(dir, harnessVersion)));
      return { recorded: store.label };
    } catch (e) {
      return { warning: `the results store ${maskUrl(this.target)} did not record this run (${(e as Error).message}); the reports are complete: load them later with winpv results import ${dir}` };
    } finally {
      await this.close();
    }
  }

  /** Closes the store (ends PGlite's thread); also when the run failed before it could be recorded. */
  close(): Promise<void> {
    return (this.closed ??= this.store.then((s) => s.close(), () => undefined).catch(() => undefined));
  }
}
