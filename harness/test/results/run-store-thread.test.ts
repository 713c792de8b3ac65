// `winpv run` recording through PGlite in a thread of its own (results/db-thread.ts): when that thread
// dies while the run goes on, the run warns as for any unreachable store, writes complete reports
// (report.html without trends) and exits as its checks say; `winpv results import` loads the run later.
// The store is opened as the command starts, so a command that ends before the run (bad input) still
// closes it: no thread is left running.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main';
import { patchBuiltin } from '../support/patch-builtin';
import { runWinpv } from '../support/cli-io';
import { pgliteStoreAt } from '../support/pglite-template';

const repo = resolve(__dirname, '..', '..', '..');
const scenario = join(repo, 'scenarios', 'vbd-connect.xml');

t.test('the store\'s thread dies mid-run: warning, complete reports with no trends, imported later', async (t) => {
  // every worker thread the run starts (the store's) is ended once it has said the store is open
  // (its answer 0; the message before it gives its thread id): the store opened, then went away
  // while the run went on
  const threads = await import('node:worker_threads');
  let stopped = 0;
  class DyingWorker extends threads.Worker {
    constructor(...args: ConstructorParameters<typeof threads.Worker>) {
      super(...args);
      const opened = (m: { id: number }) => {
        if (m.id !== 0) return;
        this.off('message', opened);
        setImmediate(() => void this.terminate().then(() => stopped++));
      };
      this.on('message', opened);
    }
  }
  const tmp = mkdtempSync(join(tmpdir(), 'winpv-results-dies-'));
  const env = { HOME: tmp } as NodeJS.ProcessEnv;
  const reports = join(tmp, 'reports');
  const db = await pgliteStoreAt(join(tmp, 'store'));
  const io = { out: '', err: '' };
  const { PassThrough } = await import('node:stream');
  const out = new PassThrough().on('data', (b) => (io.out += b));
  const err = new PassThrough().on('data', (b) => (io.err += b));
  patchBuiltin<typeof threads, 'Worker'>(t, 'node:worker_threads', 'Worker', DyingWorker);
  const code = await main(['run', scenario, '--seed', '1', '--report-dir', reports, '--reporter', 'none', '--db', db], { env, cwd: repo, out, err });
  t.equal(code, 0, 'the run passes: the store is not part of the verdict');
  t.equal(stopped, 1, 'the store\'s thread was stopped');
  t.match(io.err, /warning: the results store .*store did not record this run \(the results store .* stopped answering: its thread exited .*\); the reports are complete: load them later with winpv results import/);
  const dir = realpathSync(join(reports, 'latest'));
  for (const f of ['summary.json', 'results.tap', 'junit.xml', 'trace.jsonl', 'report.html']) t.ok(existsSync(join(dir, f)), `${f} written`);
  t.notMatch(readFileSync(join(dir, 'report.html'), 'utf8'), /"trends":\[\{/, 'no trends: the history never came');
  const imp = await runWinpv(['results', 'import', dir, '--db', db], { env, cwd: repo });
  t.equal(imp.code, 0, imp.err);
  t.match(imp.out, /imported: /);
});

t.test('a run that ends before it starts (no instance matches) closes the store it opened: no thread left', async (t) => {
  const threads = await import('node:worker_threads');
  const exits: Promise<number>[] = [];
  class CountedWorker extends threads.Worker {
    constructor(...args: ConstructorParameters<typeof threads.Worker>) {
      super(...args);
      exits.push(new Promise((done) => this.once('exit', done)));
    }
  }
  const tmp = mkdtempSync(join(tmpdir(), 'winpv-results-early-'));
  const db = await pgliteStoreAt(join(tmp, 'store'));
  const { PassThrough } = await import('node:stream');
  let err = '';
  patchBuiltin<typeof threads, 'Worker'>(t, 'node:worker_threads', 'Worker', CountedWorker);
  const code = await main(['run', scenario, '--grep', 'matches-no-instance', '--report-dir', join(tmp, 'reports'), '--reporter', 'none', '--db', db],
    { env: { HOME: tmp } as NodeJS.ProcessEnv, cwd: repo, out: new PassThrough(), err: new PassThrough().on('data', (b) => (err += b)) });
  t.equal(code, 2, 'a usage error');
  t.match(err, /no scenario instance matches the filters/);
  t.equal(exits.length, 1, 'the store was opened as the command started');
  // main has returned: the thread must have exited already (a thread left running would keep the process alive)
  const settled = await Promise.race([Promise.all(exits).then(() => 'exited'), new Promise((done) => setTimeout(() => done('running'), 100))]);
  t.equal(settled, 'exited', 'the store\'s thread ended before main returned');
  t.ok(existsSync(join(db, 'PG_VERSION')), 'the store was made and closed cleanly');
});
