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
import { judgeSection } from './section';
import type { TraceWriter } from '../trace/writer';
import { errorInfo } from './errors';
import { judgeAttempt } from './instance';
import type { KeptGuests } from './keep';
import { repeatPlan } from './repeat';
import { abortedEvents } from './host-worker';
import type { Section, Worker, WorkerStatus } from './worker';

export type { PlacedSection, Section, SectionPlace, Worker, WorkerStatus } from './worker';
export { abortedEvents, HostWorker, instanceSeed, type HostWorkerOptions } from './host-worker';

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
  return new PoolRun(o).run();
}

/** A worker's slot as the loop keeps it: lost once its host is. */
interface LiveWorker {
  w: Worker;
  lost: boolean;
}

/** One run on workers: the queue of instances, their sections until written, the verdicts so far. */
class PoolRun {
  private readonly plan: RunPlan;
  private readonly start: RunStartEvent;
  private readonly queue: { inst: PlanInstance; i: number }[];
  /** Instances started and not yet written. */
  private readonly sections = new Map<number, SectionWriter>();
  /** ... of which these have ended. */
  private readonly ended = new Map<number, Section>();
  /** ... and these were told to the reporters as they started. */
  private readonly announced = new Set<number>();
  /** The first instance not yet written. */
  private next = 0;
  private hostError: RunOutcome['hostError'];
  private interrupted = false;
  private kept: KeptGuests | undefined;
  private readonly judged: InstanceResult[] = [];
  private readonly stop = new AbortController();
  private readonly signal: AbortSignal;
  private readonly status: WorkerStatus[] = [];
  private readonly live: LiveWorker[];
  /** Sections are finished, judged and reported strictly in plan order, one at a time. */
  private writing = Promise.resolve();

  constructor(private readonly o: PoolRunOptions) {
    this.plan = repeatPlan(o.plan, o.repeatEach ?? 1);
    this.start = runStartEvent(this.plan, o.host, o.specHashes, o.knownIssues);
    this.queue = this.plan.instances.map((inst, i) => ({ inst, i }));
    this.hostError = o.workers.length ? undefined : noWorkerError(o.hostsSkipped ?? []);
    this.signal = o.signal ? AbortSignal.any([o.signal, this.stop.signal]) : this.stop.signal;
    setMaxListeners(0, this.signal); // every instance running at once waits on it
    this.live = o.workers.map((w) => ({ w, lost: false }));
  }

  async run(): Promise<RunOutcome> {
    const { trace, reporter } = this.o;
    trace.emit(this.start);
    for (const s of this.o.hostsSkipped ?? []) trace.emit({ ev: 'log', level: 'warn', msg: `host ${s.host} skipped: ${s.reason}` });
    await reporter.onRunStart?.({ seed: this.plan.seed, host: { kind: this.o.host.kind, label: this.o.host.label }, instances: this.start.instances });
    await Promise.all(this.live.flatMap((entry) => Array.from({ length: entry.w.slots }, (_, k) => this.slot(entry, k))));
    await this.flush();
    const late = (e: TraceEvent) => trace.adopt(e, trace.lastTime);
    for (const w of this.o.workers) await w.close(late).catch((e: Error) => trace.emit({ ev: 'log', level: 'error', msg: `closing ${w.label} failed: ${e.message}` }));
    return this.end();
  }

  private show(): void {
    this.o.onStatus?.(this.status);
  }

  private sectionOf(i: number): SectionWriter {
    let s = this.sections.get(i);
    if (!s) this.sections.set(i, (s = new SectionWriter(this.o.trace)));
    return s;
  }

  /** The oldest unwritten instance writes as it goes, and the reporters hear that it started. */
  private async head(inst: PlanInstance, i: number): Promise<void> {
    const s = this.sectionOf(i);
    if (s.isLive) return;
    s.goLive();
    this.announced.add(i);
    await this.o.reporter.onInstanceStart?.(inst.id);
  }

  private flush(): Promise<void> {
    this.writing = this.writing.then(async () => {
      while (this.ended.has(this.next)) await this.writeSection(this.next);
    });
    return this.writing;
  }

  /** An ended instance, the oldest unwritten: written out, judged, reported and let go; the next one goes live. */
  private async writeSection(i: number): Promise<void> {
    const { o } = this;
    const section = this.ended.get(i)!;
    const inst = this.plan.instances[i]!;
    const attempts = await this.judgedSection(section, inst, i);
    this.judged.push(...attempts);
    this.ended.delete(i);
    this.sections.delete(i); // its events are let go here
    if (!this.announced.delete(i)) await o.reporter.onInstanceStart?.(inst.id);
    await o.reporter.onInstanceEnd?.(applyKnownIssues(foldRetries(attempts), o.knownIssues ?? []).results[0]!);
    this.next = i + 1;
    if (this.sections.has(this.next)) await this.head(this.plan.instances[this.next]!, this.next);
  }

