// The one evaluation of a trace: events + driver specs in, one InstanceResult per scenario instance
// out. The live run (per instance, as each ends), `winpv check` (a stored trace) and `winpv report
// merge` (several shard traces) all call this, so their verdicts cannot differ. An instance's
// result depends only on run.start and its own events.
import { applyKnownIssues, foldRetries, passRates, recount, repeatedInstance } from '../model/outcomes';
import { CHECKS, type CheckName } from '../model/catalog';
import type { CheckResult, InstanceResult, RunSummary } from '../model/result';
import type { SpecSet } from '../model/spec';
import type { RunEndEvent, RunStartEvent, TraceEvent } from '../model/trace';
import { skip } from './findings';
import { buildView, type InstanceView } from './view';
import { xenbusTransitions } from './xenbus-transitions';
import { xenstoreKeys } from './xenstore-keys';
import { devicesConnected } from './devices-connected';
import { ringInvariants } from './ring-invariants';
import { ringProgress } from './ring-progress';
import { ringResponses } from './ring-responses';
import { grants } from './grants';
import { workload } from './workload';
import { guestAlive } from './guest-alive';
import { driversBound } from './drivers-bound';
import { guestKeys } from './guest-keys';
import { regression } from './regression';
import { balloon } from './balloon';
import { crashDumpCheck } from './crash-dump';
import { guestMetrics } from './guest-metrics';
import { nicSettings } from './nic-settings';

/** The checks every scenario gets unless it selects (all but the opt-in ones). */
export const DEFAULT_CHECKS = (Object.keys(CHECKS) as CheckName[]).filter((name) => !('optIn' in CHECKS[name]));

export type CheckFn = (v: InstanceView, params: Record<string, string>, specs: SpecSet) => CheckResult;

/** Exactly the checks of CHECKS, one function each. */
export const CHECK_FUNCTIONS: Record<CheckName, CheckFn> = {
  'xenbus-transitions': xenbusTransitions,
  'xenstore-keys': xenstoreKeys,
  'devices-connected': devicesConnected,
  'ring-invariants': ringInvariants,
  'ring-progress': ringProgress,
  'ring-responses': ringResponses,
  grants,
  workload,
  'guest-alive': guestAlive,
  'drivers-bound': driversBound,
  'guest-keys': guestKeys,
  regression,
  balloon,
  'crash-dump': crashDumpCheck,
  'guest-metrics': guestMetrics,
  'nic-settings': nicSettings,
};

