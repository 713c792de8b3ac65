// The run loop: every run, on one host or many, one worker or many (`winpv run --workers N`; runPlan
// in runner/run.ts is its one-worker case). Instances run at once on workers, each instance on its own
// guests, and the trace and reports still read as one run in plan order. A worker records an
// instance on its own host clock and hands its events over as they come; the loop writes each
// instance's section into the trace in plan order, laid end to end on one timeline (as report merge
// lays shards): the oldest unwritten instance writes as it goes (so a one-worker run streams its
// trace live), the others wait their turn in memory. Each section is judged with the same evaluation
// `winpv check` uses as it ends and then let go: the run keeps the instances' results, never the
// trace, and never reads the trace back. So a trace of a parallel run re-checks to the same TAP,
// and on the simulator, where every instance gets a host of its own seeded from the run's seed and
// the instance id, the sections do not depend on the number of workers or on which worker ran what.
//
// A worker whose host is lost takes no more instances; the others go on; when none is left the run
// stops (trace incomplete, TAP Bail out!, exit 3).
import { applyKnownIssues, foldRetries, type KnownIssue } from '../model/outcomes';
import type { ErrorInfo } from '../model/errors';
import type { BaselineSource } from '../model/results';
import type { PlanInstance, RunPlan } from '../model/plan';
import type { InstanceResult, RunSummary } from '../model/result';
import type { Reporter } from '../model/reporter';
import type { SpecSet } from '../model/spec';
import type { RunEndEvent, RunStartEvent, TraceEvent, TraceEventInput } from '../model/trace';
import { TRACE_SCHEMA } from '../model/trace';
import { setMaxListeners } from 'node:events';
import { judgeResults } from '../checks/evaluate';
import { baselineEvents } from './baselines';
import type { TraceWriter } from '../trace/writer';
import { errorInfo } from './errors';
import { judgeAttempt } from './instance';
import type { KeptGuests } from './keep';
import { repeatPlan } from './repeat';
import { abortedEvents } from './host-worker';
import type { Section, Worker, WorkerStatus } from './worker';

export type { Section, Worker, WorkerStatus } from './worker';
export { HostWorker, instanceSeed, type HostWorkerOptions } from './host-worker';

export interface RunOutcome {
  summary: RunSummary;
  /** Set when the run stopped because the host failed (exit 3). */
  hostError?: { code: string; message: string };
  interrupted: boolean;
  /** --keep-on-failure kept a failing instance's guests: the host is still open until kept.release(). */
  kept?: KeptGuests;
}

export interface PoolRunOptions {
  plan: RunPlan;
  specs: SpecSet;
  specHashes: Record<string, string>;
  trace: TraceWriter;
  reporter: Reporter;
  workers: readonly Worker[];
  /** The run.start host: one host's, or the hosts of a `--host label:...` run named together. */
  host: RunStartEvent['host'];
  signal?: AbortSignal;
  repeatEach?: number;
  knownIssues?: readonly KnownIssue[];
  /** The results history, for instances whose scenario names the regression check. */
  baselines?: BaselineSource;
  /** Hosts left out before the run (unhealthy, no capacity), each with the reason: logged in the trace.
   *  With no worker left the run stops at once (exit 3): with the one host's error, else NO_HEALTHY_HOST. */
  hostsSkipped?: readonly { host: string; reason: string; error?: ErrorInfo }[];
  onStatus?: (lines: readonly WorkerStatus[]) => void;
}

/** The run.start event of a plan (already repeated). */
export function runStartEvent(plan: RunPlan, host: RunStartEvent['host'], specHashes: Record<string, string>, knownIssues?: readonly KnownIssue[]): RunStartEvent {
  return {
    ev: 'run.start', seq: 0, t: 0, schema: TRACE_SCHEMA, seed: plan.seed, host, specs: specHashes,
    instances: plan.instances.map((i) => i.id),
    ...(plan.shard ? { shard: plan.shard } : {}),
    ...(knownIssues?.length ? { knownIssues: [...knownIssues] } : {}),
  };
}

