// The store's schema, as numbered migrations applied in order (one transaction each). The same SQL
// serves PGlite and PostgreSQL. A store whose version is newer than this winpv knows is refused
// untouched (upgrade winpv); one whose version table is missing or odd is refused too.
import { WinpvError } from '../model/errors';
import type { Db } from './db';

/** scenario_runs' rows from the metrics recorded for run $1 (the run being recorded, in the same transaction). */
export const SCENARIO_RUNS_FILL = `INSERT INTO scenario_runs (run_id, scenario, started_at, host_kind, windows_build, driver_version, metrics)
     SELECT m.run_id, m.scenario, r.started_at, r.host_kind, r.windows_build, r.driver_version, jsonb_object_agg(m.name, jsonb_build_array(m.value, m.unit, m.better))
       FROM (SELECT run_id, scenario, name, avg(value) AS value, min(unit) AS unit, min(better) AS better FROM metrics WHERE run_id = $1 GROUP BY run_id, scenario, name) m
       JOIN runs r USING (run_id)
      GROUP BY m.run_id, m.scenario, r.started_at, r.host_kind, r.windows_build, r.driver_version`;

/** scenario_runs' rows for every run recorded. */
export const SCENARIO_RUNS_FILL_ALL = SCENARIO_RUNS_FILL.replace(' WHERE run_id = $1', '');

export const MIGRATIONS: readonly string[] = [
  // 1: runs, instance verdicts, check verdicts, metrics (workload figures and lifecycle timings)
  `CREATE TABLE runs (
     run_id text PRIMARY KEY,
     started_at timestamptz NOT NULL,
     finished_at timestamptz,
     seed bigint NOT NULL,
     host_kind text NOT NULL,
     host_label text NOT NULL,
     pool text,
     windows_build text NOT NULL,
     driver_version text NOT NULL,
     driver_build text,
     harness_version text NOT NULL,
     shard text,
     complete boolean NOT NULL,
     passed integer NOT NULL, failed integer NOT NULL, skipped integer NOT NULL, flaky integer NOT NULL DEFAULT 0
   );
   CREATE TABLE instances (
     run_id text NOT NULL REFERENCES runs ON DELETE CASCADE,
     inst text NOT NULL,
     scenario text NOT NULL,
     verdict text NOT NULL,
     attempts integer NOT NULL DEFAULT 1,
     flaky boolean NOT NULL DEFAULT false,
     known text,
     duration_ms double precision NOT NULL,
     PRIMARY KEY (run_id, inst)
   );
   CREATE TABLE checks (
     run_id text NOT NULL, inst text NOT NULL, position integer NOT NULL,
     check_name text NOT NULL, verdict text NOT NULL, message text NOT NULL,
     PRIMARY KEY (run_id, inst, position),
     FOREIGN KEY (run_id, inst) REFERENCES instances ON DELETE CASCADE
   );
   CREATE TABLE metrics (
     run_id text NOT NULL, inst text NOT NULL, scenario text NOT NULL,
     name text NOT NULL, value double precision NOT NULL, unit text NOT NULL, better text NOT NULL,
     PRIMARY KEY (run_id, inst, name),
     FOREIGN KEY (run_id, inst) REFERENCES instances ON DELETE CASCADE
   );
   CREATE INDEX metrics_history ON metrics (scenario, name);
   CREATE INDEX runs_started ON runs (started_at);`,
  // 2: the history's order in the indexes it reads. A metric carries its run's start (a run's rows
  // are replaced together, so the copy cannot drift), and one index holds each series (scenario,
  // metric) newest first: the newest N points of a series are an index range, whatever the store
  // holds (store.histories). The runs newest first for scenarioRuns. Before, both aggregated every
  // recorded row of the scenarios asked for (docs/performance.md, results store round 4).
  `ALTER TABLE metrics ADD COLUMN started_at timestamptz;
   UPDATE metrics m SET started_at = r.started_at FROM runs r WHERE r.run_id = m.run_id;
   ALTER TABLE metrics ALTER COLUMN started_at SET NOT NULL;
   DROP INDEX metrics_history;
   CREATE INDEX metrics_series ON metrics (scenario, name, started_at DESC, run_id DESC);
   DROP INDEX runs_started;
   CREATE INDEX runs_newest ON runs (started_at DESC, run_id DESC);`,
  // 3: a row per run and scenario holding the mean of each metric over the run's instances of it,
  // with the run's start, filter (host class, Windows build) and driver beside it: a run's trends
  // read its scenarios' newest runs (some 30 rows a scenario) instead of every series' points one
  // index probe and one probe of the run apiece (store.histories; docs/performance.md, results
  // store round 7). Filled from the metrics already recorded.
  `CREATE TABLE scenario_runs (
     run_id text NOT NULL REFERENCES runs ON DELETE CASCADE,
     scenario text NOT NULL,
     started_at timestamptz NOT NULL,
     host_kind text NOT NULL,
     windows_build text NOT NULL,
     driver_version text NOT NULL,
     metrics jsonb NOT NULL,
     PRIMARY KEY (run_id, scenario)
   );
   CREATE INDEX scenario_runs_newest ON scenario_runs (scenario, started_at DESC, run_id DESC);
   ${SCENARIO_RUNS_FILL_ALL}`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the store to SCHEMA_VERSION; refuses a newer or unrecognisable one without changing it. */
export async function migrate(db: Db): Promise<void> {
  await db.query('CREATE TABLE IF NOT EXISTS winpv_schema (version integer NOT NULL)');
  const rows = await db.query<{ version: number }>('SELECT version FROM winpv_schema');
  if (rows.length > 1) throw schemaError(db, `its version table has ${rows.length} rows`);
  let have = rows.length ? Number(rows[0].version) : 0;
  if (!Number.isInteger(have) || have < 0) throw schemaError(db, `its schema version is ${rows[0].version}`);
  if (have > SCHEMA_VERSION) {
    throw new WinpvError('input', 'RESULTS_SCHEMA_NEWER',
      `the results store ${db.label} has schema version ${have}, newer than this winpv knows (${SCHEMA_VERSION}); nothing was changed: upgrade winpv, or point --db at another store`);
  }
  if (have === 0) {
    const tables = await db.query("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'runs'");
    if (tables.length) throw schemaError(db, 'it has a runs table but no schema version');
  }
  while (have < SCHEMA_VERSION) {
    const next = have + 1;
    await db.batch([
      ...MIGRATIONS[have].split(/;\s*\n/).map((s) => s.trim()).filter(Boolean).map((sql) => ({ sql })),
      { sql: 'DELETE FROM winpv_schema' },
      { sql: 'INSERT INTO winpv_schema (version) VALUES ($1)', params: [next] },
    ]);
    have = next;
  }
}

function schemaError(db: Db, what: string): WinpvError {
  return new WinpvError('input', 'RESULTS_SCHEMA_UNKNOWN',
    `the results store ${db.label} is not one winpv recognises (${what}); nothing was changed: point --db at an empty directory or database, and load runs with winpv results import`);
}
