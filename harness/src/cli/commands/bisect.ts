// winpv bisect: which driver build first broke a scenario (a failed check) or made a metric regress.
// Builds come as an ordered list (a JSON file, a folder of bundles, or a comma list); every
// install-drivers step of the scenario installs the build under test. The search itself, its
// repeats and its state file are results/bisect.ts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseCommandArgs, type Command, type CommandContext } from '../command';
import { packageRoot, resolveConfig } from '../config';
import { ExitCode, inputError, usageError } from '../../model/errors';
import type { Scenario, Step } from '../../model/scenario';
import { loadScenarios } from '../../scenario';
import { plan } from '../../plan/planner';
import { createHost } from '../../hosts/factory';
import { TraceWriter } from '../../trace/writer';
import { runPlan } from '../../runner/run';
import { ReporterMultiplexer } from '../../report/multiplexer';
import { metricsOf } from '../../model/metrics';
import { bisect, Interrupted, type BuildRun } from '../../results/bisect';
import { driverSpecs } from '../run-support';

const help = `usage: winpv bisect --good BUILD --bad BUILD --scenario ID --builds LIST [options]

Finds the first bad driver build between a good and a bad one by binary search: the scenario runs
with each build installed (every install-drivers step gets the build). A build is bad when a check
fails, or with --metric when the metric regressed against the good build's runs (significant and
beyond --tolerance). Steps whose runs disagree are run again (up to --max-repeats); the majority
decides. Progress is saved to --state after every run: run the same command again to resume.

  --builds LIST      the ordered builds: a JSON file (["builtin:9.1.0", ...] or
                     [{"build": "...", "sim": {"ioSlowdown": 1.25}}, ...]), a folder of bundles
                     (ordered by name), or a comma-separated list
  --scenario ID      a scenario name in scenarios/, or a scenario file
  --metric M         also judge metric M (e.g. vbd/51712.mbps; winpv history lists them)
  --better higher|lower  which direction of M is better (default higher)
  --tolerance T      relative change that counts (default 0.05)
  --baseline N       runs of the good build for the metric's reference (default 8)
  --repeats N        runs per step (default 3), --max-repeats N when they disagree (default 5)
  --state FILE       state file (default .winpv-bisect-<scenario>.json in the report directory)
  --json             print the result as JSON
  --host H           where to run (default sim); sim properties of a build (ioSlowdown) plant a
                     regression in a simulated build

exit status: 0 found, 2 bad input, 3 host failure, 130 interrupted (resume with the same command)
`;

interface BuildEntry {
  build: string;
  sim?: { ioSlowdown?: number };
}

/** The ordered list of builds from a JSON file, a folder of bundles or a comma list. */
export function readBuildList(spec: string, cwd: string): BuildEntry[] {
  const path = resolve(cwd, spec);
  if (existsSync(path) && statSync(path).isDirectory()) {
    const names = readdirSync(path).filter((n) => !n.startsWith('.')).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    if (!names.length) throw inputError('BISECT_NO_BUILDS', `${path} holds no bundle`, [], { file: path });
    return names.map((n) => ({ build: join(path, n) }));
  }
  if (existsSync(path)) {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw inputError('BISECT_BUILDS_INVALID', `the build list is not valid JSON: ${(e as Error).message}`, [], { file: path });
    }
    if (!Array.isArray(data) || !data.length) throw inputError('BISECT_BUILDS_INVALID', 'the build list must be a non-empty JSON array', [], { file: path });
    return data.map((e, k) => {
      if (typeof e === 'string') return { build: e };
      if (e && typeof e === 'object' && typeof (e as BuildEntry).build === 'string') return e as BuildEntry;
      throw inputError('BISECT_BUILDS_INVALID', `entry ${k} must be a build name or { "build": ..., "sim": {...} }`, [], { file: path, path: `/${k}` });
    });
  }
  if (spec.includes(',')) return spec.split(',').map((b) => ({ build: b.trim() })).filter((b) => b.build);
  throw usageError(`--builds: ${spec} is neither a file, a folder nor a comma-separated list`);
}

function withBuild(steps: Step[], build: string): Step[] {
  return steps.map((s) => {
    const x = { ...s } as Step & { steps?: Step[]; branches?: Step[][]; bundle?: string };
    if (x.kind === 'install-drivers') x.bundle = build;
    if (x.steps) x.steps = withBuild(x.steps, build);
    if (x.branches) x.branches = x.branches.map((b) => withBuild(b, build));
    return x;
  });
}

const BISECT_OPTIONS = {
  good: { type: 'string' }, bad: { type: 'string' }, scenario: { type: 'string' }, builds: { type: 'string' }, metric: { type: 'string' },
  better: { type: 'string' }, tolerance: { type: 'string' }, baseline: { type: 'string' }, repeats: { type: 'string' }, 'max-repeats': { type: 'string' },
  state: { type: 'string' }, json: { type: 'boolean' }, host: { type: 'string' }, config: { type: 'string' }, 'report-dir': { type: 'string' },
} as const;

/** The command line's option values. */
type BisectValues = { [K in keyof typeof BISECT_OPTIONS]?: (typeof BISECT_OPTIONS)[K] extends { type: 'boolean' } ? boolean : string };

