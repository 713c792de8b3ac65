// Recording a finished run into the store, as `winpv run` does when a store is in use. The reports
// are written first and stay the source: a store that cannot be reached or refuses the run costs a
// warning, never the run or its reports, and `winpv results import <dir>` loads it later.
import { existsSync } from 'node:fs';
import type { ReportInput, TrendSeries } from '../model/report-input';
import type { BaselineSource, Trend } from '../model/results';
import { maskUrl } from './db';
import type { RunRecord } from './record';
import { ResultsStore, type HistoryRow } from './store';
import { foldTrends, trendsOf, withRun } from './trends';
import { storeBaselines } from './baselines';
import { BackgroundPriority } from './thread-priority';

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

/** The store a run is recorded in. It is opened as `winpv run` starts, before the scenarios and
 *  specs are loaded (PGlite in a thread of its own, so its start-up runs beside them, at the lowest
 *  CPU priority until something waits for it: thread-priority.ts); once the plan
 *  is made (planned()) the history of its scenarios is read while the run goes on; as the run ends,
 *  the report gets its trends from that history and the run's own figures (reportInput), while the
 *  store records the run; finish() waits for that and closes the store. close() ends it on every
 *  other way out of the command. A store that cannot be reached, fails or stops answering (every
 *  wait has a deadline: db-thread.ts, pg's timeouts) costs the report its trends and the run a
 *  warning, never the run or its reports. */
export class RunRecorder {
  private readonly store: Promise<ResultsStore>;
  /** PGlite's thread runs at the lowest priority until something waits for it (thread-priority.ts). */
  readonly priority = new BackgroundPriority();
  private key?: RunStoreKey;
  private history?: Promise<Map<string, Map<string, HistoryRow[]>>>;
  private recording?: Promise<unknown>;
  private closed?: Promise<void>;

  constructor(readonly target: string) {
    this.store = ResultsStore.open(target, { thread: true, background: this.priority });
    this.store.catch(() => undefined); // said by finish()
  }

  /** The run's plan is made: the history of its scenarios, under the key the run will be recorded
   *  under, is read while the run goes on. */
  planned(key: RunStoreKey): void {
    this.key = key;
    this.history = this.store.then((s) => s.histories({ scenarios: key.scenarios, hostClass: key.hostKind, windowsBuild: key.windowsBuild }, { limit: TREND_RUNS }));
    this.history.catch(() => undefined);
  }

  /** The regression check's baselines, read from the same store under the planned key. */
  get baselines(): BaselineSource {
    if (!this.key) throw new Error('RunRecorder.baselines before planned()');
    return storeBaselines(() => (this.priority.foreground(), this.store), this.key.hostKind, this.key.windowsBuild);
  }

  /** As the run ends (its reports being written): starts recording it, and returns what the report
   *  adds from the history (the trends of its scenarios), nothing when the store failed. Nothing asks
   *  the store anything after this, so its close follows the insert in its thread at once, while
   *  report.html is drawn (finish() waits for both). */
  async reportInput(rec: RunRecord): Promise<ReportInput> {
    this.priority.foreground();
    this.record(() => rec);
    try {
      const scenarios = [...new Set(rec.instances.map((i) => i.scenario))];
      const key = this.key;
      // the history read under another key than the run is recorded under (or none read): read it again once recorded
      const trends = this.history && key && rec.hostKind === key.hostKind && rec.windowsBuild === key.windowsBuild
        ? foldTrends(withRun(await this.history, rec, TREND_RUNS), scenarios)
        : (await this.recording, await trendsOf(await this.store, scenarios, { hostClass: rec.hostKind, windowsBuild: rec.windowsBuild, limit: TREND_RUNS }));
      return trends.length ? { trends: trends.map(trendSeries) } : {};
    } catch {
      return {}; // finish() says why
    } finally {
      void this.close();
    }
  }

  /** Waits for the run to be recorded (recording it now, from `rec`, if reportInput was not called:
   *  the report files failed before report.html) and closes the store; returns where it went, or the
   *  warning to print, naming the run directory `winpv results import` loads it from later. */
  async finish(dir: string, rec: () => RunRecord): Promise<{ recorded?: string; warning?: string }> {
    this.priority.foreground();
    try {
      const store = await this.store;
      await this.record(rec);
      return { recorded: store.label };
    } catch (e) {
      return { warning: `the results store ${maskUrl(this.target)} did not record this run (${(e as Error).message}); the reports are complete: load them later with winpv results import ${dir}` };
    } finally {
      await this.close();
    }
  }

  /** Records the run once (the first record given). */
  private record(rec: () => RunRecord): Promise<unknown> {
    if (!this.recording) {
      this.recording = this.store.then((s) => s.record(rec()));
      this.recording.catch(() => undefined);
    }
    return this.recording;
  }

  /** Closes the store (ends PGlite's thread); also when the command ended before the run could be recorded. */
  close(): Promise<void> {
    this.priority.foreground();
    return (this.closed ??= this.store.then((s) => s.close(), () => undefined).catch(() => undefined));
  }
}
