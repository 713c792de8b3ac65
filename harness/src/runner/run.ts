// The runner: drives a host through the plan, one instance after another. Per instance a task list
// (create guests, attach probes, switch on the scenario's faults, start guests, steps) whose
// teardowns run in reverse order even when a setup failed, on SIGINT (ctx.signal) and when the host
// drops. Every wait is on the host clock. Each instance is judged by the checks as soon as it ends;
// a host failure stops the run with the trace closed as incomplete (reports still valid, Bail out!).
import { applyKnownIssues, foldRetries, retryId, type KnownIssue } from '../model/outcomes';
import type { GuestRef, HostBackend } from '../model/host';
import type { PlanInstance, RunPlan } from '../model/plan';
import type { InstanceResult, RunSummary } from '../model/result';
import type { BaselineSource } from '../model/results';
import type { Reporter } from '../model/reporter';
import type { SpecSet } from '../model/spec';
import type { RunStartEvent, TraceEvent, TraceSink } from '../model/trace';
import type { GuestShape } from '../model/scenario';
import { vdevToDevid } from '../model/vdev';
import { TRACE_SCHEMA } from '../model/trace';
import { evaluateInstance, judgeTrace } from '../checks/evaluate';
import { RingProbe } from '../probes/ring-probe';
import { XenstoreProbe } from '../probes/xenstore-probe';
import type { TraceWriter } from '../trace/writer';
import type { BundleOpener } from './bundle';
import { errorInfo, Interrupted, isHostFailure, StepFailure } from './errors';
import { isUnsupported, type ErrorInfo } from '../model/errors';
import { hostDevice, hostFault, runSteps, type StepContext } from './steps';
import { once, TEARDOWN_DEADLINE_MS, TeardownStack } from './teardown';
import { withDeadline } from './deadline';
import { repeatPlan } from './repeat';
import { baselineEvents } from './baselines';

/** What running one instance needs (runPlan's options, and each worker's in runner/pool.ts). */
export type InstanceRunOptions = Pick<RunOptions, 'host' | 'signal' | 'openBundle' | 'ringPeriodMs' | 'teardownMs'> & { trace: TraceSink };

export interface RunOptions {
  host: HostBackend;
  plan: RunPlan;
  specs: SpecSet;
  /** sha256 of each spec file, recorded in run.start. */
  specHashes: Record<string, string>;
  trace: TraceWriter;
  reporter: Reporter;
  signal?: AbortSignal;
  openBundle?: BundleOpener;
  /** Ring probe period in host ms. */
  ringPeriodMs?: number;
  /** The run's `<report dir>/artifacts`, where hosts store what they collect (crash dumps). */
  artifactsDir?: string;
  /** Host time each teardown task (and closing the host) may take; TEARDOWN_DEADLINE_MS by default. */
  teardownMs?: number;
  /** Reruns of a failed instance (`--retries N`); each attempt runs as `<inst>~retry<k>`. */
  retries?: number;
  /** Runs of each instance (`--repeat-each N`, soak); each runs as `<inst>~rep<k>` and the summary gets passRates. */
  repeatEach?: number;
  /** Known issues (the repository's known-issues file) that turn a matching failure into a TODO. */
  knownIssues?: readonly KnownIssue[];
  /** `--keep-on-failure`: the guests of the first failing instance are not destroyed and the host is left
   *  open (RunOutcome.kept); the caller shows how to reach them and ends them with kept.release(). */
  keepOnFailure?: boolean;
  /** The results history, for instances whose scenario names the regression check. */
  baselines?: BaselineSource;
}

/** The guests of the first failing instance, kept running for a person to look at (--keep-on-failure). */
export interface KeptGuests {
  inst: string;
  /** Why the instance failed: its failed checks or the abort, one line each. */
  why: string[];
  guests: { name: string; domid: number; home: string }[];
  /** Destroys the kept guests and closes the host (bounded, errors logged to the trace, never thrown). */
  release: () => Promise<void>;
}

export interface RunOutcome {
  summary: RunSummary;
  /** Set when the run stopped because the host failed (exit 3). */
  hostError?: { code: string; message: string };
  interrupted: boolean;
  /** --keep-on-failure kept a failing instance's guests: the host is still open until kept.release(). */
  kept?: KeptGuests;
}

