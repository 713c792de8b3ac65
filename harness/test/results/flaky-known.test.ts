// --retries and the known-issues file: an instance that fails then passes is reported flaky (TAP
// TODO, YAML, JUnit, summary counts) and does not fail the run; one that fails every attempt stays
// not ok; a failure matching a known issue is a TODO with its link and is not counted as failed; a
// known issue that stops failing is reported so it can be closed; a bad known-issues file is a
// located error.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runPlanned } from '../support/run-plan';
import type { TraceWriter } from '../../src/trace/writer';
import { FileReporter } from '../../src/report/files';
import { driverSpecs } from '../../src/cli/run-support';
import { loadKnownIssues } from '../../src/results/known';
import { readTraceFile } from '../../src/trace/reader';
import { evaluate } from '../../src/checks/evaluate';
import type { KnownIssue } from '../../src/model/outcomes';
import type { BlockResult } from '../../src/model/trace';
import { FakeHost } from '../fixtures/fake-host';
import { runWinpv } from '../support/cli-io';
import { block, install, planOf, scenario, waitConnected } from '../fixtures/scenarios';

const repo = resolve(__dirname, '..', '..', '..');
const { specs, hashes } = driverSpecs(repo);

/** A host whose first `failing` workloads report an I/O error, then none. */
function flakyHost(failing: number): FakeHost {
  const host = new FakeHost({ workloadErrors: failing > 0 ? 1 : 0 });
  const h = host as unknown as { workload: (...a: unknown[]) => Promise<BlockResult> };
  const orig = h.workload.bind(host);
  let n = 0;
  h.workload = async (...a) => {
    const r = await orig(...a);
    if (++n >= failing) host.switches.workloadErrors = 0;
    return r;
  };
  return host;
}

async function run(host: FakeHost, o: { retries?: number; knownIssues?: KnownIssue[] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-flaky-'));
  const reporters = (trace: TraceWriter) => [new FileReporter(dir, () => ({ runId: 'r', startedAt: 'x', inputs: [], command: 'run' }), () => trace.events)];
  const { outcome } = await runPlanned({ host, plan: planOf(scenario('io', [install(), waitConnected(), block(1000)], { checks: [{ name: 'workload', params: {} }] })), specs, specHashes: hashes, traceFile: join(dir, 'trace.jsonl'), reporters, ...o });
  return { dir, outcome, tap: readFileSync(join(dir, 'results.tap'), 'utf8'), junit: readFileSync(join(dir, 'junit.xml'), 'utf8'), summary: JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) };
}

