// The results store: opens (and migrates) the database, records runs idempotently (a run id already
// there is replaced in one transaction, so importing twice changes nothing), and answers the
// questions `history`, `compare`, `bisect` and the HTML trends ask.
import type { HistoryKey, MetricValue } from '../model/results';
import { openDb, type Db, type OpenOptions } from './db';
import type { Statement } from './sql';
import { migrate, SCENARIO_RUNS_FILL } from './schema';
import type { RunRecord } from './record';

export class ResultsStore {
  private constructor(readonly db: Db) {}

  static async open(target: string, opts: OpenOptions = {}): Promise<ResultsStore> {
    const db = await openDb(target, opts);
    try {
      await migrate(db);
    } catch (e) {
      await db.close().catch(() => undefined);
      throw e;
    }
    return new ResultsStore(db);
  }

  get label(): string {
    return this.db.label;
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** Records a run; true when it was new, false when an earlier copy was replaced. */
  async record(r: RunRecord): Promise<boolean> {
    const [old] = await this.db.batch(recordStatements(r));
    return old.length === 0;
  }

  /** The newest `limit` values of a metric for a scenario (oldest first), optionally before a date (ISO) and on one host class / Windows build. */
  async history(key: HistoryKey, opts: { limit?: number; before?: string } = {}): Promise<HistoryRow[]> {
    return (await this.histories({ ...key, scenarios: [key.scenario], metrics: [key.metric] }, opts)).get(key.scenario)?.get(key.metric) ?? [];
  }

  /** The newest `limit` values of every metric (or those named) of several scenarios: scenario ->
   *  metric -> rows, oldest first; each series (scenario, metric) its own newest `limit` runs that
   *  measured it. Read from the scenarios' newest runs (scenario_runs, a row per run and scenario
   *  with its metrics' means): one statement for a run's trends or an instance's baselines, some
   *  `limit` rows a scenario. A series those runs do not fill (a metric some of them lack) while the
   *  scenario has older runs is read on its own, from its index (seriesPoints). */
  async histories(key: HistoryScope, opts: { limit?: number; before?: string } = {}): Promise<Map<string, Map<string, HistoryRow[]>>> {
    const limit = opts.limit ?? 50;
    const { runs, series } = await this.newestRuns(key, limit, opts.before);
    const found = new Map<string, HistoryRow[]>();
    const further: [string, string][] = [];
    for (const [scenario, name] of series) {
      const newest = runs.get(scenario) ?? [];
      const points = newest.filter((r) => r.metrics[name] !== undefined).slice(0, limit);
      if (points.length < limit && newest.length === limit) further.push([scenario, name]);
      else if (points.length) found.set(seriesKey(scenario, name), points.reverse().map((r) => pointOf(r, name)));
    }
    for (const [scenario, name, rows] of further.length ? await this.seriesPoints(further, key, limit, opts.before) : []) found.set(seriesKey(scenario, name), rows);
    const out = new Map<string, Map<string, HistoryRow[]>>();
    for (const [scenario, name] of series) {
      const rows = found.get(seriesKey(scenario, name));
      if (rows) (out.get(scenario) ?? out.set(scenario, new Map()).get(scenario)!).set(name, rows);
    }
    return out;
  }

  /** The series asked (scenario, metric; sorted) and the scenarios' newest `limit` runs that match
   *  the key, newest first, with their metrics. */
  private async newestRuns(key: HistoryScope, limit: number, before?: string): Promise<{ runs: Map<string, ScenarioRun[]>; series: [string, string][] }> {
    const params: unknown[] = [[...key.scenarios]];
    const series = seriesNamed(key, params);
    const where = ['scenario = sc'];
    if (key.hostClass) where.push(`host_kind = $${params.push(key.hostClass)}`);
    if (key.windowsBuild) where.push(`windows_build = $${params.push(key.windowsBuild)}`);
    if (before) where.push(`started_at < $${params.push(before)}`);
    const [row] = await this.db.query<{ runs: [string, string, number, string, ScenarioRun['metrics']][] | null; series: [string, string][] | null }>(
      `WITH ${series},
       r AS (SELECT sc, h.* FROM unnest($1::text[]) sc CROSS JOIN LATERAL
         (SELECT run_id, started_at, driver_version, metrics FROM scenario_runs WHERE ${where.join(' AND ')}
           ORDER BY started_at DESC, run_id DESC LIMIT $${params.push(limit)}) h)
       SELECT (SELECT json_agg(json_build_array(sc, run_id, floor(extract(epoch FROM started_at) * 1000)::float8, driver_version, metrics) ORDER BY sc, started_at DESC, run_id DESC) FROM r) AS runs,
              (SELECT json_agg(json_build_array(scenario, name) ORDER BY scenario, name) FROM s) AS series`,
      params,
    );
    const runs = new Map<string, ScenarioRun[]>();
    for (const [scenario, runId, at, driverVersion, metrics] of row.runs ?? []) {
      (runs.get(scenario) ?? runs.set(scenario, []).get(scenario)!).push({ runId, startedAt: new Date(at).toISOString(), driverVersion, metrics });
    }
    return { runs, series: row.series ?? [] };
  }

  /** Each series' newest `limit` points that match the key, oldest first, read from the
   *  metrics_series index newest first until `limit` matching runs. A run's filter and driver are
   *  looked up by scalar subqueries, which the planner cannot turn into joins (PGlite never gathers
   *  statistics, and with a join it chose to probe the series once per run: quadratic in the runs
   *  recorded). */
  private async seriesPoints(series: readonly [string, string][], key: HistoryScope, limit: number, before?: string): Promise<[string, string, HistoryRow[]][]> {
    const params: unknown[] = [series.map((x) => x[0]), series.map((x) => x[1])];
    const point = ['m.scenario = s.scenario', 'm.name = s.name'];
    const ofRun: string[] = [];
    if (key.hostClass) ofRun.push(`r.host_kind = $${params.push(key.hostClass)}`);
    if (key.windowsBuild) ofRun.push(`r.windows_build = $${params.push(key.windowsBuild)}`);
    if (ofRun.length) point.push(`(SELECT ${ofRun.join(' AND ')} FROM runs r WHERE r.run_id = m.run_id)`);
    if (before) point.push(`m.started_at < $${params.push(before)}`);
    const [{ found, drivers }] = await this.db.query<{ found: [string, string, [string, number, number, string, string][]][] | null; drivers: Record<string, string> | null }>(
      `WITH s (scenario, name) AS (SELECT * FROM unnest($1::text[], $2::text[])),
       p AS MATERIALIZED (SELECT s.scenario, s.name, h.* FROM s CROSS JOIN LATERAL
         (SELECT m.run_id, m.started_at, avg(m.value) AS value, min(m.unit) AS unit, min(m.better) AS better
            FROM metrics m
           WHERE ${point.join(' AND ')}
           GROUP BY m.started_at, m.run_id ORDER BY m.started_at DESC, m.run_id DESC LIMIT $${params.push(limit)}) h),
       per AS (SELECT scenario, name, json_agg(json_build_array(run_id, floor(extract(epoch FROM started_at) * 1000)::float8, value, unit, better) ORDER BY started_at, run_id) AS points
                 FROM p GROUP BY scenario, name)
       SELECT (SELECT json_agg(json_build_array(scenario, name, points)) FROM per) AS found,
              (SELECT json_object_agg(d.run_id, (SELECT driver_version FROM runs r WHERE r.run_id = d.run_id)) FROM (SELECT DISTINCT run_id FROM p) d) AS drivers`,
      params,
    );
    return (found ?? []).map(([scenario, name, points]) => [scenario, name,
      points.map(([runId, at, value, unit, better]) => ({ runId, startedAt: new Date(at).toISOString(), driverVersion: drivers![runId]!, value, unit, better: better as MetricValue['better'] }))]);
  }

  /** Metric names recorded for a scenario. */
  async metricNames(scenario: string): Promise<string[]> {
    const rows = await this.db.query<{ name: string }>('SELECT DISTINCT name FROM metrics WHERE scenario = $1 ORDER BY name', [scenario]);
    return rows.map((r) => r.name);
  }

  /** The last runs of a scenario with the instance verdicts (newest last). */
  async scenarioRuns(scenario: string, limit = 20): Promise<{ runId: string; startedAt: string; driverVersion: string; verdict: string; flaky: boolean; known?: string }[]> {
    const rows = await this.db.query<{ run_id: string; started_at: Date | string; driver_version: string; verdict: string; flaky: boolean; known: string | null }>(
      `SELECT * FROM (SELECT r.run_id, r.started_at, r.driver_version, i.verdict, i.flaky, i.known FROM instances i JOIN runs r USING (run_id)
        WHERE i.scenario = $1 ORDER BY r.started_at DESC, r.run_id DESC, i.inst LIMIT $2) x ORDER BY started_at, run_id`, [scenario, limit]);
    return rows.map((x) => ({ runId: x.run_id, startedAt: iso(x.started_at), driverVersion: x.driver_version, verdict: x.verdict, flaky: x.flaky, ...(x.known ? { known: x.known } : {}) }));
  }

  async run(runId: string): Promise<StoredRun | undefined> {
    const [r] = await this.db.query<Record<string, unknown>>('SELECT * FROM runs WHERE run_id = $1', [runId]);
    if (!r) return undefined;
    const inst = await this.db.query<{ inst: string; scenario: string; verdict: string; flaky: boolean; known: string | null }>(
      'SELECT inst, scenario, verdict, flaky, known FROM instances WHERE run_id = $1 ORDER BY inst', [runId]);
    const metrics = await this.db.query<{ inst: string; scenario: string; name: string; value: number; unit: string; better: string }>(
      'SELECT inst, scenario, name, value, unit, better FROM metrics WHERE run_id = $1 ORDER BY inst, name', [runId]);
    return {
      runId, startedAt: iso(r.started_at as string), hostKind: String(r.host_kind), windowsBuild: String(r.windows_build), driverVersion: String(r.driver_version),
      instances: inst.map((i) => ({ inst: i.inst, scenario: i.scenario, verdict: i.verdict, flaky: i.flaky, ...(i.known ? { known: i.known } : {}) })),
      metrics: metrics.map((m) => ({ ...m, value: Number(m.value), better: m.better as MetricValue['better'] })),
    };
  }

  async runCount(): Promise<number> {
    const [r] = await this.db.query<{ n: string | number }>('SELECT count(*) AS n FROM runs');
    return Number(r.n);
  }
}

export interface HistoryRow {
  runId: string;
  startedAt: string;
  driverVersion: string;
  value: number;
  unit: string;
  better: MetricValue['better'];
}

export interface StoredRun {
  runId: string;
  startedAt: string;
  hostKind: string;
  windowsBuild: string;
  driverVersion: string;
  instances: { inst: string; scenario: string; verdict: string; flaky: boolean; known?: string }[];
  metrics: { inst: string; scenario: string; name: string; value: number; unit: string; better: MetricValue['better'] }[];
}

/** The statements that replace a run's rows, in one transaction: a DELETE of an earlier copy (its
 *  rows go by cascade; the first statement's rows say whether there was one), the run, then one
 *  statement per table for the whole run, whatever its size (one per row was most of the cost). */
function recordStatements(r: RunRecord): Statement[] {
  const out: Statement[] = [
    { sql: 'DELETE FROM runs WHERE run_id = $1 RETURNING run_id', params: [r.runId] },
    {
      sql: `INSERT INTO runs (run_id, started_at, finished_at, seed, host_kind, host_label, pool, windows_build, driver_version, driver_build,
              harness_version, shard, complete, passed, failed, skipped, flaky) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)`,
      params: [r.runId, r.startedAt, r.finishedAt ?? null, r.seed, r.hostKind, r.hostLabel, r.pool ?? null, r.windowsBuild, r.driverVersion, r.driverBuild ?? null,
        r.harnessVersion, r.shard ?? null, r.complete, r.counts.passed, r.counts.failed, r.counts.skipped, r.counts.flaky],
    },
  ];
  const is = r.instances;
  if (is.length) {
    out.push({
      sql: `INSERT INTO instances (run_id, inst, scenario, verdict, attempts, flaky, known, duration_ms)
            SELECT $1, i, s, v, a, f, k, d FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::bool[], $7::text[], $8::float8[]) AS t(i, s, v, a, f, k, d)`,
      params: [r.runId, is.map((i) => i.inst), is.map((i) => i.scenario), is.map((i) => i.verdict), is.map((i) => i.attempts), is.map((i) => i.flaky), is.map((i) => i.known ?? null), is.map((i) => i.durationMs)],
    });
  }
  const checks = is.flatMap((i) => i.checks.map((c, k) => ({ inst: i.inst, k, ...c })));
  if (checks.length) {
    out.push({
      sql: `INSERT INTO checks (run_id, inst, position, check_name, verdict, message)
            SELECT $1, i, p, c, v, m FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::text[]) AS t(i, p, c, v, m)`,
      params: [r.runId, checks.map((c) => c.inst), checks.map((c) => c.k), checks.map((c) => c.check), checks.map((c) => c.verdict), checks.map((c) => c.message)],
    });
  }
  const metrics = is.flatMap((i) => i.metrics.map((m) => ({ inst: i.inst, scenario: i.scenario, ...m })));
  if (metrics.length) {
    out.push({
      sql: `INSERT INTO metrics (run_id, started_at, inst, scenario, name, value, unit, better)
            SELECT $1, $2, i, s, n, v, u, b FROM unnest($3::text[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::text[]) AS t(i, s, n, v, u, b)`,
      params: [r.runId, r.startedAt, metrics.map((m) => m.inst), metrics.map((m) => m.scenario), metrics.map((m) => m.name), metrics.map((m) => m.value), metrics.map((m) => m.unit), metrics.map((m) => m.better)],
    });
    out.push({ sql: SCENARIO_RUNS_FILL, params: [r.runId] });
  }
  return out;
}

/** What histories() is asked: the scenarios, optionally some metrics, and the runs' filter. */
export type HistoryScope = Omit<HistoryKey, 'scenario' | 'metric'> & { scenarios: readonly string[]; metrics?: readonly string[] };

/** A scenario's run as scenario_runs holds it: per metric its mean over the run's instances, unit and direction. */
interface ScenarioRun {
  runId: string;
  startedAt: string;
  driverVersion: string;
  metrics: Record<string, [number, string, string] | undefined>;
}

const seriesKey = (scenario: string, name: string) => `${scenario}\u0000${name}`;

const pointOf = (r: ScenarioRun, name: string): HistoryRow => {
  const [value, unit, better] = r.metrics[name]!;
  return { runId: r.runId, startedAt: r.startedAt, driverVersion: r.driverVersion, value, unit, better: better as MetricValue['better'] };
};

/** The CTE `s (scenario, name)`: the metrics named for each scenario ($1), else each scenario's
 *  recorded metric names, one index descent apiece. */
function seriesNamed(key: HistoryScope, params: unknown[]): string {
  if (key.metrics) return `s (scenario, name) AS (SELECT sc, mn FROM unnest($1::text[]) sc, unnest($${params.push([...key.metrics])}::text[]) mn)`;
  return `RECURSIVE n (scenario, name) AS (
           SELECT sc, (SELECT min(name) FROM metrics WHERE scenario = sc) FROM unnest($1::text[]) sc
           UNION ALL
           SELECT scenario, (SELECT min(m.name) FROM metrics m WHERE m.scenario = n.scenario AND m.name > n.name) FROM n WHERE name IS NOT NULL),
         s AS (SELECT scenario, name FROM n WHERE name IS NOT NULL)`;
}

const iso = (d: Date | string) => (d instanceof Date ? d.toISOString() : new Date(d).toISOString());
