// The store's thread at the lowest CPU priority while nothing waits for it (results/thread-priority.ts):
// lowered only where this process may raise it back (CAP_SYS_NICE, or an RLIMIT_NICE soft limit that
// allows the old value: setpriority(2)), raised back at the first wait; where raising back is refused
// (a process without CAP_SYS_NICE, run through setpriv) it is never lowered to 19, because a starved
// thread would hold the run's end past the store's deadlines on a loaded machine. Linux only.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { resolve } from 'node:path';
import { openThreadDb, THREAD_DEADLINES, ThreadDb } from '../../src/results/db-thread';
import { BACKGROUND_NICE, BackgroundPriority } from '../../src/results/thread-priority';
import { RunRecorder } from '../../src/results/record-run';
import { runRecord } from './records';
import { freshPgliteStore } from '../support/pglite-template';
import { skipUnlessTool } from '../support/tools';

const linux = process.platform === 'linux' && existsSync('/proc/thread-self');

/** What setpriority(2) documents: raising a thread back to `nice` needs CAP_SYS_NICE (bit 23 of the
 *  effective set) or an RLIMIT_NICE soft limit of at least 20 - nice. */
function mayRaiseTo(nice: number): boolean {
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  if ((BigInt(`0x${capEff}`) >> 23n) & 1n) return true;
  const soft = /^Max nice priority\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  return soft === 'unlimited' || Number(soft) >= 20 - nice;
}

/** Every wait here has its own deadline: a thread that never says its id fails the test, not tap's timeout. */
const SAID_WITHIN_MS = 60_000;

/** Resolves once the thread has said its thread id (its first message), whatever else it is doing. */
function threadSaid(db: ThreadDb): Promise<number> {
  return new Promise((resolve, reject) => {
    if (db.tid !== undefined) return resolve(db.tid);
    const timer = setTimeout(() => reject(new Error(`the store's thread did not say its thread id within ${SAID_WITHIN_MS / 1000} s`)), SAID_WITHIN_MS);
    const said = (m: { id: number }) => {
      if (m.id !== -1) return;
      db.thread.off('message', said);
      clearTimeout(timer);
      resolve(db.tid!);
    };
    db.thread.on('message', said);
  });
}

t.test('the thread runs at nice 19 until something waits for it, then at its own priority', { skip: !linux && 'Linux only' }, async (t) => {
  const own = getPriority(process.pid);
  const priority = new BackgroundPriority();
  // not awaiting the open while the thread is lowered: on a machine busy with other tests it may get next to no CPU
  const db = new ThreadDb((await freshPgliteStore('winpv-priority-')).target, THREAD_DEADLINES, priority);
  t.teardown(() => db.close());
  const tid = await threadSaid(db);
  t.ok(tid && tid !== process.pid, 'the thread said its own thread id');
  const restorable = mayRaiseTo(own);
  t.equal(priority.isLowered, restorable, restorable ? 'lowered: this process may raise it back' : 'not lowered: this process may not raise it back');
  t.equal(getPriority(tid), restorable ? BACKGROUND_NICE : own, 'its nice value');
  t.equal(getPriority(process.pid), own, 'the main thread keeps its own');
  priority.foreground();
  t.equal(getPriority(tid), own, 'raised back as something waits for it');
  t.equal(priority.isLowered, false);
  await db.opened;
  t.same(await db.query('SELECT 1 AS one'), [{ one: 1 }], 'and it answers');
});