/** Evaluates one instance from run.start and the instance's own events. */
export function evaluateInstance(inst: string, events: TraceEvent[], specs: SpecSet, runStart?: RunStartEvent): InstanceResult {
  const v = buildView(inst, events, runStart);
  const skipEv = events.find((e) => e.ev === 'scenario.skip');
  const start = v.start;
  const base = {
    inst,
    scenario: start?.scenario ?? inst.replace(/\[.*$/, ''),
    file: start?.file ?? '',
    params: start?.params ?? {},
    tags: start?.tags ?? [],
  };
  if (skipEv && skipEv.ev === 'scenario.skip') {
    return { ...base, verdict: 'skip', skipReason: skipEv.reason, checks: [], durationMs: 0 };
  }
  const end = events.find((e) => e.ev === 'scenario.end');
  // one point per check of CHECKS, in that order; a scenario that selected some reports the rest as skipped
  const selected = new Map((start?.checks?.length ? start.checks : DEFAULT_CHECKS.map((name) => ({ name, params: {} }))).map((c) => [c.name, c]));
  // an opt-in check (regression) has a point only where the scenario named it
  const checks: CheckResult[] = (Object.keys(CHECKS) as CheckName[]).filter((name) => !('optIn' in CHECKS[name]) || selected.has(name)).map((name) => {
    const c = selected.get(name);
    if (!c) return skip(name, 'not selected by this scenario (<checks only="true">)');
    const needs = (CHECKS[c.name] as { needs?: string }).needs;
    if (needs && !v.capabilities.has(needs as never)) {
      return skip(c.name, `host ${runStart?.host.kind ?? '?'} cannot observe this (no '${needs}' capability)`);
    }
    try {
      return CHECK_FUNCTIONS[c.name](v, c.params, specs);
    } catch (e) {
      // a check that throws is a bug in winpv; it must not pass anything silently
      return { check: c.name, verdict: 'fail', message: `the check itself failed: ${(e as Error).message}`, diagnostics: { internal: true } };
    }
  });
  let aborted: InstanceResult['aborted'];
  if (!end) aborted = { code: 'TRUNCATED', message: 'the run stopped before this scenario ended' };
  else if (end.ev === 'scenario.end' && end.status === 'aborted') aborted = end.error ?? { code: 'ABORTED', message: 'the scenario was aborted' };
  // a teardown that failed or hung (a guest left running, a fault left on) fails an otherwise clean instance
  const undone = events.flatMap((e) => (e.ev === 'teardown.fail' ? [`${e.label}: ${e.error.message}`] : []));
  if (!aborted && undone.length) aborted = { code: 'TEARDOWN_FAILED', message: `teardown failed: ${undone.join('; ')}` };
  const verdict = aborted || checks.some((c) => c.verdict === 'fail') ? 'fail' : 'pass';
  const durationMs = start && end ? Math.round(end.t - start.t) : 0;
  return { ...base, verdict, ...(aborted ? { aborted } : {}), checks, durationMs };
}

/** Splits a trace by instance, in the order run.start lists them (then first appearance). */
export function groupByInstance(events: TraceEvent[]): { runStart?: RunStartEvent; runEnd?: RunEndEvent; order: string[]; byInst: Map<string, TraceEvent[]> } {
  const byInst = new Map<string, TraceEvent[]>();
  let runStart: RunStartEvent | undefined;
  let runEnd: RunEndEvent | undefined;
  for (const e of events) {
    if (e.ev === 'run.start') runStart ??= e;
    else if (e.ev === 'run.end') runEnd = e;
    const inst = (e as { inst?: string }).inst;
    if (inst === undefined) continue;
    let list = byInst.get(inst);
    if (!list) byInst.set(inst, (list = []));
    list.push(e);
  }
  const order = [...byInst.keys()];
  return { runStart, runEnd, order, byInst };
}

/** Every instance of a trace that started or was skipped. Instances listed in run.start that never started are not results. */
export function evaluate(events: TraceEvent[], specs: SpecSet): InstanceResult[] {
  const g = groupByInstance(events);
  // attempts of a retried instance (`<inst>~retry<k>`, runner --retries) fold into one result
  return foldRetries(g.order
    .filter((inst) => g.byInst.get(inst)!.some((e) => e.ev === 'scenario.start' || e.ev === 'scenario.skip'))
    .map((inst) => evaluateInstance(inst, g.byInst.get(inst)!, specs, g.runStart)));
}

/** The run summary from results and the trace's run.start/run.end. */
export function summarize(results: InstanceResult[], runStart: RunStartEvent | undefined, runEnd: RunEndEvent | undefined): RunSummary {
  const complete = runEnd?.complete === true;
  let bailOut: string | undefined;
  if (!complete) {
    bailOut = runEnd?.reason === 'interrupted' ? 'interrupted' : runEnd?.reason === 'host-failure' ? `host failure${runEnd.error ? `: ${runEnd.error.message}` : ''}` : runEnd ? `run stopped: ${runEnd.error?.message ?? runEnd.reason ?? 'incomplete'}` : 'trace truncated (no run.end)';
  }
  const checks = results.flatMap((r) => r.checks);
  return {
    seed: runStart?.seed ?? 0,
    host: { kind: runStart?.host.kind ?? 'unknown', label: runStart?.host.label ?? 'unknown' },
    complete,
    ...(bailOut ? { bailOut } : {}),
    counts: {
      instances: results.length,
      passed: results.filter((r) => r.verdict === 'pass').length,
      failed: results.filter((r) => r.verdict === 'fail').length,
      skipped: results.filter((r) => r.verdict === 'skip').length,
      checks: checks.length,
      checksFailed: checks.filter((c) => c.verdict === 'fail').length,
    },
    instances: results,
  };
}

/** The run's verdict from its trace alone: every instance evaluated, failures matching the known
 *  issues the run recorded in run.start marked known, flaky and known counted apart, and pass rates
 *  when instances were repeated (`--repeat-each`). The live run's summary, `winpv check` and
 *  `winpv report merge` all come from here. */
export function judgeTrace(events: TraceEvent[], specs: SpecSet): RunSummary {
  const g = groupByInstance(events);
  return judgeResults(evaluate(events, specs), g.runStart, g.runEnd);
}

/** judgeTrace for instance results already evaluated (a run on workers judges each section as it is
 *  written): the same folds over the same run.start. */
export function judgeResults(results: InstanceResult[], runStart: RunStartEvent | undefined, runEnd: RunEndEvent | undefined): RunSummary {
  const known = applyKnownIssues(results, runStart?.knownIssues ?? []);
  const summary = recount({ ...summarize(known.results, runStart, runEnd), ...(known.notFailing.length ? { knownNotFailing: known.notFailing } : {}) });
  if (summary.instances.some((r) => repeatedInstance(r.inst) !== r.inst)) summary.passRates = passRates(summary.instances);
  return summary;
}