/** One instance's events on their way into the run's trace: held until the instance is the oldest
 *  unwritten one, then written as they come; all of them kept until the instance is judged. */
class SectionWriter {
  readonly events: TraceEvent[] = [];
  private written = 0;
  private live = false;
  /** Where the section starts on the run's timeline, and its first event's time on the worker's clock. */
  private base?: { at: number; t0: number };

  constructor(private readonly trace: TraceWriter) {}

  get isLive(): boolean {
    return this.live;
  }

  push = (e: TraceEvent): void => {
    this.events.push(e);
    if (this.live) this.writeOut();
  };

  goLive(): void {
    this.live = true;
    this.writeOut();
  }

  /** An event the loop adds at the section's end (a baseline), at the trace's last time. */
  append(input: TraceEventInput): void {
    const e = { seq: 0, t: 0, ...input } as TraceEvent;
    this.events.push(e);
    this.written++;
    this.trace.adopt(e, this.trace.lastTime);
  }

  /** Lays the events after what the trace holds: the first at the trace's last time, the rest at
   *  their own distances from it (durations kept, time never running backwards), restamped in place. */
  private writeOut(): void {
    for (; this.written < this.events.length; this.written++) {
      const e = this.events[this.written]!;
      this.base ??= { at: this.trace.lastTime, t0: e.t };
      this.trace.adopt(e, this.base.at + (e.t - this.base.t0));
    }
  }
}