  /** The section written into the trace and its attempts judged: here, from its events; or, for a
   *  worker that lays out, judges and writes its sections itself (a simulator worker process), there,
   *  its lines appended unparsed. The regression check's history joins the section at its end, before
   *  it is judged. */
  private async judgedSection(section: Section, inst: PlanInstance, i: number): Promise<InstanceResult[]> {
    const { o } = this;
    const out = this.sectionOf(i);
    out.goLive();
    if (section.place) {
      try {
        const placed = await section.place({ seq: o.trace.nextSeq, lastT: o.trace.lastTime, start: this.start, ...(o.baselines ? { baselines: o.baselines } : {}) });
        o.trace.appendWritten(placed.written);
        return placed.attempts;
      } catch (e) {
        // the worker died holding the section: the instance is lost with it
        for (const x of abortedEvents(inst, errorInfo(e))) out.append(x);
        return [judgeAttempt(inst.id, out.events, o.specs, this.start)];
      }
    }
    for (const e of section.events) out.push(e);
    return judgeSection(inst, section.attempts, out.events, { specs: o.specs, start: this.start, ...(o.baselines ? { baselines: o.baselines } : {}), append: (e) => out.append(e) });
  }

  /** One slot of a worker: takes instances from the queue until none is left, the run stops or its host is lost. */
  private async slot(entry: LiveWorker, k: number): Promise<void> {
    const line: WorkerStatus = { worker: entry.w.slots > 1 ? `${entry.w.label}/${k + 1}` : entry.w.label, doing: 'idle' };
    this.status.push(line);
    for (;;) {
      if (entry.lost || this.hostError) break;
      if (this.signal.aborted) {
        this.interrupted = this.interrupted || this.o.signal?.aborted === true;
        break;
      }
      const item = this.queue.shift();
      if (!item) break;
      const section = item.inst.skip ? skipSection(item.inst) : await this.runOne(entry.w, item.inst, item.i, line);
      this.ended.set(item.i, section);
      this.kept ??= section.kept;
      if (section.outcome === 'interrupted') this.interrupted = true;
      if (section.hostLost) this.hostLost(entry, section.hostLost);
      await this.flush();
    }
    line.inst = undefined;
    line.doing = 'done';
    this.show();
  }

  /** A worker lost its host: it takes no more work; when it was the last, the run stops. */
  private hostLost(entry: LiveWorker, error: NonNullable<Section['hostLost']>): void {
    entry.lost = true;
    if (this.live.every((x) => x.lost)) {
      this.hostError = error;
      this.stop.abort();
    } else this.o.trace.emit({ ev: 'log', level: 'warn', msg: `a worker on ${entry.w.label} lost its host (${error.code}); the other workers go on` });
  }

  private async runOne(w: Worker, inst: PlanInstance, i: number, line: WorkerStatus): Promise<Section> {
    const out = this.sectionOf(i);
    if (i === this.next) await this.head(inst, i);
    line.inst = inst.id;
    line.doing = 'starting';
    this.show();
    try {
      return await w.run(inst, this.signal, (s) => {
        line.doing = s;
        this.show();
      }, out.push);
    } catch (e) {
      // the worker itself broke (a child process died): the instance is lost with it
      const error = errorInfo(e);
      const t = out.events.at(-1)?.t ?? 0;
      return { events: abortedEvents(inst, error).map((x) => ({ seq: 0, t, ...x }) as TraceEvent), attempts: [inst.id], outcome: 'host-failure', error, hostLost: error };
    }
  }

  /** run.end written, the run judged from the sections' verdicts and reported. */
  private async end(): Promise<RunOutcome> {
    const { hostError, interrupted, kept } = this;
    const end: Omit<RunEndEvent, 'seq' | 't' | 'ev'> = hostError ? { complete: false, reason: 'host-failure', error: hostError } : interrupted ? { complete: false, reason: 'interrupted' } : { complete: true };
    this.o.trace.close(end);
    // the verdicts of the sections as they were written: evaluateInstance over each instance's own
    // events, what evaluate() would compute again over the whole trace (an instance's verdicts depend
    // only on run.start and its own events), so `winpv check` gives the same TAP
    const summary = judgeResults(foldRetries(this.judged), this.start, { seq: 0, t: 0, ev: 'run.end', ...end });
    await this.o.reporter.onRunEnd?.(summary);
    return { summary, ...(hostError ? { hostError } : {}), interrupted, ...(kept ? { kept } : {}) };
  }
}

/** Why a run has no worker: the one skipped host's error, else NO_HEALTHY_HOST naming each host's reason. */
function noWorkerError(skipped: NonNullable<PoolRunOptions['hostsSkipped']>): NonNullable<RunOutcome['hostError']> {
  return skipped.length === 1 && skipped[0]!.error
    ? skipped[0]!.error
    : { code: 'NO_HEALTHY_HOST', message: skipped.map((s) => `${s.host}: ${s.reason}`).join('; ') || 'no worker to run instances on' };
}

function skipSection(inst: PlanInstance): Section {
  return { events: [{ seq: 0, t: 0, ev: 'scenario.skip', inst: inst.id, reason: inst.skip! }], attempts: [inst.id], outcome: 'completed' };
}
