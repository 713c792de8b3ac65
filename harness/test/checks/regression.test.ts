// The regression check: a metric against its history. A planted 15 % drop over a noisy history is
// not ok, a 2 % wobble and an improvement are ok, too little history and no store are skips (never
// a pass); end to end, `winpv run` takes the baselines from a results store into the trace and
// `winpv check` re-judges them without the store.
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { evaluate } from '../../src/checks/evaluate';
import type { CheckResult } from '../../src/model/result';
import type { BlockResult, TraceEvent } from '../../src/model/trace';
import { ResultsStore } from '../../src/results/store';
import { fixtureSpecs } from '../fixtures/specs';
import { TraceBuilder } from '../fixtures/trace-builder';
import { noisy, runRecord } from '../results/records';
import { runWinpv } from '../support/cli-io';
import { freshPgliteStore } from '../support/pglite-template';

const specs = fixtureSpecs();
const repo = resolve(__dirname, '..', '..', '..');

/** vbd-connect holding itself to its history (the regression check named), written into dir. */
function regressionScenario(dir: string): string {
  const file = join(dir, 'vbd-regression.xml');
  writeFileSync(file, readFileSync(join(repo, 'scenarios', 'vbd-connect.xml'), 'utf8')
    .replace('name="vbd-connect"', 'name="vbd-regression"').replace('xsi:noNamespaceSchemaLocation="scenario.xsd"', '')
    .replace('</steps>', '</steps>\n  <checks><check name="regression"/></checks>'));
  return file;
}

const block = (mbps: number): BlockResult => ({ kind: 'block', bytes: 1, ios: 1, readBytes: 0, writeBytes: 1, seconds: 1, iops: 100, mbps, errors: 0, verifyErrors: 0, latencyMs: {} });

/** One instance that measured `mbps` on vbd/51712 and, unless `history` is undefined, got that history as its baseline. */
function judged(mbps: number, history: number[] | undefined, params: Record<string, string> = {}): CheckResult {
  const b = new TraceBuilder().push({ ev: 'workload', inst: 'i', guest: 'win', step: 's1', dev: 'vbd/51712', result: block(mbps) });
  if (history) b.push({ ev: 'baseline', inst: 'i', metric: 'vbd/51712.mbps', unit: 'MB/s', better: 'higher', values: history, hostClass: 'sim', windowsBuild: 'sim' });
  const events: TraceEvent[] = b.end();
  const start = events.find((e) => e.ev === 'scenario.start')!;
  if (start.ev === 'scenario.start') start.checks = [...start.checks, { name: 'regression', params }];
  return evaluate(events, specs)[0].checks.find((c) => c.check === 'regression')!;
}

t.test('a planted 15 % throughput drop over a noisy history is not ok, with the statistics', async (t) => {
  const r = judged(85, noisy(20, 100, 0.04));
  t.equal(r.verdict, 'fail');
  t.match(r.message, /vbd\/51712\.mbps: -1[4-6]\.\d% vs median .* of 20 runs \(bootstrap 95% CI/);
  t.match(r.diagnostics, { metric: 'vbd/51712.mbps', method: 'bootstrap', baselineRuns: 20, tolerance: 0.05 });
});

t.test('a 2 % wobble and an improvement are ok', async (t) => {
  t.equal(judged(98, noisy(20, 100, 0.04)).verdict, 'pass');
  t.equal(judged(130, noisy(20, 100, 0.04)).verdict, 'pass');
  t.equal(judged(85, noisy(20, 100, 0.04), { tolerancePct: '20' }).verdict, 'pass', 'a drop inside a wider tolerance');
});

t.test('too little history or none is a skip with the reason, never a pass', async (t) => {
  const few = judged(50, noisy(3, 100, 0.04));
  t.equal(few.verdict, 'skip');
  t.match(few.message, /too little history \(fewer than 8 comparable runs\) for vbd\/51712\.mbps \(3\)/);
  const none = judged(50, undefined);
  t.equal(none.verdict, 'skip');
  t.match(none.message, /no results history/);
});

t.test('a scenario that does not name the check has no regression point', async (t) => {
  const events = new TraceBuilder().end();
  t.notOk(evaluate(events, specs)[0].checks.some((c) => c.check === 'regression'));
});

t.test('winpv run judges against the results store, and winpv check re-judges from the trace alone', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-regression-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const scenario = regressionScenario(dir);
  const args = (db: string, reports: string) => ['run', scenario, '--seed', '5', '--db', db, '--report-dir', join(dir, reports), '--reporter', 'tap'];
  // what this scenario measures with this seed (the simulator is deterministic)
  const first = await runWinpv(args('none', 'r0'), { cwd: repo, env: {} });
  t.equal(first.code, 0, first.err);
  t.match(first.out, /# SKIP no results history/);
  const runDir = (r: string) => join(dir, r, readdirSync(join(dir, r)).find((d) => d !== 'latest' && !d.endsWith('.json'))!);
  const trace = readFileSync(join(runDir('r0'), 'trace.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as TraceEvent);
  const w = trace.find((e) => e.ev === 'workload');
  const mbps = w?.ev === 'workload' ? w.result.mbps : NaN;
  const metric = `${w?.ev === 'workload' ? w.dev : '?'}.mbps`;
  t.ok(mbps > 0, `the scenario measured ${metric} ${mbps} MB/s`);

  for (const [name, centre, verdict] of [['same', mbps, /^\s*ok \d+ - regression/m], ['faster-before', mbps * 1.25, /^\s*not ok \d+ - regression/m]] as const) {
    const db = (await freshPgliteStore('winpv-regression-db-')).target;
    t.teardown(() => rmSync(dirname(db), { recursive: true, force: true }));
    const store = await ResultsStore.open(db);
    try {
      for (const [k, v] of noisy(12, centre, 0.03).entries()) {
        const rec = runRecord(k, { scenario: 'vbd-regression', value: v });
        rec.instances[0].metrics = [{ name: metric, value: v, unit: 'MB/s', better: 'higher' }];
        await store.record(rec);
      }
    } finally {
      await store.close();
    }
    const r = await runWinpv(args(db, `r-${name}`), { cwd: repo, env: {} });
    t.match(r.out, verdict, `history ${name}: ${r.out.split('\n').filter((l) => /regression/.test(l)).join(' | ')}`);
    t.equal(r.code, name === 'same' ? 0 : 1);
    const again = await runWinpv(['check', runDir(`r-${name}`)], { cwd: repo, env: {} });
    t.match(again.out, verdict, 'winpv check gives the same verdict without the store');
  }
});

t.test('a results store that cannot be reached: a warning, the check skips, the reports are complete', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-regression-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const scenario = regressionScenario(dir);
  const r = await runWinpv(['run', scenario, '--seed', '5', '--db', 'postgres://winpv:s3cret-pw@127.0.0.1:1/none', '--report-dir', join(dir, 'r'), '--reporter', 'tap'], { cwd: repo, env: {} });
  t.equal(r.code, 0, 'a missing history is not a failure');
  t.match(r.out, /regression # SKIP no results history in the trace/);
  const run = join(dir, 'r', readdirSync(join(dir, 'r')).find((d) => d !== 'latest' && !d.endsWith('.json'))!);
  const trace = readFileSync(join(run, 'trace.jsonl'), 'utf8');
  t.match(trace, /the results history for vbd-regression could not be read/);
  t.notMatch(trace + r.out + r.err, /s3cret-pw/, 'the password is nowhere');
  t.match(r.err, /warning: the results store/);
});
