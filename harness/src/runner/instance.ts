// One instance on a host: a task list (create guests, attach probes, switch on the scenario's
// faults, start guests, steps) whose teardowns run in reverse order, each with its own deadline in
// host time, even when a setup failed, on SIGINT (ctx.signal) and when the host drops. Every wait is
// on the host clock. How the instance ended, and the error that aborted it, are returned (the loop
// in runner/pool.ts never reads the trace back to learn them).
import type { GuestRef, HostBackend } from '../model/host';
import type { PlanInstance } from '../model/plan';
import type { InstanceResult } from '../model/result';
import type { SpecSet } from '../model/spec';
import type { RunStartEvent, TraceEvent, TraceSink } from '../model/trace';
import { evaluateInstance } from '../checks/evaluate';
import type { GuestShape } from '../model/scenario';
import { vdevToDevid } from '../model/vdev';
import { RingProbe } from '../probes/ring-probe';
import { XenstoreProbe } from '../probes/xenstore-probe';
import type { BundleOpener } from './bundle';
import { errorInfo, Interrupted, isHostFailure, StepFailure } from './errors';
import { isUnsupported, type ErrorInfo } from '../model/errors';
import { hostDevice, hostFault, runSteps, type StepContext } from './steps';
import { once, TEARDOWN_DEADLINE_MS, TeardownStack } from './teardown';
import { withDeadline } from './deadline';

/** What running one instance needs. */
export interface InstanceRunOptions {
  host: HostBackend;
  trace: TraceSink;
  signal?: AbortSignal;
  openBundle?: BundleOpener;
  /** Ring probe period in host ms. */
  ringPeriodMs?: number;
  /** false: no probe records or asks anything (the lab bench's baseline; checks then see no xs/ring events). */
  probes?: boolean;
  /** Host time each teardown task may take; TEARDOWN_DEADLINE_MS by default. */
  teardownMs?: number;
}

export interface HeldGuest {
  name: string;
  ref: GuestRef;
}

/** How an instance ended, with the error of an aborted one (its scenario.end error) and the guests
 *  it was asked to hold. */
export interface InstanceRun {
  outcome: InstanceOutcome;
  error?: ErrorInfo;
  guests: HeldGuest[];
}

/** Attempt `id` judged from the events of its instance's section (an instance's verdicts depend only
 *  on run.start and its own events). */
export function judgeAttempt(id: string, events: readonly TraceEvent[], specs: SpecSet, start: RunStartEvent): InstanceResult {
  return evaluateInstance(id, events.filter((e) => (e as { inst?: string }).inst === id), specs, start);
}

/** The host's own health check, bounded; a host without one counts as lost after a host error. */
export async function stillAnswers(host: HostBackend, signal?: AbortSignal): Promise<boolean> {
  if (!host.healthy) return false;
  return withDeadline(host.clock, 30_000, signal, 'the host health check', () => host.healthy!()).catch(() => false);
}

export type InstanceOutcome = 'completed' | 'aborted' | 'host-failure' | 'interrupted';

/** Runs one instance. With holdGuests its guests outlive the teardown (returned for the caller to
 *  destroy or keep); otherwise the teardown destroys them. */
export async function runInstance(inst: PlanInstance, o: InstanceRunOptions, holdGuests = false): Promise<InstanceRun> {
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
  let cancelled = false;
  const ctx: StepContext = {
    host, sink: trace, inst: inst.id, scenario: s, guests: new Map<string, GuestRef>(),
    xsProbe: new XenstoreProbe(host.xenstore, trace, inst.id, { off: o.probes === false }),
    ringProbe: new RingProbe(host, trace, inst.id, { periodMs: o.ringPeriodMs ?? 200, off: o.probes === false }),
    faultsOn: new Map(), cancelled: () => cancelled, signal: o.signal, openBundle: o.openBundle,
  };
  let outcome: InstanceOutcome = 'completed';
  let error: ErrorInfo | undefined;
  try {
    await withDeadline(host.clock, s.timeoutMs, o.signal, `scenario ${inst.id}`, () => setUpAndRun(ctx, teardown, holdGuests), () => {
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
  return { outcome, ...(error ? { error } : {}), guests: holdGuests ? [...ctx.guests].map(([name, ref]) => ({ name, ref })) : [] };
}

/** The instance's set-up, each part's undoing deferred as it is done, then its steps: guests created,
 *  probes attached, the scenario's faults on, guests started. */
async function setUpAndRun(ctx: StepContext, teardown: TeardownStack, holdGuests: boolean): Promise<void> {
  const { host, sink: trace, inst, scenario: s, guests } = ctx;
  for (const shape of s.guests) {
    const ref = await host.createGuest(shape, inst);
    guests.set(shape.name, ref);
    logPlacedDisks(host, trace, inst, shape, ref);
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
  await scenarioFaultsOn(ctx, teardown);
  for (const ref of guests.values()) await host.startGuest(ref);
  await runSteps(s.steps, '', ctx);
}

/** The scenario-wide faults switched on, each one's off deferred; one with a duration goes off by
 *  itself after it (host time). */
async function scenarioFaultsOn(ctx: StepContext, teardown: TeardownStack): Promise<void> {
  const { host, guests } = ctx;
  for (const f of ctx.scenario.faults) {
    if (!host.faults) throw new StepFailure('CAPABILITY_MISSING', `fault ${f.name} needs the host capability 'fault-injection'`);
    const g = f.guest ? guests.get(f.guest) : undefined;
    const off = once(await host.faults.inject(hostFault(host, f, g), g));
    teardown.defer(`fault ${f.name} off`, off);
    if (f.durationMs !== undefined) void host.clock.sleep(f.durationMs).then(off).catch(() => undefined);
  }
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
