// The one way a test runs a plan: a host, the plan (or scenarios planned for that host), a trace
// (in memory, or also written to a file) and reporters, then runPlan, as `winpv run` wires them.
// A test says only what differs: the host, the scenarios, a TAP stream, the runner's options.
import { PassThrough, type Writable } from 'node:stream';
import type { HostBackend } from '../../src/model/host';
import type { RunPlan } from '../../src/model/plan';
import type { Reporter } from '../../src/model/reporter';
import type { Scenario } from '../../src/model/scenario';
import type { SpecSet } from '../../src/model/spec';
import { plan as planScenarios } from '../../src/plan/planner';
import { ReporterMultiplexer } from '../../src/report/multiplexer';
import { TapStreamReporter } from '../../src/report/tap';
import { runPlan, type RunOptions, type RunOutcome } from '../../src/runner/run';
import { loadSpecs } from '../../src/spec/load';
import { TraceWriter } from '../../src/trace/writer';

export interface PlanRun extends Partial<Omit<RunOptions, 'host' | 'plan' | 'reporter'>> {
  host: HostBackend;
  /** A plan as it is, or scenarios planned here with `seed` and the host's capabilities and kind. */
  plan: RunPlan | Scenario | readonly Scenario[];
  /** The seed scenarios are planned with (default 7). */
  seed?: number;
  /** Write the trace to this file too (JSONL, as `winpv run` does). A test that watches the trace
   *  while the run goes passes its own `trace` instead. */
  traceFile?: string;
  /** Reporters, or a function making them from the run's trace (a FileReporter reads its events). */
  reporters?: Reporter[] | ((trace: TraceWriter) => Reporter[]);
  /** The run's TAP 14, as `winpv run` prints it: collected into the result's `tap` (true), or
   *  written to this stream. */
  tap?: boolean | Writable;
}

export interface PlanRunResult {
  outcome: RunOutcome;
  trace: TraceWriter;
  /** The TAP written so far (with `tap: true`; else ''). */
  tap: string;
}

const isPlan = (p: PlanRun['plan']): p is RunPlan => !Array.isArray(p) && 'instances' in p;

/** Runs the plan on the host; `specs` default to the shipped driver specs, `specHashes` to none. */
export async function runPlanned(o: PlanRun): Promise<PlanRunResult> {
  const { host, plan, seed, traceFile, reporters, tap, ...runner } = o;
  const scenarios = isPlan(plan) ? undefined : Array.isArray(plan) ? plan : [plan as Scenario];
  const planned = scenarios ? planScenarios(scenarios, { seed: seed ?? 7, capabilities: host.capabilities, hostKind: host.kind, ...(host.builtinArtefacts ? { builtinArtefacts: host.builtinArtefacts } : {}) }) : (plan as RunPlan);
  const trace = runner.trace ?? new TraceWriter(traceFile !== undefined ? { file: traceFile } : {});
  const given = typeof reporters === 'function' ? reporters(trace) : (reporters ?? []);
  let text = '';
  const stream = tap === true ? new PassThrough().on('data', (b: Buffer) => void (text += b)) : tap || undefined;
  const reporter = new ReporterMultiplexer([...given, ...(stream ? [new TapStreamReporter(stream)] : [])]);
  const specs: SpecSet = runner.specs ?? loadSpecs();
  const outcome = await runPlan({ ...runner, host, plan: planned, specs, specHashes: runner.specHashes ?? {}, trace, reporter });
  return {
    outcome,
    trace,
    get tap() {
      return text;
    },
  };
}