/** The run.start event of a plan (already repeated), as both run loops (this one and runner/pool.ts) write it. */
export function runStartEvent(plan: RunPlan, host: RunStartEvent['host'], specHashes: Record<string, string>, knownIssues?: readonly KnownIssue[]): Omit<RunStartEvent, 'seq' | 't'> {
  return {
    ev: 'run.start', schema: TRACE_SCHEMA, seed: plan.seed, host, specs: specHashes,
    instances: plan.instances.map((i) => i.id),
    ...(plan.shard ? { shard: plan.shard } : {}),
    ...(knownIssues?.length ? { knownIssues: [...knownIssues] } : {}),
  };
}

export async function runPlan(o: RunOptions): Promise<RunOutcome> {
  const { host, trace, reporter } = o;
  const plan = repeatPlan(o.plan, o.repeatEach ?? 1);
  const runStart = runStartEvent(plan, { kind: host.kind, label: host.label, capabilities: [...host.capabilities].sort() }, o.specHashes, o.knownIssues);
  trace.emit(runStart);
  await reporter.onRunStart?.({ seed: plan.seed, host: { kind: host.kind, label: host.label }, instances: runStart.instances });

  let hostError: RunOutcome['hostError'];
  let interrupted = false;
  let kept: KeptGuests | undefined;
  try {
    await host.open(trace, { seed: plan.seed, ...(o.artifactsDir !== undefined ? { artifactsDir: o.artifactsDir } : {}) });
    trace.setClock(() => host.clock.now());
  } catch (e) {
    hostError = errorInfo(e);
  }

  if (!hostError) {
    for (const inst of plan.instances) {
      if (o.signal?.aborted) {
        interrupted = true;
        break;
      }
      await reporter.onInstanceStart?.(inst.id);
      let outcome: InstanceOutcome;
      let lastId = inst.id;
      const attempts: InstanceResult[] = [];
      for (let attempt = 0; ; attempt++) {
        const run = attempt === 0 ? inst : { ...inst, id: retryId(inst.id, attempt) };
        const from = trace.events.length;
        lastId = run.id;
        const judge = () => evaluateInstance(run.id, trace.events.slice(from).filter((e) => (e as { inst?: string }).inst === run.id), o.specs, trace.events[0] as RunStartEvent);
        const ran = await runInstance(run, o, o.keepOnFailure === true && !kept);
        outcome = ran.outcome;
        if (o.baselines) for (const e of await baselineEvents(run, run.id, trace.events.slice(from), o.baselines)) trace.emit(e);
        // --keep-on-failure: judged before its guests go; a failing instance keeps them (the checks then
        // lack what destroying them would have recorded, e.g. the grants audit at domain destruction)
        if (ran.guests.length) {
          const first = judge();
          if (first.verdict === 'fail' && outcome !== 'host-failure' && outcome !== 'interrupted') {
            kept = keepGuests(first, ran.guests, o);
            for (const g of ran.guests) await o.host.keepGuest?.(g.ref).catch((e: Error) => trace.emit({ ev: 'log', inst: run.id, level: 'warn', msg: `keeping ${g.name}: ${e.message}` }));
            trace.emit({ ev: 'log', inst: run.id, level: 'warn', msg: `--keep-on-failure: keeping ${ran.guests.map((g) => `${g.name} (domid ${g.ref.domid})`).join(', ')} of ${run.id}` });
          } else await destroyGuests(ran.guests, run.id, o);
        }
        attempts.push(judge());
        if (attempts[attempt].verdict !== 'fail' || outcome === 'host-failure' || outcome === 'interrupted' || attempt >= (o.retries ?? 0) || o.signal?.aborted) break;
        trace.emit({ ev: 'log', inst: inst.id, level: 'info', msg: `${inst.id} failed; retry ${attempt + 1} of ${o.retries}` });
      }
      const result = applyKnownIssues(foldRetries(attempts), o.knownIssues ?? []).results[0];
      await reporter.onInstanceEnd?.(result);
      if (outcome === 'host-failure') {
        const error = lastAbort(trace.events, lastId);
        if (await stillAnswers(host, o.signal)) {
          trace.emit({ ev: 'log', inst: inst.id, level: 'warn', msg: `${inst.id} ended on a host error (${error.code}) but the host still answers: the run goes on` });
          continue;
        }
        hostError = error;
        break;
      }
      if (outcome === 'interrupted') {
        interrupted = true;
        break;
      }
    }
    if (!kept) await closeHost(o);
  }

  trace.close(
    hostError
      ? { complete: false, reason: 'host-failure', error: hostError }
      : interrupted
        ? { complete: false, reason: 'interrupted' }
        : { complete: true },
  );
  // The final verdicts come from the whole trace through the same judgement `winpv check` uses.
  const summary = judgeTrace(trace.events, o.specs);
  await reporter.onRunEnd?.(summary);
  return { summary, ...(hostError ? { hostError } : {}), interrupted, ...(kept ? { kept } : {}) };
}