export async function runOnWorkers(o: PoolRunOptions): Promise<RunOutcome> {
  const { trace, reporter } = o;
  const plan = repeatPlan(o.plan, o.repeatEach ?? 1);
  const start = runStartEvent(plan, o.host, o.specHashes, o.knownIssues);
  trace.emit(start);
  for (const s of o.hostsSkipped ?? []) trace.emit({ ev: 'log', level: 'warn', msg: `host ${s.host} skipped: ${s.reason}` });
  await reporter.onRunStart?.({ seed: plan.seed, host: { kind: o.host.kind, label: o.host.label }, instances: start.instances });

  const queue = plan.instances.map((inst, i) => ({ inst, i }));
  const sections = new Map<number, SectionWriter>(); // instances started and not yet written
  const ended = new Map<number, Section>(); // ... of which these have ended
  const announced = new Set<number>(); // ... and these were told to the reporters as they started
  let next = 0; // the first instance not yet written
  const skipped = o.hostsSkipped ?? [];
  let hostError: RunOutcome['hostError'] = o.workers.length
    ? undefined
    : skipped.length === 1 && skipped[0]!.error
      ? skipped[0]!.error
      : { code: 'NO_HEALTHY_HOST', message: skipped.map((s) => `${s.host}: ${s.reason}`).join('; ') || 'no worker to run instances on' };
  let interrupted = false;
  let kept: KeptGuests | undefined;
  const judged: InstanceResult[] = [];
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  setMaxListeners(0, signal); // every instance running at once waits on it
  const status: WorkerStatus[] = [];
  const show = () => o.onStatus?.(status);

  const sectionOf = (i: number) => {
    let s = sections.get(i);
    if (!s) sections.set(i, (s = new SectionWriter(trace)));
    return s;
  };
  /** The oldest unwritten instance writes as it goes, and the reporters hear that it started. */
  const head = async (inst: PlanInstance, i: number) => {
    const s = sectionOf(i);
    if (s.isLive) return;
    s.goLive();
    announced.add(i);
    await reporter.onInstanceStart?.(inst.id);
  };

  // Sections are finished, judged and reported strictly in plan order, one at a time.
  let writing = Promise.resolve();
  const flush = () => {
    writing = writing.then(async () => {
      while (ended.has(next)) {
        const i = next;
        const section = ended.get(i)!;
        const inst = plan.instances[i]!;
        const out = sectionOf(i);
        out.goLive();
        for (const e of section.events) out.push(e);
        // the regression check's history joins the section at its end, before it is judged
        if (o.baselines) for (const id of section.attempts) for (const e of await baselineEvents(inst, id, out.events, o.baselines)) out.append(e);
        const attempts = section.attempts.map((id) => judgeAttempt(id, out.events, o.specs, start));
        judged.push(...attempts);
        ended.delete(i);
        sections.delete(i); // its events are let go here
        if (!announced.delete(i)) await reporter.onInstanceStart?.(inst.id);
        await reporter.onInstanceEnd?.(applyKnownIssues(foldRetries(attempts), o.knownIssues ?? []).results[0]!);
        next = i + 1;
        if (sections.has(next)) await head(plan.instances[next]!, next);
      }
    });
    return writing;
  };

  const live = o.workers.map((w) => ({ w, lost: false }));
  const slot = async (entry: (typeof live)[number], k: number) => {
    const line: WorkerStatus = { worker: entry.w.slots > 1 ? `${entry.w.label}/${k + 1}` : entry.w.label, doing: 'idle' };
    status.push(line);
    for (;;) {
      if (entry.lost || hostError) break;
      if (signal.aborted) {
        interrupted = interrupted || o.signal?.aborted === true;
        break;
      }
      const item = queue.shift();
      if (!item) break;
      const section = item.inst.skip ? skipSection(item.inst) : await runOne(entry.w, item.inst, item.i, line);
      ended.set(item.i, section);
      kept ??= section.kept;
      if (section.outcome === 'interrupted') interrupted = true;
      if (section.hostLost) {
        entry.lost = true;
        if (live.every((x) => x.lost)) {
          hostError = section.hostLost;
          stop.abort();
        } else trace.emit({ ev: 'log', level: 'warn', msg: `a worker on ${entry.w.label} lost its host (${section.hostLost.code}); the other workers go on` });
      }
      await flush();
    }
    line.inst = undefined;
    line.doing = 'done';
    show();
  };
  const runOne = async (w: Worker, inst: PlanInstance, i: number, line: WorkerStatus): Promise<Section> => {
    const out = sectionOf(i);
    if (i === next) await head(inst, i);
    line.inst = inst.id;
    line.doing = 'starting';
    show();
    try {
      return await w.run(inst, signal, (s) => {
        line.doing = s;
        show();
      }, out.push);
    } catch (e) {
      // the worker itself broke (a child process died): the instance is lost with it
      const error = errorInfo(e);
      const t = out.events.at(-1)?.t ?? 0;
      return { events: abortedEvents(inst, error).map((x) => ({ seq: 0, t, ...x }) as TraceEvent), attempts: [inst.id], outcome: 'host-failure', error, hostLost: error };
    }
  };
  await Promise.all(live.flatMap((entry) => Array.from({ length: entry.w.slots }, (_, k) => slot(entry, k))));
  await flush();
  const late = (e: TraceEvent) => trace.adopt(e, trace.lastTime);
  for (const w of o.workers) await w.close(late).catch((e: Error) => trace.emit({ ev: 'log', level: 'error', msg: `closing ${w.label} failed: ${e.message}` }));

  const end: Omit<RunEndEvent, 'seq' | 't' | 'ev'> = hostError ? { complete: false, reason: 'host-failure', error: hostError } : interrupted ? { complete: false, reason: 'interrupted' } : { complete: true };
  trace.close(end);
  // the verdicts of the sections as they were written: evaluateInstance over each instance's own
  // events, what evaluate() would compute again over the whole trace (an instance's verdicts depend
  // only on run.start and its own events), so `winpv check` gives the same TAP
  const summary = judgeResults(foldRetries(judged), start, { seq: 0, t: 0, ev: 'run.end', ...end });
  await reporter.onRunEnd?.(summary);
  return { summary, ...(hostError ? { hostError } : {}), interrupted, ...(kept ? { kept } : {}) };
}

function skipSection(inst: PlanInstance): Section {
  return { events: [{ seq: 0, t: 0, ev: 'scenario.skip', inst: inst.id, reason: inst.skip! }], attempts: [inst.id], outcome: 'completed' };
}
