// Parallel runs (`winpv run --workers N`): instances run at once on workers, each instance on its own
// guests, and the trace and reports still read as one run in plan order. A worker records an
// instance on its own host clock and hands back the instance's section (its events, with the host
// events written meanwhile); the pool writes the sections in plan order, laid end to end on one
// timeline (as report merge lays shards), and judges each with the same evaluation `winpv check`
// uses. So a trace of a parallel run re-checks to the same TAP, and on the simulator, where every
// instance gets a host of its own seeded from the run's seed and the instance id, the sections do
// not depend on the number of workers or on which worker ran what.
//
// A worker is a place that runs instances: a simulator child process (cli/sim-workers.ts), a fresh
// simulated host per instance in this process, or a real host shared by up to its capacity of
// instances (HostWorker). A worker whose host is lost takes no more instances; the others go on;
// when none is left the run stops like a one-host run does (trace incomplete, TAP Bail out!).
import { applyKnownIssues, foldRetries, RETRY_MARK, retryId, type KnownIssue } from '../model/outcomes';
import type { BaselineSource } from '../model/results';
import type { HostBackend, HostNeeds } from '../model/host';
import type { PlanInstance, RunPlan } from '../model/plan';
import type { InstanceResult } from '../model/result';
import type { Reporter } from '../model/reporter';
import type { SpecSet } from '../model/spec';
import type { RunStartEvent, TraceEvent } from '../model/trace';
import { setMaxListeners } from 'node:events';
import { evaluateInstance, groupByInstance, judgeResults } from '../checks/evaluate';
import { baselineEvents } from './baselines';
import { TraceWriter } from '../trace/writer';
import type { BundleOpener } from './bundle';
import { errorInfo } from './errors';
import { lastAbort, runInstance, runStartEvent, stillAnswers, type InstanceOutcome, type RunOutcome } from './run';
import { repeatPlan } from './repeat';
import { guardHost, type HostGuards } from './guards';
import { withDeadline } from './deadline';
import { TEARDOWN_DEADLINE_MS } from './teardown';

/** What a worker hands back for one instance: its events (stamped on the worker's clock), the ids
 *  of its attempts (retries), how it ended, and whether the worker's host was lost with it. */
export interface Section {
  events: TraceEvent[];
  attempts: string[];
  outcome: InstanceOutcome;
  hostLost?: { code: string; message: string };
}

export interface Worker {
  /** For the live lines: `sim #2`, `pool-a`. Never written into the trace. */
  readonly label: string;
  /** Instances it runs at once. */
  readonly slots: number;
  run(inst: PlanInstance, signal: AbortSignal, status: (s: string) => void): Promise<Section>;
  close(): Promise<void>;
}

/** One line per worker slot, for a terminal (`report/console.ts` draws them). */
export interface WorkerStatus {
  worker: string;
  inst?: string;
  doing: string;
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
  retries?: number;
  repeatEach?: number;
  knownIssues?: readonly KnownIssue[];
  /** The results history, for instances whose scenario names the regression check. */
  baselines?: BaselineSource;
  /** Hosts left out before the run (unhealthy, no capacity), each with the reason: logged in the trace. */
  hostsSkipped?: readonly { host: string; reason: string }[];
  onStatus?: (lines: readonly WorkerStatus[]) => void;
}

/** The simulator's seed for one instance: from the run's seed and the instance id alone. */
export function instanceSeed(seed: number, inst: string): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(`${seed >>> 0}/${inst}`, 'utf8')) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h;
}

