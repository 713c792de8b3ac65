// The results store on both engines (embedded PGlite, a real PostgreSQL): migrations, idempotent
// recording, history in order and filtered, an old store upgraded with its data, and the refusals: a store of a newer schema, an
// unrecognisable one, a directory that is not a store, a corrupt data directory. Nothing is lost.
import t from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResultsStore } from '../../src/results/store';
import { openDb } from '../../src/results/db';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/results/schema';
import { STORE_TARGETS } from './stores';
import { runRecord } from './records';

for (const st of STORE_TARGETS) {
  t.test(`store on ${st.name}`, { skip: st.skip }, async (t) => {
    const { target, cleanup } = await st.make();
    t.teardown(cleanup);

    t.test('records runs idempotently and answers history oldest first', async (t) => {
      const store = await ResultsStore.open(target);
      t.teardown(() => store.close());
      for (let k = 0; k < 5; k++) t.equal(await store.record(runRecord(k, { value: 100 + k })), true, `run ${k} is new`);
      t.equal(await store.record(runRecord(2, { value: 102 })), false, 'recording run 2 again replaces it');
      t.equal(await store.runCount(), 5);
      await store.record(runRecord(9, { value: 1, hostKind: 'xapi' }));
      const h = await store.history({ scenario: 'vbd-connect', metric: 'xvda.mbps', hostClass: 'sim', windowsBuild: 'sim' });
      t.same(h.map((x) => x.value), [100, 101, 102, 103, 104], 'only the sim runs, in order');
      const before = await store.history({ scenario: 'vbd-connect', metric: 'xvda.mbps', hostClass: 'sim' }, { before: runRecord(3).startedAt, limit: 2 });
      t.same(before.map((x) => x.runId), ['run-00001', 'run-00002'], 'the newest two before run 3');
      const run = await store.run('run-00002');
      t.equal(run?.instances[0].verdict, 'pass');
      t.same(await store.metricNames('vbd-connect'), ['time.install-drivers', 'xvda.mbps']);
    });

    t.test('reopening migrates nothing and keeps the data', async (t) => {
      const store = await ResultsStore.open(target);
      t.teardown(() => store.close());
      t.equal(await store.runCount(), 6);
      const [v] = await store.db.query<{ version: number }>('SELECT version FROM winpv_schema');
      t.equal(Number(v.version), SCHEMA_VERSION);
    });

    t.test('each series gives its own newest points, whichever runs lack it', async (t) => {
      const store = await ResultsStore.open(target);
      t.teardown(() => store.close());
      // runs 20-27 of two scenarios; a metric only the even runs of vbd-connect measured
      for (let k = 20; k < 28; k++) {
        const r = runRecord(k, { value: k, driverVersion: `9.1.${k}` });
        if (k % 2 === 0) r.instances[0].metrics.push({ name: 'xvda.iops', value: 1000 + k, unit: 'IOPS', better: 'higher' });
        r.instances.push({ ...runRecord(k, { scenario: 'vif-connect', value: 2 * k }).instances[0] });
        await store.record(r);
      }
      const h = await store.histories({ scenarios: ['vbd-connect', 'vif-connect', 'no-such-scenario'], hostClass: 'sim' }, { limit: 3 });
      t.same([...h.keys()], ['vbd-connect', 'vif-connect'], 'a scenario with nothing recorded has no series');
      t.same([...h.get('vbd-connect')!.keys()], ['time.install-drivers', 'xvda.iops', 'xvda.mbps']);
      t.same(h.get('vbd-connect')!.get('xvda.iops')!.map((x) => x.value), [1022, 1024, 1026], 'the newest three runs that measured it, not the newest three runs');
      t.same(h.get('vbd-connect')!.get('xvda.mbps')!.map((x) => x.value), [25, 26, 27]);
      t.same(h.get('vif-connect')!.get('xvda.mbps')!.map((x) => x.runId), ['run-00025', 'run-00026', 'run-00027']);
      t.same(h.get('vbd-connect')!.get('xvda.iops')!.map((x) => [x.driverVersion, x.startedAt, x.unit, x.better]),
        [22, 24, 26].map((k) => [`9.1.${k}`, runRecord(k).startedAt, 'IOPS', 'higher']), 'each point carries its own run\'s driver and start');
      const named = await store.histories({ scenarios: ['vbd-connect', 'vif-connect'], metrics: ['xvda.iops'], hostClass: 'sim' }, { limit: 3 });
      t.same([...named.keys()], ['vbd-connect'], 'metrics named: only the series that exist');
      t.same(named.get('vbd-connect'), new Map([['xvda.iops', h.get('vbd-connect')!.get('xvda.iops')]]));
      for (let k = 20; k < 28; k++) await store.db.query('DELETE FROM runs WHERE run_id = $1', [runRecord(k).runId]);
    });

    t.test('a close asked right behind a record waits for it', async (t) => {
      const store = await ResultsStore.open(target);
      const recorded = store.record(runRecord(40, { value: 140 }));
      const closed = store.close(); // not awaited in between, as RunRecorder closes behind its insert
      t.equal(await recorded, true, 'the record is not cut off by the close');
      await closed;
      const again = await ResultsStore.open(target);
      t.teardown(() => again.close());
      t.same((await again.run(runRecord(40).runId))?.metrics.map((m) => [m.name, m.value]), [['time.install-drivers', 5000], ['xvda.mbps', 140]], 'and it is there once the store is opened again');
      await again.db.query('DELETE FROM runs WHERE run_id = $1', [runRecord(40).runId]);
    });

    t.test('a store of a newer schema is refused untouched', async (t) => {
      const db = await openDb(target);
      await db.query('UPDATE winpv_schema SET version = $1', [SCHEMA_VERSION + 1]);
      await db.close();
      await t.rejects(ResultsStore.open(target), { code: 'RESULTS_SCHEMA_NEWER', message: /newer than this winpv knows.*nothing was changed: upgrade winpv/ });
      const db2 = await openDb(target);
      t.equal(Number((await db2.query<{ n: number }>('SELECT count(*) AS n FROM runs'))[0].n), 6, 'no run lost');
      await db2.query('UPDATE winpv_schema SET version = $1', [SCHEMA_VERSION]);
      await db2.query('DELETE FROM winpv_schema');
      await db2.close();
      await t.rejects(ResultsStore.open(target), { code: 'RESULTS_SCHEMA_UNKNOWN', message: /runs table but no schema version.*nothing was changed/ });
    });
  });
}

