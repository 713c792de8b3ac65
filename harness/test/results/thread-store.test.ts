// PGlite in a worker thread (results/db-thread.ts), as `winpv run` records through it: it answers
// as in-process PGlite does (queries, transactions and their rollback, the refusals of a corrupt or
// newer store); a thread that dies or hangs fails every waiting and later call with the
// store-unreachable error instead of hanging; close() ends the thread, so a process that used it
// exits on its own. RunRecorder's trends, drawn before the insert from the history read during the
// run, are the trends the store gives once the run is recorded.
import t from 'tap';
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResultsStore } from '../../src/results/store';
import { openDb } from '../../src/results/db';
import { openThreadDb, THREAD_DEADLINES, ThreadDb } from '../../src/results/db-thread';
import { SCHEMA_VERSION } from '../../src/results/schema';
import { RunRecorder } from '../../src/results/record-run';
import { trendsOf } from '../../src/results/trends';
import type { RunRecord } from '../../src/results/record';
import { runRecord } from './records';
import { freshPgliteStore } from '../support/pglite-template';

const tmp = () => mkdtempSync(join(tmpdir(), 'winpv-thread-store-'));
/** A new store directory (a copy of PGlite's initialised one: support/pglite-template.ts). */
const freshStore = async () => (await freshPgliteStore('winpv-thread-store-')).target;

/** Two instances of one scenario (a matrix): the store keeps the mean per run. */
function twoInstances(k: number): RunRecord {
  const r = runRecord(k, { value: 100 + k });
  const second = { ...r.instances[0], inst: `${r.instances[0].inst}[disk=2]`, metrics: r.instances[0].metrics.map((m) => ({ ...m, value: m.value * 3 })) };
  return { ...r, instances: [...r.instances, second] };
}

t.test('the thread answers as in-process PGlite', async (t) => {
  const dir = await freshStore();
  const here = await ResultsStore.open(dir);
  for (let k = 0; k < 6; k++) await here.record(twoInstances(k));
  const ask = async (s: ResultsStore) => ({
    history: await s.history({ scenario: 'vbd-connect', metric: 'xvda.mbps', hostClass: 'sim', windowsBuild: 'sim' }, { limit: 4 }),
    runs: await s.scenarioRuns('vbd-connect'),
    run: await s.run('run-00003'),
    count: await s.runCount(),
    names: await s.metricNames('vbd-connect'),
    trends: await trendsOf(s, ['vbd-connect'], { limit: 5 }),
  });
  const expected = await ask(here);
  await here.close();

  const store = await ResultsStore.open(dir, { thread: true });
  t.teardown(() => store.close());
  t.ok(store.db instanceof ThreadDb, 'PGlite runs in a thread');
  t.same(await ask(store), expected, 'the same answers');
  t.equal(expected.history.at(-1)?.value, 2 * 105, 'the mean of the two instances');

  t.equal(await store.record(twoInstances(6)), true, 'a transaction commits');
  t.equal(await store.record(twoInstances(6)), false, 'and replaces');
  const broken = twoInstances(7);
  broken.instances[1].inst = broken.instances[0].inst; // a duplicate primary key: the insert fails
  await t.rejects(store.record(broken), /duplicate key/, 'a failing statement rejects with the database\'s message');
  t.equal(await store.runCount(), 7, 'and its transaction is rolled back');
  t.same(await store.run('run-00007'), undefined);
  await t.rejects(store.db.query('SELECT nope FROM runs'), /column "nope" does not exist/);
  t.equal(await store.runCount(), 7, 'the thread goes on after an error');
});

t.test('a close posted right behind a record is answered after it', async (t) => {
  const dir = await freshStore();
  const store = await ResultsStore.open(dir, { thread: true });
  const recorded = store.record(twoInstances(1));
  const closed = store.close(); // not awaited in between, as RunRecorder closes behind its insert
  t.equal(await recorded, true, 'the record is not cut off by the close');
  await closed;
  t.equal(typeof (await (store.db as ThreadDb).exited), 'number', 'the thread has ended');
  const again = await ResultsStore.open(dir);
  t.teardown(() => again.close());
  t.equal(await again.runCount(), 1, 'the run is there once the store is opened again');
});

t.test('refusals cross the thread with their codes', async (t) => {
  const dir = await freshStore();
  const s = await ResultsStore.open(dir, { thread: true });
  await s.record(runRecord(1));
  await s.db.query('UPDATE winpv_schema SET version = $1', [SCHEMA_VERSION + 1]);
  await s.close();
  await t.rejects(ResultsStore.open(dir, { thread: true }), { code: 'RESULTS_SCHEMA_NEWER', message: /newer than this winpv knows.*nothing was changed/ });
  const db = await openDb(dir);
  await db.query('UPDATE winpv_schema SET version = $1', [SCHEMA_VERSION]);
  await db.close();

  const control = join(dir, 'global', 'pg_control');
  const saved = readFileSync(control);
  writeFileSync(control, Buffer.alloc(saved.length, 0x5a));
  await t.rejects(openDb(dir, { thread: true }), { code: 'RESULTS_DIR_CORRUPT', message: /cannot be opened.*left as it is.*Move it aside/s });
  t.same(readFileSync(control), Buffer.alloc(saved.length, 0x5a), 'the broken store is not rewritten');
});