export async function runOnWorkers(o: PoolRunOptions): Promise<RunOutcome> {
  const { trace, reporter } = o;
  const plan = repeatPlan(o.plan, o.repeatEach ?? 1);
  const runStart = runStartEvent(plan, o.host, o.specHashes, o.knownIssues);
  trace.emit(runStart);
  for (const s of o.hostsSkipped ?? []) trace.emit({ ev: 'log', level: 'warn', msg: `host ${s.host} skipped: ${s.reason}` });
  await reporter.onRunStart?.({ seed: plan.seed, host: { kind: o.host.kind, label: o.host.label }, instances: runStart.instances });
  const start = trace.events[0] as RunStartEvent;

  const queue = plan.instances.map((inst, i) => ({ inst, i }));
  const done = new Map<number, Section>();
  let next = 0; // the first instance not yet written
  let hostError: RunOutcome['hostError'];
  let interrupted = false;
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  setMaxListeners(0, signal); // every instance running at once waits on it
  const status: WorkerStatus[] = [];
  const show = () => o.onStatus?.(status);

  // Sections are written, judged and reported strictly in plan order, one at a time.
  let writing = Promise.resolve();
  const judged: InstanceResult[] = [];
  const flush = () => {
    writing = writing.then(async () => {
      while (done.has(next)) {
        const section = done.get(next)!;
        done.delete(next);
        const inst = plan.instances[next]!;
        next++;
        // the regression check's history joins the section at its end, before it is judged
        if (o.baselines) {
          for (const id of section.attempts) {
            const t = section.events.at(-1)?.t ?? 0;
            for (const e of await baselineEvents(inst, id, section.events, o.baselines)) section.events.push({ ...e, seq: 0, t } as TraceEvent);
          }
        }
        appendSection(trace, section.events);
        const attempts = section.attempts.map((id) => judge(id, section.events, o.specs, start));
        judged.push(...attempts);
        await reporter.onInstanceStart?.(inst.id);
        const result = applyKnownIssues(foldRetries(attempts), o.knownIssues ?? []).results[0]!;
        await reporter.onInstanceEnd?.(result);
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
      if (item.inst.skip) {
        done.set(item.i, { events: [skipEvent(item.inst)], attempts: [item.inst.id], outcome: 'completed' });
        void flush();
        continue;
      }
      line.inst = item.inst.id;
      line.doing = 'starting';
      show();
      let section: Section;
      try {
        section = await entry.w.run(item.inst, signal, (s) => {
          line.doing = s;
          show();
        });
      } catch (e) {
        // the worker itself broke (a child process died): the instance is lost with it
        const err = errorInfo(e);
        section = { events: [abortedEvents(item.inst, err)].flat(), attempts: [item.inst.id], outcome: 'host-failure', hostLost: err };
      }
      done.set(item.i, section);
      void flush();
      if (section.outcome === 'interrupted') interrupted = true;
      if (section.hostLost) {
        entry.lost = true;
        if (live.every((x) => x.lost)) {
          hostError = section.hostLost;
          stop.abort();
        } else trace.emit({ ev: 'log', level: 'warn', msg: `a worker on ${entry.w.label} lost its host (${section.hostLost.code}); the other workers go on` });
      }
    }
    line.inst = undefined;
    line.doing = 'done';
    show();
  };
  await Promise.all(live.flatMap((entry) => Array.from({ length: entry.w.slots }, (_, k) => slot(entry, k))));
  await flush();
  for (const w of o.workers) await w.close().catch((e: Error) => trace.emit({ ev: 'log', level: 'error', msg: `closing ${w.label} failed: ${e.message}` }));

  trace.close(hostError ? { complete: false, reason: 'host-failure', error: hostError } : interrupted ? { complete: false, reason: 'interrupted' } : { complete: true });
  // the verdicts of the sections as they were written: evaluateInstance over each instance's own
  // events, what evaluate() would compute again over the whole trace (an instance's verdicts depend
  // only on run.start and its own events), so `winpv check` gives the same TAP
  const g = groupByInstance(trace.events);
  const summary = judgeResults(foldRetries(judged), g.runStart, g.runEnd);
  await reporter.onRunEnd?.(summary);
  return { summary, ...(hostError ? { hostError } : {}), interrupted };
}

/** Lays a worker's section after what the trace holds: its first event at the trace's last time,
 *  the rest at their own distances from it (durations kept, time never running backwards). The
 *  events are the worker's own objects, restamped in place. */
function appendSection(trace: TraceWriter, events: TraceEvent[]): void {
  if (!events.length) return;
  const base = trace.lastTime;
  const t0 = events[0]!.t;
  for (const e of events) trace.adopt(e, base + (e.t - t0));
}

function judge(id: string, events: readonly TraceEvent[], specs: SpecSet, start: RunStartEvent): InstanceResult {
  return evaluateInstance(id, events.filter((e) => (e as { inst?: string }).inst === id), specs, start);
}

function skipEvent(inst: PlanInstance): TraceEvent {
  return { seq: 0, t: 0, ev: 'scenario.skip', inst: inst.id, reason: inst.skip! };
}

function abortedEvents(inst: PlanInstance, error: { code: string; message: string }): TraceEvent[] {
  const s = inst.scenario;
  return [
    { seq: 0, t: 0, ev: 'scenario.start', inst: inst.id, scenario: s.name, file: s.source.file, params: inst.params, tags: s.tags, drivers: s.drivers, guests: s.guests, checks: s.checks, faults: s.faults },
    { seq: 0, t: 0, ev: 'scenario.end', inst: inst.id, status: 'aborted', error },
  ] as TraceEvent[];
}

export interface HostWorkerOptions {
  label: string;
  /** Instances at once on one host (its capacity, or the workers given to it). */
  slots: number;
  /** Makes the host. With `fresh`, one per instance, opened with instanceSeed (the simulator). */
  make: () => HostBackend;
  fresh: boolean;
  seed: number;
  specs: SpecSet;
  runStart: RunStartEvent;
  retries?: number;
  teardownMs?: number;
  ringPeriodMs?: number;
  artifactsDir?: string;
  openBundle?: BundleOpener;
  /** Guards shared with the other workers on the same host or pool (memory budget, migrations). */
  guards?: HostGuards;
  /** Each event of a fresh host as it is written (a worker process streams them to its parent). */
  onEvent?: (e: TraceEvent) => void;
  /** What the run's largest instance needs of a shared host: asked of its preflight before use. */
  needs?: HostNeeds;
}

/** How long a shared host's preflight (winpv doctor's checks) may take before the host is left out. */
const PREFLIGHT_MS = 120_000;

/** A worker in this process: a fresh host per instance (simulator), or one real host running up to
 *  `slots` instances at once, its events sorted into each instance's section by their `inst`. */
export class HostWorker implements Worker {
  readonly label: string;
  readonly slots: number;
  private shared?: { host: HostBackend; sink: TraceWriter; hostEvents: TraceEvent[]; open: Map<string, TraceEvent[]> };
  private opening?: Promise<string | undefined>;

  constructor(private readonly o: HostWorkerOptions) {
    this.label = o.label;
    this.slots = o.slots;
  }

  /** Opens a shared host and asks its health (before it gets work); the reason when it is not usable.
   *  Called once; every slot waits for the same opening. */
  open(): Promise<string | undefined> {
    if (this.o.fresh) return Promise.resolve(undefined);
    return (this.opening ??= this.openShared());
  }

  private async openShared(): Promise<string | undefined> {
    const open = new Map<string, TraceEvent[]>();
    const hostEvents: TraceEvent[] = [];
    const sink = new TraceWriter({
      onEvent: (e) => {
        const inst = (e as { inst?: string }).inst;
        const own = inst !== undefined ? open.get(baseId(inst)) : undefined;
        (own ?? hostEvents).push(e);
      },
    });
    const host = this.o.guards ? guardHost(this.o.make(), this.o.guards) : this.o.make();
    this.shared = { host, sink, hostEvents, open };
    try {
      await host.open(sink, { seed: this.o.seed, ...(this.o.artifactsDir !== undefined ? { artifactsDir: this.o.artifactsDir } : {}) });
      sink.setClock(() => host.clock.now());
      if (host.healthy && !(await stillAnswers(host))) return `${host.label} does not answer its health check`;
      if (host.preflight && this.o.needs) {
        const needs = this.o.needs;
        const problems = await withDeadline(host.clock, PREFLIGHT_MS, undefined, `the preflight of ${host.label}`, () => host.preflight!(needs));
        if (problems.length) return `preflight: ${problems.join('; ')}`;
      }
    } catch (e) {
      const { code, message } = errorInfo(e);
      return `${code}: ${message}`;
    }
    return undefined;
  }

  async run(inst: PlanInstance, signal: AbortSignal, status: (s: string) => void): Promise<Section> {
    if (this.o.fresh) return this.runFresh(inst, signal, status);
    {
      const why = await this.open();
      if (why) return { events: abortedEvents(inst, { code: 'HOST_UNHEALTHY', message: why }), attempts: [inst.id], outcome: 'host-failure', hostLost: { code: 'HOST_UNHEALTHY', message: why } };
    }
    const sh = this.shared!;
    const mine: TraceEvent[] = [];
    sh.open.set(inst.id, mine);
    const memory = this.o.guards?.memory;
    const bytes = guestMemoryBytes(inst);
    let release: (() => void) | undefined;
    try {
      if (memory) {
        status(`waiting for ${Math.ceil(bytes / 2 ** 20)} MiB of memory`);
        release = await memory.acquire(bytes, signal);
      }
      const r = await this.attempts(inst, sh.host, sh.sink, () => mine, signal, status);
      const lost = r.outcome === 'host-failure' && !(await stillAnswers(sh.host, signal)) ? lastAbort(mine, r.attempts.at(-1)!) : undefined;
      return { events: [...sh.hostEvents.splice(0), ...mine], ...r, ...(lost ? { hostLost: lost } : {}) };
    } catch (e) {
      // waiting for memory was interrupted, or the guest can never fit
      const err = errorInfo(e);
      return { events: [...sh.hostEvents.splice(0), ...abortedEvents(inst, err)], attempts: [inst.id], outcome: signal.aborted ? 'interrupted' : 'aborted' };
    } finally {
      release?.();
      sh.open.delete(inst.id);
    }
  }

  private async runFresh(inst: PlanInstance, signal: AbortSignal, status: (s: string) => void): Promise<Section> {
    const host = this.o.guards ? guardHost(this.o.make(), this.o.guards) : this.o.make();
    const sink = new TraceWriter(this.o.onEvent ? { onEvent: this.o.onEvent } : {});
    try {
      await host.open(sink, { seed: instanceSeed(this.o.seed, inst.id), ...(this.o.artifactsDir !== undefined ? { artifactsDir: this.o.artifactsDir } : {}) });
      sink.setClock(() => host.clock.now());
    } catch (e) {
      const err = errorInfo(e);
      return { events: [...sink.events, ...abortedEvents(inst, err)], attempts: [inst.id], outcome: 'host-failure', hostLost: err };
    }
    const r = await this.attempts(inst, host, sink, () => sink.events, signal, status);
    await withDeadline(host.clock, this.o.teardownMs ?? TEARDOWN_DEADLINE_MS, undefined, 'closing the host', () => host.close()).catch((e) => sink.emit({ ev: 'log', level: 'error', msg: `closing the host failed: ${errorInfo(e).message}` }));
    return { events: sink.events, ...r };
  }

  /** The instance and its retries (`--retries`), each judged on what it recorded. */
  private async attempts(inst: PlanInstance, host: HostBackend, sink: TraceWriter, events: () => readonly TraceEvent[], signal: AbortSignal, status: (s: string) => void): Promise<{ attempts: string[]; outcome: InstanceOutcome }> {
    const ids: string[] = [];
    let outcome: InstanceOutcome = 'completed';
    const watch = (e: TraceEvent) => {
      if (e.ev === 'step.start') status(`${(e as { step?: string; op?: string }).op ?? 'step'}`);
    };
    for (let attempt = 0; ; attempt++) {
      const run = attempt === 0 ? inst : { ...inst, id: retryId(inst.id, attempt) };
      ids.push(run.id);
      status(attempt ? `retry ${attempt}` : 'running');
      ({ outcome } = await runInstance(run, { host, trace: { emit: (e) => (sink.emit(e), watch(sink.events.at(-1)!)) }, signal, teardownMs: this.o.teardownMs, ringPeriodMs: this.o.ringPeriodMs, openBundle: this.o.openBundle }));
      // judged here only to decide on a retry (the pool judges what it writes)
      if (attempt >= (this.o.retries ?? 0)) break;
      const verdict = judge(run.id, events(), this.o.specs, this.o.runStart).verdict;
      if (verdict !== 'fail' || outcome === 'host-failure' || outcome === 'interrupted' || attempt >= (this.o.retries ?? 0) || signal.aborted) break;
      sink.emit({ ev: 'log', inst: inst.id, level: 'info', msg: `${inst.id} failed; retry ${attempt + 1} of ${this.o.retries}` });
    }
    return { attempts: ids, outcome };
  }

  /** What the opened shared host says is free for guests, if it says. */
  async freeMemoryBytes(): Promise<number | undefined> {
    return this.shared?.host.freeMemoryBytes?.();
  }

  async close(): Promise<void> {
    const sh = this.shared;
    this.shared = undefined;
    if (sh) await withDeadline(sh.host.clock, this.o.teardownMs ?? TEARDOWN_DEADLINE_MS, undefined, 'closing the host', () => sh.host.close());
  }
}

const baseId = (inst: string) => { const k = inst.indexOf(RETRY_MARK); return k < 0 ? inst : inst.slice(0, k); };

/** Memory the instance's guests ask for. */
export function guestMemoryBytes(inst: PlanInstance): number {
  return inst.scenario.guests.reduce((n, g) => n + g.memoryMiB * 2 ** 20, 0);
}