/** The numeric options checked (usage errors name the option and the value). */
function checkedNumbers(v: BisectValues): { tolerance: number; baseline: number; repeats: number; maxRepeats: number } {
  const int = (name: string, s: string | undefined, dflt: number, min: number) => {
    const n = s === undefined ? dflt : Number(s);
    if (!Number.isInteger(n) || n < min) throw usageError(`--${name} takes an integer >= ${min}, not '${s}'`);
    return n;
  };
  const tolerance = v.tolerance === undefined ? 0.05 : Number(v.tolerance);
  if (!Number.isFinite(tolerance) || tolerance < 0) throw usageError(`--tolerance takes a non-negative number, not '${v.tolerance}'`);
  if (v.better !== undefined && v.better !== 'higher' && v.better !== 'lower') throw usageError(`--better takes higher or lower, not '${v.better}'`);
  return { tolerance, baseline: int('baseline', v.baseline, 8, 2), repeats: int('repeats', v.repeats, 3, 1), maxRepeats: int('max-repeats', v['max-repeats'], 5, 1) };
}

/** The scenario named by --scenario: a file, or the name of one in scenarios/. */
function bisectScenario(ctx: CommandContext, name: string): Scenario {
  const file = existsSync(resolve(ctx.cwd, name)) ? resolve(ctx.cwd, name) : join(packageRoot(), 'scenarios', `${name}.xml`);
  if (!existsSync(file)) throw usageError(`--scenario ${name}: no such scenario file or scenario in scenarios/`);
  return (loadScenarios([file], ctx.cwd) as Scenario[])[0];
}

/** One run of the scenario with a build installed: its failed checks and its metrics. */
function buildRunner(ctx: CommandContext, cfg: ReturnType<typeof resolveConfig>, scenario: Scenario, simBuilds: Record<string, { ioSlowdown?: number }>): (build: string, seed: number) => Promise<BuildRun> {
  const { specs, hashes } = driverSpecs(ctx.cwd);
  return async (build, seed) => {
    const host = createHost(cfg.host, { specs, simBuilds });
    const s: Scenario = { ...scenario, steps: withBuild(scenario.steps, build) };
    const p = plan([s], { seed, capabilities: host.capabilities, faults: host.faults?.supported, hostKind: host.kind });
    const trace = new TraceWriter();
    const out = await runPlan({ host, plan: p, specs, specHashes: hashes, trace, reporter: new ReporterMultiplexer([]), signal: ctx.signal });
    if (out.interrupted) throw new Interrupted(`interrupted while running ${build}; run the same command again to resume`);
    if (out.hostError) throw inputError('BISECT_HOST', `${build}: host failure ${out.hostError.code}: ${out.hostError.message}`);
    const inst = out.summary.instances[0];
    if (!inst || inst.verdict === 'skip') throw usageError(`${scenario.name} cannot run on ${host.label}: ${inst?.skipReason ?? 'no instance'}`);
    const metrics: Record<string, number> = {};
    for (const m of metricsOf(trace.events.filter((e) => (e as { inst?: string }).inst === inst.inst))) metrics[m.name] = m.value;
    return { seed, failed: [...inst.checks.filter((c) => c.verdict === 'fail').map((c) => c.check as string), ...(inst.aborted ? ['steps'] : [])], metrics };
  };
}

const command: Command = {
  name: 'bisect',
  summary: 'find the first bad driver build by binary search',
  help,
  async run(ctx: CommandContext) {
    const parsed = parseCommandArgs(ctx, this, BISECT_OPTIONS);
    if (!parsed) return ExitCode.ok;
    const v = parsed.values as BisectValues;
    for (const k of ['good', 'bad', 'scenario', 'builds'] as const) if (!v[k]) throw usageError(`winpv bisect needs --${k}\n\n${help}`);
    const numbers = checkedNumbers(v);
    const cfg = resolveConfig({ host: v.host, config: v.config, reportDir: v['report-dir'] }, ctx.env);
    const entries = readBuildList(v.builds!, ctx.cwd);
    const simBuilds: Record<string, { ioSlowdown?: number }> = {};
    for (const e of entries) if (e.sim) simBuilds[/^builtin:(.*)$/.exec(e.build)?.[1] ?? e.build] = e.sim;
    const scenario = bisectScenario(ctx, v.scenario!);
    const stateFile = resolve(ctx.cwd, v.state ?? join(cfg.reportDir, `.winpv-bisect-${scenario.name}.json`));
    const log = (line: string) => (v.json ? ctx.err : ctx.out).write(`${line}\n`);
    try {
      const r = await bisect({
        builds: entries.map((e) => e.build), good: v.good!, bad: v.bad!, scenario: scenario.name, metric: v.metric, better: v.better as 'higher' | 'lower' | undefined,
        ...numbers, stateFile, signal: ctx.signal, run: buildRunner(ctx, cfg, scenario, simBuilds), log,
      });
      if (v.json) ctx.out.write(JSON.stringify(r, null, 2) + '\n');
      else {
        ctx.out.write(`first bad build: ${r.firstBad} (last good: ${r.lastGood}) after ${r.steps.length} step(s)\n`);
        const ev = r.steps.find((s) => s.build === r.firstBad) ?? r.confirm;
        ctx.out.write(`evidence: ${ev.runs} run(s), ${ev.badRuns} failing a check: ${ev.why.join('; ')}\n`);
      }
      return ExitCode.ok;
    } catch (e) {
      if (e instanceof Interrupted) {
        ctx.err.write(`winpv bisect: ${e.message}\n`);
        return 130;
      }
      throw e;
    }
  },
};
export default command;