for (const st of STORE_TARGETS) {
  t.test(`a store of schema version 1 is upgraded on ${st.name}, its runs kept`, { skip: st.skip }, async (t) => {
    const { target, cleanup } = await st.make();
    t.teardown(cleanup);
    // the store as winpv with one migration left it, with two runs recorded the way it recorded them
    const old = await openDb(target);
    await old.query('CREATE TABLE winpv_schema (version integer NOT NULL)');
    for (const stmt of MIGRATIONS[0].split(/;\s*\n/).map((x) => x.trim()).filter(Boolean)) await old.query(stmt);
    await old.query('INSERT INTO winpv_schema (version) VALUES (1)');
    for (const k of [1, 2]) {
      const r = runRecord(k, { value: 100 + k });
      await old.query(`INSERT INTO runs (run_id, started_at, seed, host_kind, host_label, windows_build, driver_version, harness_version, complete, passed, failed, skipped)
        VALUES ($1, $2, $3, 'sim', 'sim', 'sim', '9.1.0', '0.1.0', true, 1, 0, 0)`, [r.runId, r.startedAt, k]);
      await old.query("INSERT INTO instances (run_id, inst, scenario, verdict, duration_ms) VALUES ($1, 'vbd-connect', 'vbd-connect', 'pass', 1000)", [r.runId]);
      await old.query("INSERT INTO metrics (run_id, inst, scenario, name, value, unit, better) VALUES ($1, 'vbd-connect', 'vbd-connect', 'xvda.mbps', $2, 'MB/s', 'higher')", [r.runId, 100 + k]);
    }
    await old.close();

    const store = await ResultsStore.open(target);
    t.teardown(() => store.close());
    t.equal(Number((await store.db.query<{ version: number }>('SELECT version FROM winpv_schema'))[0].version), SCHEMA_VERSION, 'migrated to the current version');
    t.same((await store.history({ scenario: 'vbd-connect', metric: 'xvda.mbps', hostClass: 'sim' })).map((x) => [x.runId, x.value]), [['run-00001', 101], ['run-00002', 102]], 'the old runs answer history, in order');
    const copied = await store.db.query<{ n: string | number }>('SELECT count(*) AS n FROM metrics m JOIN runs r USING (run_id) WHERE m.started_at = r.started_at');
    t.equal(Number(copied[0].n), 2, "each old metric carries its run's start");
    await store.record(runRecord(3, { value: 103 }));
    t.same((await store.history({ scenario: 'vbd-connect', metric: 'xvda.mbps' }, { limit: 2 })).map((x) => x.value), [102, 103], 'a run recorded after the upgrade joins them');
  });
}

t.test('a PGlite directory that is not a store, or is corrupt, is refused and left as it was', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'winpv-results-bad-'));
  const notStore = join(root, 'photos');
  mkdirSync(notStore);
  writeFileSync(join(notStore, 'cat.jpg'), 'meow');
  await t.rejects(ResultsStore.open(notStore), { code: 'RESULTS_DIR_NOT_A_STORE', message: /not a results store.*nothing was changed/ });
  t.same(readdirSync(notStore), ['cat.jpg']);

  const dir = join(root, 'store');
  const s = await ResultsStore.open(dir);
  await s.record(runRecord(1));
  await s.close();
  // corrupt the catalogue: pg_control holds the cluster state every start reads first
  const control = join(dir, 'global', 'pg_control');
  const saved = readFileSync(control);
  writeFileSync(control, Buffer.alloc(saved.length, 0x5a));
  await t.rejects(ResultsStore.open(dir), { code: 'RESULTS_DIR_CORRUPT', message: /cannot be opened.*left as it is.*Move it aside.*winpv results import/s });
  t.same(readFileSync(control), Buffer.alloc(saved.length, 0x5a), 'the broken store is not rewritten');
});
