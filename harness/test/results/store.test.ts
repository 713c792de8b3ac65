// The results store on both engines (embedded PGlite, a real PostgreSQL): migrations, idempotent
// recording, history in order and filtered, and the refusals: a store of a newer schema, an
// unrecognisable one, a directory that is not a store, a corrupt data directory. Nothing is lost.
import t from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResultsStore } from '../../src/results/store';
import { openDb } from '../../src/results/db';
import { SCHEMA_VERSION } from '../../src/results/schema';
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