async function closeHost(o: RunOptions): Promise<void> {
  try {
    await withDeadline(o.host.clock, o.teardownMs ?? TEARDOWN_DEADLINE_MS, undefined, 'closing the host', () => o.host.close());
  } catch (e) {
    o.trace.emit({ ev: 'log', level: 'error', msg: `closing the host failed: ${errorInfo(e).message}` });
  }
}

interface HeldGuest {
  name: string;
  ref: GuestRef;
}

/** Destroys guests whose destruction runInstance left to the caller, as its teardown would have. */
async function destroyGuests(guests: readonly HeldGuest[], inst: string, o: RunOptions): Promise<void> {
  const teardown = new TeardownStack({ clock: o.host.clock, ms: o.teardownMs ?? TEARDOWN_DEADLINE_MS });
  for (const g of guests) teardown.defer(`destroy guest ${g.name}`, () => o.host.destroyGuest(g.ref));
  for (const f of await teardown.unwind()) {
    o.trace.emit({ ev: 'teardown.fail', inst, label: f.label, error: { code: f.error.code ?? 'TEARDOWN', message: f.error.message } });
  }
}

function keepGuests(r: InstanceResult, guests: readonly HeldGuest[], o: RunOptions): KeptGuests {
  const why = [...r.checks.filter((c) => c.verdict === 'fail').map((c) => `${c.check}: ${c.message}`), ...(r.aborted ? [`aborted: ${r.aborted.code}: ${r.aborted.message}`] : [])];
  let released = false;
  return {
    inst: r.inst,
    why,
    guests: guests.map((g) => ({ name: g.name, domid: g.ref.domid, home: o.host.homePath(g.ref) })),
    release: async () => {
      if (released) return;
      released = true;
      await destroyGuests(guests, r.inst, o);
      await closeHost(o);
    },
  };
}

/** The host's own health check, bounded; a host without one counts as lost after a host error. */
export async function stillAnswers(host: HostBackend, signal?: AbortSignal): Promise<boolean> {
  if (!host.healthy) return false;
  return withDeadline(host.clock, 30_000, signal, 'the host health check', () => host.healthy!()).catch(() => false);
}

export function lastAbort(events: readonly TraceEvent[], inst: string): { code: string; message: string } {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.ev === 'scenario.end' && e.inst === inst && e.error) return e.error;
  }
  return { code: 'HOST_FAILURE', message: 'the host failed' };
}

export type InstanceOutcome = 'completed' | 'aborted' | 'host-failure' | 'interrupted';

/** Runs one instance. With holdGuests its guests outlive the teardown (returned for the caller to
 *  destroy or keep); otherwise the teardown destroys them. */
