// The store from the command line: a run whose store cannot be reached warns, writes complete
// reports and exits as its checks say; `winpv results import` loads it later (twice = once);
// `history` and `compare` answer in text and JSON; a wrong URL or password is a clear error that
// never prints the password.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runWinpv } from '../support/cli-io';
import { STORE_TARGETS } from './stores';

const repo = resolve(__dirname, '..', '..', '..');
const scenario = join(repo, 'scenarios', 'vbd-connect.xml');
const SECRET = 'hunter2-not-printed';

t.test('store unreachable during the run: warning, complete reports, imported later', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'winpv-results-cli-'));
  const env = { HOME: tmp } as NodeJS.ProcessEnv;
  const reports = join(tmp, 'reports');
  const run = (seed: string) => runWinpv(['run', scenario, '--seed', seed, '--report-dir', reports, '--reporter', 'none', '--db', `postgres://winpv:${SECRET}@127.0.0.1:1/nowhere`], { env, cwd: repo });
  const r = await run('1');
  t.equal(r.code, 0, 'the run passes: the store is not part of the verdict');
  t.match(r.err, /warning: the results store postgres:\/\/winpv:\*\*\*@127\.0\.0\.1:1\/nowhere did not record this run .*cannot connect.*load them later with winpv results import/);
  t.notMatch(r.err + r.out, SECRET, 'the password is never printed');
  const runs = readdirSync(reports).filter((d) => d !== 'latest').sort();
  const dir = join(reports, runs[0]);
  for (const f of ['summary.json', 'results.tap', 'junit.xml', 'trace.jsonl']) t.ok(existsSync(join(dir, f)), `${f} written`);
  await run('2');
  const dir2 = join(reports, readdirSync(reports).filter((d) => d !== 'latest' && d !== runs[0])[0]);

  const db = join(tmp, 'store');
  const imp = await runWinpv(['results', 'import', dir, dir2, '--db', db], { env, cwd: repo });
  t.equal(imp.code, 0, imp.err);
  t.match(imp.out, /imported: .* \(1 instances\)[^]*imported: [^]*\(2 runs\)/);
  const again = await runWinpv(['results', 'import', dir, '--db', db], { env, cwd: repo });
  t.match(again.out, /already there, replaced[^]*\(2 runs\)/, 'importing twice changes nothing');

  const h = await runWinpv(['history', 'vbd-connect', '--db', db, '--json'], { env, cwd: repo });
  t.equal(h.code, 0, h.err);
  const hj = JSON.parse(h.out) as { runs: { verdict: string; driverVersion: string }[]; trends: { metric: string; points: unknown[] }[] };
  t.equal(hj.runs.length, 2);
  t.equal(hj.runs[0].verdict, 'pass');
  t.not(hj.runs[0].driverVersion, 'none', 'the driver version comes from the trace');
  t.ok(hj.trends.some((x) => x.metric.startsWith('time.') && x.points.length === 2), 'lifecycle timings recorded');
  const ht = await runWinpv(['history', 'vbd-connect', '--db', db], { env, cwd: repo });
  t.match(ht.out, /vbd-connect: last 2 run\(s\)/);

  const ids = [runs[0], readdirSync(reports).filter((d) => d !== 'latest' && d !== runs[0])[0]].map((d) => JSON.parse(readFileSync(join(reports, d, 'summary.json'), 'utf8')).runId as string);
  const c = await runWinpv(['compare', ids[0], ids[1], '--db', db, '--json'], { env, cwd: repo });
  t.equal(c.code, 0, c.err);
  const cj = JSON.parse(c.out) as { newFailures: string[]; metrics: unknown[] };
  t.same(cj.newFailures, []);
  const ct = await runWinpv(['compare', ids[0], 'nope', '--db', db], { env, cwd: repo });
  t.equal(ct.code, 2);
  t.match(ct.err, /not in the results store .*: nope \(load a run with winpv results import/);
});

t.test('results import of something that is not a run names the file and touches no store', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'winpv-results-cli-'));
  const r = await runWinpv(['results', 'import', tmp, '--db', join(tmp, 'store')], { env: { HOME: tmp }, cwd: repo });
  t.equal(r.code, 2);
  t.match(r.err, /holds no summary\.json: not a winpv run directory/);
  t.notOk(existsSync(join(tmp, 'store')), 'no store made');
});

const pg = STORE_TARGETS.find((s) => s.name === 'postgres')!;
t.test('--db with a wrong password: clear error, password never printed', { skip: pg.skip }, async (t) => {
  const url = new URL(process.env.WINPV_TEST_PG_URL!);
  url.password = SECRET;
  const tmp = mkdtempSync(join(tmpdir(), 'winpv-results-cli-'));
  const r = await runWinpv(['history', 'vbd-connect', '--db', url.toString()], { env: { HOME: tmp }, cwd: repo });
  t.equal(r.code, 3);
  t.match(r.err, /cannot connect to the results database postgres:\/\/[^:]+:\*\*\*@.*authentication failed \(check the user and password\)/);
  t.notMatch(r.err + r.out, SECRET);
  const bad = await runWinpv(['history', 'vbd-connect', '--db', 'mysql://u:pw@h/db'], { env: { HOME: tmp }, cwd: repo });
  t.equal(bad.code, 2);
  t.match(bad.err, /--db takes postgres:\/\/\.\.\. or a directory/);
});

t.test('a run recorded in a store gets its scenarios\' trends in report.html; without a store it has none', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'winpv-results-trend-'));
  const env = { HOME: tmp } as NodeJS.ProcessEnv;
  const reports = join(tmp, 'reports');
  const db = join(tmp, 'store');
  const html = () => readFileSync(join(reports, 'latest', 'report.html'), 'utf8');
  const trendsIn = (page: string) => (/"trends":\[(.*?)\],"/.exec(page)?.[1] ?? '').length;
  const none = await runWinpv(['run', scenario, '--seed', '1', '--report-dir', reports, '--reporter', 'none', '--db', 'none'], { env, cwd: repo });
  t.equal(none.code, 0, none.err);
  t.equal(trendsIn(html()), 0, 'no store, no trends');
  for (const seed of ['1', '2']) {
    const r = await runWinpv(['run', scenario, '--seed', seed, '--report-dir', reports, '--reporter', 'none', '--db', db], { env, cwd: repo });
    t.equal(r.code, 0, r.err);
  }
  const page = html();
  t.ok(trendsIn(page) > 0, 'the trends of vbd-connect are in the page');
  t.match(page, /"scenario":"vbd-connect","metric":"time\./, 'a lifecycle timing trend, two runs long');
});