t.test('a thread that dies: every call after it fails with the store-unreachable error', async (t) => {
  const db = await openThreadDb(await freshStore());
  t.same(await db.query('SELECT 1 AS one'), [{ one: 1 }]);
  await db.thread.terminate();
  await t.rejects(db.query('SELECT 1'), { code: 'RESULTS_DB_UNREACHABLE', message: /the results store .* stopped answering: its thread exited/ });
  await db.close();
  t.pass('close after the death returns');
});

t.test('a thread that does not answer in time is stopped', async (t) => {
  const db = await openThreadDb(await freshStore(), { ...THREAD_DEADLINES, queryMs: 500 });
  // pg_sleep holds the thread far past the deadline; the deadline, not the query, ends the wait
  await t.rejects(db.query('SELECT pg_sleep(600)'), { code: 'RESULTS_DB_UNREACHABLE', message: /no answer within 0\.5 s \(a query\); its thread was stopped/ });
  t.equal(typeof (await db.exited), 'number', 'the thread has exited');
  await t.rejects(db.query('SELECT 1'), { code: 'RESULTS_DB_UNREACHABLE' });
  await db.close();
});

t.test('close ends the thread: a process that used the store exits on its own', async (t) => {
  const dir = tmp(); // an empty directory: the store's first open, PGlite's initdb included, as a new user's
  const script = join(dir, 'use-store.ts');
  writeFileSync(script, `import { openThreadDb } from ${JSON.stringify(join(__dirname, '..', '..', 'src', 'results', 'db-thread'))};
(async () => {
  const db = await openThreadDb(${JSON.stringify(join(dir, 'store'))});
  await db.query('SELECT 1');
  await db.close();
  process.stdout.write('closed\\n');
})();
`);
  // the child runs the TypeScript through the test's loader; if the thread were left running it would never exit
  const child = fork(script, [], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  const code = await new Promise<number | string>((done) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done('still running after 180 s');
    }, 180_000);
    child.once('exit', (c, sig) => {
      clearTimeout(timer);
      done(c ?? String(sig));
    });
  });
  t.equal(code, 0, 'the process exited by itself');
  t.equal(out, 'closed\n');
});

t.test('RunRecorder: the trends drawn as the run ends are the ones the store gives after recording it', async (t) => {
  const dir = await freshStore();
  const seed = await ResultsStore.open(dir);
  for (let k = 0; k < 40; k++) await seed.record(twoInstances(k));
  await seed.close();

  const rec = twoInstances(40);
  const recorder = new RunRecorder(dir);
  recorder.planned({ scenarios: ['vbd-connect'], hostKind: 'sim', windowsBuild: 'sim' });
  const input = await recorder.reportInput(rec);
  const done = await recorder.finish('reports/x', () => t.fail('the run is recorded once, from reportInput') as never);
  t.equal(done.warning, undefined);
  t.equal(done.recorded, dir);

  const store = await ResultsStore.open(dir);
  t.teardown(() => store.close());
  t.equal(await store.runCount(), 41, 'the run was recorded');
  const after = await trendsOf(store, ['vbd-connect'], { hostClass: 'sim', windowsBuild: 'sim', limit: 30 });
  const drawn = input.trends ?? [];
  t.equal(drawn.length, after.length, 'one trend per metric');
  for (const [k, a] of after.entries()) {
    const d = drawn[k];
    t.equal(d.metric, a.metric);
    t.same(d.points.map((p) => p.run), a.points.map((p) => p.runId), `${a.metric}: the same 30 runs, this one last`);
    t.same(d.points.map((p) => p.value), a.points.map((p) => p.value), `${a.metric}: the same values`);
    t.same(d.baseline && [d.baseline.low, d.baseline.centre, d.baseline.high], a.baseline && [a.baseline.low, a.baseline.median, a.baseline.high]);
  }
});

t.test('RunRecorder with no history read (no plan), or no report drawn: the run is still recorded, from the record given', async (t) => {
  const dir = await freshStore();
  const seed = await ResultsStore.open(dir);
  for (let k = 0; k < 4; k++) await seed.record(twoInstances(k));
  await seed.close();
  // never planned: the trends are read once the run is recorded, this run's point included
  const unplanned = new RunRecorder(dir);
  const input = await unplanned.reportInput(twoInstances(4));
  t.same(input.trends?.[0]?.points.map((p) => p.run), ['run-00000', 'run-00001', 'run-00002', 'run-00003', 'run-00004']);
  t.equal((await unplanned.finish('reports/x', () => t.fail('recorded once') as never)).recorded, dir);
  // no reportInput (the report files failed before report.html): finish records the record it is given
  const undrawn = new RunRecorder(dir);
  undrawn.planned({ scenarios: ['vbd-connect'], hostKind: 'sim', windowsBuild: 'sim' });
  t.equal((await undrawn.finish('reports/x', () => twoInstances(5))).recorded, dir);
  const store = await ResultsStore.open(dir);
  t.teardown(() => store.close());
  t.equal(await store.runCount(), 6, 'both runs recorded');
});

t.test('RunRecorder on a store that cannot be opened: no trends, a warning, nothing thrown', async (t) => {
  const recorder = new RunRecorder(`postgres://winpv:secret-pw@127.0.0.1:1/nowhere`);
  recorder.planned({ scenarios: ['vbd-connect'], hostKind: 'sim', windowsBuild: 'sim' });
  t.same(await recorder.reportInput(runRecord(1)), {});
  const r = await recorder.finish('reports/x', () => runRecord(1));
  t.match(r.warning, /did not record this run .*cannot connect.*load them later with winpv results import reports\/x/);
  t.notMatch(r.warning, /secret-pw/);
});