export async function runInstance(inst: PlanInstance, o: InstanceRunOptions, holdGuests = false): Promise<{ outcome: InstanceOutcome; guests: HeldGuest[] }> {
  const { host, trace } = o;
  const s = inst.scenario;
  if (inst.skip) {
    trace.emit({ ev: 'scenario.skip', inst: inst.id, reason: inst.skip });
    return { outcome: 'completed', guests: [] };
  }
  trace.emit({
    ev: 'scenario.start', inst: inst.id, scenario: s.name, file: s.source.file, params: inst.params, tags: s.tags,
    drivers: s.drivers, guests: s.guests, checks: s.checks, faults: s.faults,
  });
  const teardown = new TeardownStack({ clock: host.clock, ms: o.teardownMs ?? TEARDOWN_DEADLINE_MS });
  const guests = new Map<string, GuestRef>();
  let cancelled = false;
  const ctx: StepContext = {
    host, sink: trace, inst: inst.id, scenario: s, guests,
    xsProbe: new XenstoreProbe(host.xenstore, trace, inst.id),
    ringProbe: new RingProbe(host, trace, inst.id, { periodMs: o.ringPeriodMs ?? 200 }),
    faultsOn: new Map(), cancelled: () => cancelled, signal: o.signal, openBundle: o.openBundle,
  };
  let outcome: InstanceOutcome = 'completed';
  let error: ErrorInfo | undefined;
  try {
    await withDeadline(host.clock, s.timeoutMs, o.signal, `scenario ${inst.id}`, async () => {
      for (const shape of s.guests) {
        const ref = await host.createGuest(shape, inst.id);
        guests.set(shape.name, ref);
        logPlacedDisks(host, trace, inst.id, shape, ref);
        // destroy whatever domid the guest has by then (migrate and restore replace the ref)
        if (!holdGuests) teardown.defer(`destroy guest ${shape.name}`, () => host.destroyGuest(guests.get(shape.name) ?? ref));
      }
      teardown.defer('stop probes', async () => {
        await ctx.ringProbe.stop();
        await ctx.xsProbe.detach();
      });
      for (const ref of guests.values()) {
        await ctx.xsProbe.attach(ref, host.homePath(ref));
        ctx.ringProbe.attach(ref);
      }
      ctx.ringProbe.start();
      // faults that steps left on (one with a duration whose step was cut short by the deadline or
      // an abort) go off before the guests are destroyed, so none leaks into the next scenario
      teardown.defer('faults left on by steps', async () => {
        const on = [...ctx.faultsOn.values()];
        ctx.faultsOn.clear();
        for (const off of on.reverse()) await off();
      });
      for (const f of s.faults) {
        if (!host.faults) throw new StepFailure('CAPABILITY_MISSING', `fault ${f.name} needs the host capability 'fault-injection'`);
        const g = f.guest ? guests.get(f.guest) : undefined;
        const off = once(await host.faults.inject(hostFault(host, f, g), g));
        teardown.defer(`fault ${f.name} off`, off);
        // a scenario-wide fault with a duration goes off by itself after it (host time)
        if (f.durationMs !== undefined) void host.clock.sleep(f.durationMs).then(off).catch(() => undefined);
      }
      for (const ref of guests.values()) await host.startGuest(ref);
      await runSteps(s.steps, '', ctx);
    }, () => {
      cancelled = true;
    });
  } catch (e) {
    cancelled = true;
    if (isUnsupported(e)) {
      // the host's backend cannot do a step of this scenario: skipped with the reason, not failed
      trace.emit({ ev: 'scenario.skip', inst: inst.id, reason: (e as Error).message });
    } else {
      error = errorInfo(e);
      outcome = e instanceof Interrupted ? 'interrupted' : isHostFailure(e) ? 'host-failure' : 'aborted';
    }
  }
  trace.emit({ ev: 'scenario.end', inst: inst.id, status: outcome === 'completed' ? 'completed' : 'aborted', ...(error ? { error } : {}) });
  for (const f of await teardown.unwind()) {
    trace.emit({ ev: 'teardown.fail', inst: inst.id, label: f.label, error: { code: f.error.code ?? 'TEARDOWN', message: f.error.message } });
  }
  return { outcome, guests: holdGuests ? [...guests].map(([name, ref]) => ({ name, ref })) : [] };
}

/** Says where the host put disks it numbers differently from the scenario, so a reader of the
 *  trace can match `wait device/vbd/51712` to the `vbd/768` the probes record. */
function logPlacedDisks(host: HostBackend, trace: TraceSink, inst: string, shape: GuestShape, ref: GuestRef): void {
  const moved: string[] = [];
  for (const v of shape.vbds) {
    const id = vdevToDevid(v.vdev);
    if (id === undefined) continue;
    const placed = hostDevice(host, ref, `vbd/${id}`);
    if (placed !== `vbd/${id}`) moved.push(`${v.vdev} (vbd/${id}) is ${placed}`);
  }
  if (moved.length) trace.emit({ ev: 'log', inst, level: 'info', msg: `${shape.name}: on this host ${moved.join(', ')}` });
}
