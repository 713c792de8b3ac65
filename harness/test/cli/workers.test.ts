// winpv run --workers N: the same verdicts and a trace `winpv check` re-judges to the same TAP as
// one worker; hosts of a `--host label:` run checked before use (an unhealthy one skipped with its
// reason, its instances run by the others; none healthy: exit 3); bad input exits 2; two runs
// against one XenAPI pool with capacity one: the second waits, then runs.
import t from 'tap';
import type { fork } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ExitCode } from '../../src/model/errors';
import { runWinpv } from '../support/cli-io';
import { patchBuiltin } from '../support/patch-builtin';
import { startLeaseDom0 } from '../support/lease-dom0';
import { startXapiServer } from '../support/xapi-server';
import { holdCapacity } from '../../src/cli/lease-support';
import { resolveConfig } from '../../src/cli/config';
import { defaultSimWorkers } from '../../src/cli/run-flow';

const repo = resolve(__dirname, '..', '..', '..');
// the installer scenario keeps an artifact (the installer's log): a worker process keeps it in the
// run's artifacts/ as a worker in this process does (the trace names where)
const files = ['scenarios/vbd-connect.xml', 'scenarios/vif-replug-x3.xml', 'scenarios/flush.xml', 'scenarios/coexistence-installer-refuses.xml'];
/** summary.json without what differs between two runs of one plan (the run's id and clock times). */
function summaryOf(dir: string): unknown {
  const { runId: _id, startedAt: _s, finishedAt: _f, ...rest } = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  return rest;
}
/** report.html's embedded data, likewise. */
function pageOf(dir: string): unknown {
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  const data = JSON.parse(/<script type="application\/json" id="winpv-data">(.*?)<\/script>/s.exec(html)![1]!) as { run: Record<string, unknown> };
  const { id: _id, startedAt: _s, finishedAt: _f, wallMs: _w, ...run } = data.run;
  return { ...data, run };
}
const runDir = (root: string) => join(root, readdirSync(root).filter((d) => /^\d{8}-/.test(d))[0]!);