t.test('fails then passes on a retry: flaky, counted apart, not a failure', async (t) => {
  const r = await run(flakyHost(1), { retries: 2 });
  const i = r.outcome.summary.instances[0];
  t.equal(i.verdict, 'pass');
  t.equal(i.flaky, true);
  t.equal(i.attempts, 2);
  t.match(r.tap, /^ok 1 - io # TODO flaky: passed on attempt 2 of 2$/m);
  t.match(r.tap, /flaky: true/);
  t.match(r.junit, /<testsuites [^>]*flaky="1"/);
  t.match(r.junit, /<property name="flaky" value="passed on attempt 2"\/>/);
  t.equal(r.summary.counts.flaky, 1);
  t.equal(r.summary.counts.failed, 0);
  // `winpv check` folds the attempts the same way
  const replay = evaluate(readTraceFile(join(r.dir, 'trace.jsonl')).events, specs);
  t.same(replay.map((x) => [x.inst, x.verdict, x.flaky, x.attempts]), [['io', 'pass', true, 2]]);
});

t.test('fails on every attempt: not ok, not flaky', async (t) => {
  const r = await run(flakyHost(99), { retries: 1 });
  const i = r.outcome.summary.instances[0];
  t.equal(i.verdict, 'fail');
  t.notOk(i.flaky);
  t.equal(i.attempts, 2);
  t.match(r.tap, /^not ok 1 - io # time=/m);
  t.equal(r.summary.counts.failed, 1);
});

t.test('no retries: a failure is a failure', async (t) => {
  const r = await run(flakyHost(1));
  t.equal(r.outcome.summary.instances[0].verdict, 'fail');
  t.equal(r.outcome.summary.instances[0].attempts, undefined);
});

const known: KnownIssue = { scenario: 'io', check: 'workload', symptom: 'I/O error', issue: 'https://example.org/winpv/issues/42' };

t.test('a known failure is TODO with its link and does not count as failed', async (t) => {
  const r = await run(flakyHost(99), { knownIssues: [known] });
  t.match(r.tap, /^not ok 1 - io # TODO known issue https:\/\/example\.org\/winpv\/issues\/42$/m);
  t.equal(r.summary.counts.failed, 0);
  t.equal(r.summary.counts.known, 1);
  t.match(r.junit, /known="1"/);
  t.match(r.junit, /<property name="known-issue" value="https:\/\/example.org\/winpv\/issues\/42"\/>/);
  t.notMatch(r.tap, /did not fail/);
});

/** The test lines and comments of a TAP stream, without the per-test times. */
const verdictLines = (tap: string) => tap.split('\n').filter((l) => /^(not )?ok \d|^# known issue|^# \{?(fail|pass|todo)/.test(l)).map((l) => l.replace(/ # time=[\d.]+ms$/, ''));

t.test('winpv check and report merge mark the same failure known as the live run (the trace carries the known issues)', async (t) => {
  const r = await run(flakyHost(99), { knownIssues: [known] });
  const runStart = readTraceFile(join(r.dir, 'trace.jsonl')).events[0];
  t.same(runStart.ev === 'run.start' && runStart.knownIssues, [known], 'run.start records the known issues judged with');
  const check = await runWinpv(['check', r.dir], { cwd: repo, env: {} });
  t.equal(check.code, 0, 'a known failure is not a failed run for winpv check either');
  t.same(verdictLines(check.out), verdictLines(r.tap));
  t.match(check.out, /# TODO known issue https:\/\/example\.org\/winpv\/issues\/42$/m);
  const reports = mkdtempSync(join(tmpdir(), 'winpv-known-merge-'));
  const merged = await runWinpv(['report', 'merge', r.dir, '--report-dir', reports, '--reporter', 'none'], { cwd: repo, env: {} });
  t.equal(merged.code, 0, merged.err);
  const summary = JSON.parse(readFileSync(join(reports, 'latest', 'summary.json'), 'utf8'));
  t.same([summary.counts.failed, summary.counts.known], [0, 1]);
  t.match(readFileSync(join(reports, 'latest', 'results.tap'), 'utf8'), /^not ok 1 - io # TODO known issue/m);
});

t.test('without the known issues in its trace, winpv check reports the failure (the fault the field exists for)', async (t) => {
  const r = await run(flakyHost(99), { knownIssues: [known] });
  const file = join(r.dir, 'trace.jsonl');
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = JSON.parse(lines[0]);
  delete start.knownIssues;
  writeFileSync(file, [JSON.stringify(start), ...lines.slice(1)].join('\n'));
  const check = await runWinpv(['check', r.dir], { cwd: repo, env: {} });
  t.equal(check.code, 1);
  t.match(check.out, /^not ok 1 - io # time=|^not ok 1 - io$/m);
});

t.test('a failure the known issue does not describe stays a failure', async (t) => {
  const r = await run(flakyHost(99), { knownIssues: [{ ...known, symptom: 'timed out' }] });
  t.match(r.tap, /^not ok 1 - io # time=/m);
  t.equal(r.summary.counts.failed, 1);
});

t.test('a known issue that stops failing is reported so it can be closed', async (t) => {
  const r = await run(flakyHost(0), { knownIssues: [known] });
  t.equal(r.outcome.summary.instances[0].verdict, 'pass');
  t.match(r.tap, /^# known issue https:\/\/example\.org\/winpv\/issues\/42 \(io, workload\) did not fail: it may be fixed; close it/m);
  t.same(r.summary.knownNotFailing, [{ issue: known.issue, scenario: 'io', check: 'workload' }]);
});

t.test('a bad known-issues file names the file and the entry', async (t) => {
  const f = join(mkdtempSync(join(tmpdir(), 'winpv-known-')), 'known-issues.json');
  writeFileSync(f, JSON.stringify([{ scenario: 'io', check: 'workload', symptom: '(', issue: 'not a link' }]));
  t.throws(() => loadKnownIssues(f), { code: 'KNOWN_ISSUES_INVALID', problems: [{ location: { file: f, path: '/0/symptom' } }, { location: { file: f, path: '/0/issue' } }] });
  t.same(loadKnownIssues(join(f, '..', 'absent.json')), [], 'no file, no known issues');
});

t.test("the repository's known-issues file is valid", async (t) => {
  t.ok(Array.isArray(loadKnownIssues(join(repo, 'scenarios', 'known-issues.json'), true)));
});
