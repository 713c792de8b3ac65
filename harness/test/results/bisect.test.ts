// Bisection: on the simulator, 16 builds with a throughput regression planted from build 11 on
// (ioSlowdown, a simulated-build property) are searched in <= 5 steps and build 11 is named with
// its evidence; the search resumes from its state file after an interruption without rerunning what
// it had; a flaky step is repeated and decided by the majority; bad orderings are refused.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bisect, type BuildRun } from '../../src/results/bisect';
import { runWinpv } from '../support/cli-io';

const repo = resolve(__dirname, '..', '..', '..');
const builds = Array.from({ length: 16 }, (_, i) => `builtin:9.1.${i}`);

t.test('winpv bisect on the simulator finds the planted regression in <= 5 steps', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'winpv-bisect-'));
  const list = join(tmp, 'builds.json');
  writeFileSync(list, JSON.stringify(builds.map((b, i) => (i >= 11 ? { build: b, sim: { ioSlowdown: 1.4 } } : b))));
  const state = join(tmp, 'state.json');
  const r = await runWinpv(['bisect', '--good', builds[0], '--bad', builds[15], '--scenario', 'vbd-connect', '--builds', list, '--metric', 'vbd/51712.mbps', '--tolerance', '0.1', '--state', state, '--json'], { cwd: repo, env: { HOME: tmp } });
  t.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out) as { firstBad: string; lastGood: string; steps: { build: string; bad: boolean; why: string[] }[] };
  t.equal(res.firstBad, 'builtin:9.1.11');
  t.equal(res.lastGood, 'builtin:9.1.10');
  t.ok(res.steps.length <= 5, `${res.steps.length} steps`);
  t.match(res.steps.find((s) => s.build === 'builtin:9.1.11')!.why[0], /vbd\/51712\.mbps: -\d+\.\d% vs median .* of 8 runs \(Mann-Whitney U p=.*\): regression/);
  t.ok(Object.keys(JSON.parse(readFileSync(state, 'utf8')).runs).length >= 5, 'every run saved in the state file');
});

/** A fake build runner: builds from `firstBad` on fail a check; `flaky` builds fail their first run only. */
function fakeRunner(firstBad: number, flaky: number[] = []) {
  const calls: string[] = [];
  const run = async (build: string, seed: number): Promise<BuildRun> => {
    calls.push(build);
    const i = builds.indexOf(build);
    const nth = calls.filter((c) => c === build).length;
    const bad = i >= firstBad || (flaky.includes(i) && nth === 1);
    return { seed, failed: bad ? ['xenbus-states'] : [], metrics: {} };
  };
  return { run, calls };
}

const base = { builds, good: builds[0], bad: builds[15], scenario: 's', tolerance: 0.05, baseline: 3, repeats: 1, maxRepeats: 5 };

t.test('resumes after an interruption without rerunning what it had', async (t) => {
  const stateFile = join(mkdtempSync(join(tmpdir(), 'winpv-bisect-')), 'state.json');
  const ac = new AbortController();
  const f1 = fakeRunner(6);
  const stopAfter2 = async (b: string, s: number) => {
    const r = await f1.run(b, s);
    if (f1.calls.length === 2) ac.abort();
    return r;
  };
  await t.rejects(bisect({ ...base, stateFile, run: stopAfter2, signal: ac.signal }), { message: /interrupted; the state is in .*run the same command again to resume/ });
  const f2 = fakeRunner(6);
  const r = await bisect({ ...base, stateFile, run: f2.run });
  t.equal(r.firstBad, builds[6]);
  t.notOk(f2.calls.includes(builds[15]) || f2.calls.includes(builds[7]), `resumed: ${f2.calls.join(' ')}`);
  t.equal(f1.calls.length + f2.calls.length, 1 + r.steps.length, 'each build ran once in all');
});

t.test('a flaky step is repeated and the majority decides', async (t) => {
  const stateFile = join(mkdtempSync(join(tmpdir(), 'winpv-bisect-')), 'state.json');
  const f = fakeRunner(9, [7]);
  const r = await bisect({ ...base, repeats: 2, stateFile, run: f.run });
  t.equal(r.firstBad, builds[9]);
  const s7 = r.steps.find((s) => s.build === builds[7])!;
  t.equal(s7.bad, false);
  t.equal(s7.runs, 5, 'a split step ran again, up to --max-repeats');
  t.equal(s7.badRuns, 1);
});

t.test('refusals: order, unknown builds, a bad build that does not fail, another bisection state', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-bisect-'));
  const stateFile = join(dir, 'state.json');
  await t.rejects(bisect({ ...base, good: builds[5], bad: builds[2], stateFile, run: fakeRunner(3).run }), { message: /must come before/ });
  await t.rejects(bisect({ ...base, good: 'builtin:1.0.0', stateFile, run: fakeRunner(3).run }), { message: /not in the list of builds/ });
  await t.rejects(bisect({ ...base, stateFile, run: fakeRunner(99).run }), { code: 'BISECT_BAD_IS_GOOD' });
  await t.rejects(bisect({ ...base, scenario: 'other', stateFile, run: fakeRunner(3).run }), { message: /belongs to another bisection/ });
});