t.test('--workers 2 gives the TAP, the trace and the reports of --workers 1, and winpv check re-judges it to the same TAP', async (t) => {
  const runs: Record<string, string> = {};
  // and a failing instance (its timeline keeps more ring points, its failure is marked on it)
  const failing = join(mkdtempSync(join(tmpdir(), 'winpv-workers-sc-')), 'flush-below-baseline.xml');
  const flush = readFileSync(join(repo, 'scenarios', 'flush.xml'), 'utf8');
  writeFileSync(failing, flush.replace('name="flush"', 'name="flush-below-baseline"').replace('</scenario>', '  <checks><check name="workload"><param name="minIops" value="100000000"/></check></checks>\n</scenario>'));
  for (const n of ['1', '2']) {
    const root = mkdtempSync(join(tmpdir(), `winpv-workers-${n}-`));
    const r = await runWinpv(['run', '--workers', n, '--seed', '11', '--report-dir', root, ...files, failing], { cwd: repo });
    t.equal(r.code, ExitCode.testFailed, `--workers ${n}: the failing instance fails the run ${r.err}`);
    runs[n] = runDir(root);
  }
  const tap1 = readFileSync(join(runs['1']!, 'results.tap'), 'utf8');
  const tap2 = readFileSync(join(runs['2']!, 'results.tap'), 'utf8');
  t.equal(tap2, tap1, 'results.tap identical');
  t.match(tap1, /ok 1 - vbd-connect[\s\S]*ok 2 - vif-replug-x3[\s\S]*ok 3 - flush(?!-)/, 'whole subtests in plan order');
  t.match(tap1, /^not ok \d+ - flush-below-baseline/m, 'the failing instance fails');
  t.equal(readFileSync(join(runs['2']!, 'trace.jsonl'), 'utf8'), readFileSync(join(runs['1']!, 'trace.jsonl'), 'utf8'), 'the same seed gives the same trace whatever the number of workers');
  // the reports of worker processes (sections judged and shaped where they ran) are those of one worker
  t.equal(readFileSync(join(runs['2']!, 'junit.xml'), 'utf8'), readFileSync(join(runs['1']!, 'junit.xml'), 'utf8'), 'junit.xml identical');
  t.same(summaryOf(runs['2']!), summaryOf(runs['1']!), 'summary.json the same but for the run\'s id and times');
  t.same(pageOf(runs['2']!), pageOf(runs['1']!), 'report.html\'s data the same but for the run\'s id and times');
  for (const n of ['1', '2']) t.ok(readdirSync(join(runs[n]!, 'artifacts')).some((d) => d.startsWith('coexistence-installer-refuses')), `--workers ${n} keeps the installer log in artifacts/`);
  const check = await runWinpv(['check', '--reporter', 'tap', join(runs['2']!, 'trace.jsonl')], { cwd: repo });
  t.equal(check.code, ExitCode.testFailed, check.err);
  t.equal(check.out.replace(/^# .*\n/gm, ''), tap2.replace(/^# .*\n/gm, ''), 'winpv check gives the same TAP');
});

t.test('a host that fails its health check is skipped with the reason; its instances go to the others; none healthy: exit 3', async (t) => {
  const dom0 = await startLeaseDom0({ xlWorks: false });
  t.teardown(() => dom0.close());
  const dir = mkdtempSync(join(tmpdir(), 'winpv-health-'));
  const config = join(dir, 'config.json');
  const broken = { url: `xl://root@127.0.0.1:${dom0.ssh.port}`, passwordEnv: 'BOX_PW', knownHostsFile: dom0.knownHosts, capacity: 1, labels: ['w'] };
  writeFileSync(config, JSON.stringify({ hosts: { 'a-broken': broken, 'b-sim': { url: 'sim', capacity: 2, labels: ['w'] }, 'c-broken': { ...broken, labels: ['v'] } } }));
  const env = { PATH: process.env.PATH, BOX_PW: dom0.password, WINPV_CONFIG: config };
  const r = await runWinpv(['run', '--host', 'label:w', '--report-dir', dir, 'scenarios/vbd-connect.xml', 'scenarios/vif-connect.xml'], { env, cwd: repo });
  t.equal(r.code, ExitCode.ok, r.err);
  t.match(r.err, /host a-broken skipped: XL_UNAVAILABLE: `xl info` failed/, 'the reason is said');
  const trace = readFileSync(join(runDir(dir), 'trace.jsonl'), 'utf8');
  t.match(trace, /"msg":"host a-broken skipped: XL_UNAVAILABLE/, 'and written in the trace the reports come from');
  t.match(readFileSync(join(runDir(dir), 'results.tap'), 'utf8'), /ok 1 - vbd-connect[\s\S]*ok 2 - vif-connect/, 'both instances ran on the healthy host');
  t.same(readdirSync(dom0.leaseDir), [], 'the broken host\'s lease was given back');

  const none = await runWinpv(['run', '--host', 'label:v', '--workers', '1', '--report-dir', dir, 'scenarios/vbd-connect.xml'], { env, cwd: repo });
  t.equal(none.code, ExitCode.hostError, 'the only host is unhealthy: exit 3');
  t.match(none.err, /XL_UNAVAILABLE/);
});

t.test('bad input: --workers 0, not a number, above the capacity of the label-matched hosts, with --keep-on-failure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-workers-bad-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ hosts: { a: { url: 'xl://root@a', capacity: 2, labels: ['w'] }, b: { url: 'xl://root@b', capacity: 1, labels: ['w'] } } }));
  const env = { PATH: process.env.PATH, WINPV_CONFIG: config };
  for (const [args, msg] of [
    [['--workers', '0'], /--workers takes a whole number from 1, not '0'/],
    [['--workers', 'many'], /--workers takes a whole number from 1, not 'many'/],
    [['--workers', '4', '--host', 'label:w'], /--workers 4 is more than the capacity of hosts 'a', 'b' together \(3;/],
    [['--workers', '2', '--keep-on-failure'], /--keep-on-failure .* runs with one worker/],
    [['--host', 'label:gpu'], /no configured host has label 'gpu'/],
  ] as const) {
    const r = await runWinpv(['run', ...args, 'scenarios/vbd-connect.xml'], { env, cwd: repo });
    t.equal(r.code, ExitCode.badInput, args.join(' '));
    t.match(r.err, msg);
  }
});

t.test('two runs against one XenAPI pool with capacity one: the second waits, then runs', async (t) => {
  const PW = 'planted-workers-pool-pw-71c2';
  const srv = await startXapiServer({ user: 'root', password: PW, tls: true });
  t.teardown(() => srv.close());
  const dir = mkdtempSync(join(tmpdir(), 'winpv-two-runs-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ hosts: { pool: { url: `xapi://root@127.0.0.1:${new URL(srv.url).port}`, insecure: true, passwordEnv: 'POOL_PW', capacity: 1, dom0Ssh: false } } }));
  const env = { PATH: process.env.PATH, POOL_PW: PW, WINPV_CONFIG: config };
  const host = resolveConfig({ host: 'pool' }, env).host;
  const said: string[] = [];
  const opts = (runId: string) => ({ runId, timeoutMs: 120_000, signal: new AbortController().signal, env, say: (m: string) => said.push(`${runId}: ${m}`), onLost: () => undefined });
  const first = await holdCapacity([{ host, slots: 1 }], opts('run-first'));
  t.equal(first.slots.get('pool'), 1, 'the first run holds the one slot');
  let secondHeld = false;
  const second = holdCapacity([{ host, slots: 1 }], opts('run-second')).then((h) => ((secondHeld = true), h));
  const deadline = Date.now() + 60_000;
  while (!said.some((m) => m.startsWith('run-second: waiting for capacity')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.match(said.join('\n'), /run-second: waiting for capacity on pool 'test pool' \([^)]*\) \(capacity 1, held by .* run run-first/, 'the second run waits, naming the first');
  t.notOk(secondHeld, 'and does not run meanwhile');
  await first.release();
  const h2 = await second;
  t.equal(h2.slots.get('pool'), 1, 'once the first gave its slot back, the second holds it');
  await h2.release();
  t.notMatch(said.join('\n'), new RegExp(PW));
});

t.test('the simulator\'s default starts no more workers than there are instances to run; one runs in the run\'s process', { timeout: 120_000 }, async (t) => {
  t.equal(defaultSimWorkers([{}], 1, 8), 1, 'one instance: one worker');
  t.equal(defaultSimWorkers([{}, {}, {}], 1, 2), 2, 'more instances than cores: a worker per core');
  t.equal(defaultSimWorkers([{}, { skip: 'needs sriov' }, { skip: 'needs sriov' }], 1, 8), 1, 'a skipped instance needs no worker');
  t.equal(defaultSimWorkers([{}], 3, 8), 3, '--repeat-each runs each instance that many times');
  t.equal(defaultSimWorkers([{ skip: 'x' }], 1, 8), 1, 'nothing to run: still one worker (the run reports the skips)');
  // end to end: the processes the run forks (ChildSimWorker forks sim-worker-main)
  const forked: string[] = [];
  const real = patchBuiltin<{ fork: typeof fork }, 'fork'>(t, 'node:child_process', 'fork', ((modulePath: string | URL, ...rest: unknown[]) => {
    forked.push(String(modulePath));
    return (real as (...a: unknown[]) => ReturnType<typeof fork>)(modulePath, ...rest);
  }) as typeof fork);
  const root = mkdtempSync(join(tmpdir(), 'winpv-workers-default-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const one = await runWinpv(['run', '--seed', '3', '--reporter', 'none', '--db', 'none', '--report-dir', root, 'scenarios/vbd-connect.xml'], { cwd: repo });
  t.equal(one.code, ExitCode.ok, one.err);
  t.same(forked.filter((f) => /sim-worker-main/.test(f)), [], 'one instance: no worker process');
  const two = await runWinpv(['run', '--seed', '3', '--reporter', 'none', '--db', 'none', '--report-dir', root, 'scenarios/vbd-connect.xml', 'scenarios/flush.xml'], { cwd: repo });
  t.equal(two.code, ExitCode.ok, two.err);
  const want = Math.min(availableParallelism(), 2);
  t.equal(forked.filter((f) => /sim-worker-main/.test(f)).length, want > 1 ? want : 0, `two instances on ${availableParallelism()} core(s): ${want > 1 ? `${want} worker processes` : 'in the run\'s process'}`);
});