t.test('a lowered thread\'s deadlines wait until it is raised back', { skip: !linux ? 'Linux only' : !mayRaiseTo(getPriority(process.pid)) && 'this process may not raise a thread back, so none is lowered' }, async (t) => {
  const priority = new BackgroundPriority();
  // an open deadline far shorter than the wait below: were it running, the thread would be stopped
  const db = new ThreadDb((await freshPgliteStore('winpv-priority-')).target, { ...THREAD_DEADLINES, openMs: 200 }, priority);
  db.opened.catch(() => undefined); // awaited below, after the wait
  t.teardown(() => db.close());
  await threadSaid(db);
  t.ok(priority.isLowered);
  let exited = false;
  void db.exited.then(() => (exited = true));
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(exited, false, 'not stopped while lowered, past its open deadline');
  priority.foreground();
  // raised, the deadline runs again in full: the open may or may not beat 200 ms here, either ends the wait
  await db.opened.catch(() => undefined);
  t.pass('the open ends once raised');
});

t.test('a thread that starts after something waits for it is never lowered', { skip: !linux && 'Linux only' }, async (t) => {
  const priority = new BackgroundPriority();
  priority.foreground();
  const db = await openThreadDb((await freshPgliteStore('winpv-priority-')).target, undefined, priority);
  t.teardown(() => db.close());
  t.equal(getPriority(db.tid!), getPriority(process.pid));
});

t.test('RunRecorder: lowered while the run goes on, raised back when the run ends', { skip: !linux && 'Linux only' }, async (t) => {
  const own = getPriority(process.pid);
  const recorder = new RunRecorder((await freshPgliteStore('winpv-priority-')).target);
  const rec = runRecord(1);
  recorder.planned({ scenarios: ['vbd-connect'], hostKind: rec.hostKind, windowsBuild: rec.windowsBuild });
  for (const until = Date.now() + SAID_WITHIN_MS; recorder.priority.tid === undefined; await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > until) throw new Error(`the store's thread did not say its thread id within ${SAID_WITHIN_MS / 1000} s`);
  }
  t.equal(getPriority(recorder.priority.tid), mayRaiseTo(own) ? BACKGROUND_NICE : own, 'during the run');
  await recorder.reportInput(rec);
  t.equal(recorder.priority.isLowered, false, 'the report waits for it');
  t.equal(getPriority(recorder.priority.tid), own);
  const r = await recorder.finish('reports/x', () => rec);
  t.ok(r.recorded, 'the run is recorded');
});

const asRoot = process.getuid?.() === 0;
t.test('where raising back is refused (no CAP_SYS_NICE, RLIMIT_NICE 0) the thread is not lowered', {
  skip: !linux ? 'Linux only' : !asRoot ? 'needs root to drop CAP_SYS_NICE (as this user the first test covers it)' : skipUnlessTool('prlimit', 'setpriv'),
}, async (t) => {
  // the first test again, in a process whose capabilities lack CAP_SYS_NICE (util-linux setpriv)
  // and whose RLIMIT_NICE is 0 (util-linux prlimit)
  const child = `
    const { openThreadDb } = require(${JSON.stringify(resolve(__dirname, '../../src/results/db-thread'))});
    const { BackgroundPriority } = require(${JSON.stringify(resolve(__dirname, '../../src/results/thread-priority'))});
    const { getPriority } = require('node:os');
    (async () => {
      const p = new BackgroundPriority();
      const db = await openThreadDb(process.argv[1], undefined, p);
      process.stdout.write(JSON.stringify({ lowered: p.isLowered, nice: getPriority(db.tid), own: getPriority(process.pid) }));
      await db.close();
    })();`;
  const dir = (await freshPgliteStore('winpv-priority-')).target;
  const out = execFileSync('prlimit', ['--nice=0:0', '--', 'setpriv', '--inh-caps=-sys_nice', '--bounding-set=-sys_nice', '--',
    process.execPath, '-r', require.resolve('../support/ts-require.cjs'), '-e', child, dir], { encoding: 'utf8', timeout: 120_000 });
  const r = JSON.parse(out) as { lowered: boolean; nice: number; own: number };
  t.equal(r.lowered, false, 'not lowered');
  t.ok(r.nice <= r.own + 1, `at most one step below its own priority (nice ${r.nice}, own ${r.own})`);
});
