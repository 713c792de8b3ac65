// Bisection over an ordered list of driver builds: which build first made a scenario fail or a
// metric regress. The good build is run `baseline` times (the metric's reference samples); the bad
// build once, to confirm it is bad; then a binary search between them. Each step runs the candidate
// `repeats` times; when its runs disagree on the checks (a flaky step) it runs more, up to
// `maxRepeats`, and the majority decides. A build is bad when most of its runs failed a check, or
// when the regression verdict of its runs' metric against the good build's runs is `fail`
// (significant and beyond the tolerance: Mann-Whitney U for 3 runs or more). Every run is
// saved to the state file as it ends, so an interrupted bisection resumes where it stopped.
import { existsSync, readFileSync } from 'node:fs';
import { inputError, usageError } from '../model/errors';
import { writeFileAtomic } from '../util/atomic-write';
import { judgeRegression } from '../model/regression';

export interface BuildRun {
  seed: number;
  /** Checks that failed (and `steps` when the instance aborted). */
  failed: string[];
  metrics: Record<string, number>;
}

export interface BisectOptions {
  builds: string[];
  good: string;
  bad: string;
  scenario: string;
  /** Judge this metric too (`xvda.mbps`); its direction comes from `better`. */
  metric?: string;
  better?: 'higher' | 'lower';
  tolerance: number;
  baseline: number;
  repeats: number;
  maxRepeats: number;
  stateFile: string;
  signal?: AbortSignal;
  /** Runs the scenario once with the build installed. */
  run(build: string, seed: number): Promise<BuildRun>;
  log?(line: string): void;
}

export interface BuildVerdict {
  build: string;
  bad: boolean;
  runs: number;
  badRuns: number;
  why: string[];
}

export interface BisectResult {
  firstBad: string;
  lastGood: string;
  /** Search steps (builds between good and bad that were judged). */
  steps: BuildVerdict[];
  confirm: BuildVerdict;
  baseline: number[];
  complete: true;
}

interface State {
  schema: 'winpv-bisect/1';
  key: string;
  runs: Record<string, BuildRun[]>;
}

export class Interrupted extends Error {}

export async function bisect(o: BisectOptions): Promise<BisectResult> {
  const [gi, bi] = rangeOf(o);
  const key = JSON.stringify([o.builds, o.good, o.bad, o.scenario, o.metric ?? null, o.tolerance]);
  const state = loadState(o.stateFile, key);
  const runsOf = buildRuns(o, state);
  const baseline = o.metric ? (await runsOf(o.good, o.baseline)).map((r) => r.metrics[o.metric!]).filter((x) => x !== undefined) : [];
  if (o.metric && baseline.length < o.baseline) throw inputError('BISECT_NO_METRIC', `the good build ${o.good} reports no ${o.metric} (runs of ${o.scenario} record ${Object.keys(state.runs[o.good]?.[0]?.metrics ?? {}).join(', ') || 'no metric'})`);
  const judge = (build: string) => judgeBuild(o, runsOf, baseline, build);

  const confirm = await judge(o.bad);
  if (!confirm.bad) throw inputError('BISECT_BAD_IS_GOOD', `the bad build ${o.bad} did not fail ${o.scenario} (${confirm.runs} run(s)): nothing to bisect`);
  o.log?.(`confirmed: ${o.bad} is bad (${confirm.why[0]})`);
  let lo = gi;
  let hi = bi;
  const steps: BuildVerdict[] = [];
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const v = await judge(o.builds[mid]);
    steps.push(v);
    o.log?.(`step ${steps.length}: ${v.build} is ${v.bad ? 'bad' : 'good'} (${v.runs} runs, ${v.badRuns} failing a check)${v.why.length ? `: ${v.why[0]}` : ''}`);
    if (v.bad) hi = mid;
    else lo = mid;
  }
  return { firstBad: o.builds[hi], lastGood: o.builds[lo], steps, confirm, baseline, complete: true };
}

/** The positions of --good and --bad in the list of builds, good first. */
function rangeOf(o: BisectOptions): [number, number] {
  const gi = o.builds.indexOf(o.good);
  const bi = o.builds.indexOf(o.bad);
  if (gi < 0) throw usageError(`--good ${o.good} is not in the list of builds`);
  if (bi < 0) throw usageError(`--bad ${o.bad} is not in the list of builds`);
  if (gi >= bi) throw usageError(`--good ${o.good} must come before --bad ${o.bad} in the list of builds`);
  return [gi, bi];
}

type RunsOf = (build: string, n: number) => Promise<BuildRun[]>;

/** The first n runs of a build: those in the state file, then new ones, each saved as it ends (so a
 *  bisection resumes where it was interrupted, with the same seeds). */
function buildRuns(o: BisectOptions, state: State): RunsOf {
  const save = () => writeFileAtomic(o.stateFile, JSON.stringify(state, null, 2) + '\n');
  return async (build, n) => {
    const have = (state.runs[build] ??= []);
    while (have.length < n) {
      if (o.signal?.aborted) throw new Interrupted(`interrupted; the state is in ${o.stateFile}: run the same command again to resume`);
      const seed = 1 + have.length + 1000 * o.builds.indexOf(build); // the same runs on resume
      have.push(await o.run(build, seed));
      save();
    }
    return have.slice(0, n);
  };
}

/** One step: a build's runs judged by their checks (the majority; a flaky step gets more runs, up to
 *  maxRepeats) and, with a metric, against the good build's runs. */
async function judgeBuild(o: BisectOptions, runsOf: RunsOf, baseline: number[], build: string): Promise<BuildVerdict> {
  let n = o.repeats;
  for (;;) {
    const runs = await runsOf(build, n);
    const failing = runs.filter((r) => r.failed.length);
    // a step whose runs disagree on the checks (flaky) gets more runs, up to maxRepeats; then the majority decides
    if (failing.length > 0 && failing.length < runs.length && n < o.maxRepeats) {
      n = Math.min(o.maxRepeats, n + 2);
      o.log?.(`${build}: ${failing.length} of ${runs.length} runs failed a check, running it ${n} times`);
      continue;
    }
    const why = [...new Set(failing.flatMap((r) => r.failed.map((c) => `check ${c} failed`)))];
    let metricBad = false;
    if (o.metric) {
      // the step's runs together against the good build's (Mann-Whitney U from 3 runs, else bootstrap)
      const values = runs.map((r) => r.metrics[o.metric!]).filter((x) => x !== undefined);
      const j = judgeRegression(o.metric, baseline, values, { tolerance: o.tolerance, better: o.better ?? 'higher', minHistory: Math.min(o.baseline, 3), seed: runs[0].seed });
      metricBad = j.verdict === 'fail';
      why.push(j.message);
    }
    const bad = failing.length * 2 > runs.length || metricBad;
    return { build, bad, runs: runs.length, badRuns: failing.length, why };
  }
}

function loadState(file: string, key: string): State {
  if (!existsSync(file)) return { schema: 'winpv-bisect/1', key, runs: {} };
  let s: State;
  try {
    s = JSON.parse(readFileSync(file, 'utf8')) as State;
  } catch (e) {
    throw inputError('BISECT_STATE_INVALID', `the bisect state file is not valid JSON (${(e as Error).message}): remove it to start again`, [], { file });
  }
  if (s.schema !== 'winpv-bisect/1' || typeof s.runs !== 'object') throw inputError('BISECT_STATE_INVALID', 'not a winpv-bisect/1 state file: remove it to start again', [], { file });
  if (s.key !== key) throw usageError(`${file} belongs to another bisection (other builds, scenario or metric): remove it, or pass --state with another file`);
  return s;
}
