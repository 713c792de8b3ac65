// A worker in this process (runner/worker.ts): a fresh host per instance (the simulator, seeded by
// instanceSeed), or one real host running up to `slots` instances at once, its events sorted into
// each instance's section by their `inst` and handed to the run loop as they are written. Here the
// instance's retries (`--retries`) and `--keep-on-failure` are decided, each from the events of the
// attempt that just ended.
import { RETRY_MARK, retryId } from '../model/outcomes';
import type { ErrorInfo } from '../model/errors';
import type { HostBackend, HostNeeds } from '../model/host';
import type { PlanInstance } from '../model/plan';
import type { SpecSet } from '../model/spec';
import type { RunStartEvent, TraceEvent, TraceEventInput } from '../model/trace';
import { TraceWriter } from '../trace/writer';
import { guestMemoryBytes } from '../plan/needs';
import type { BundleOpener } from './bundle';
import { errorInfo } from './errors';
import { judgeAttempt, runInstance, stillAnswers } from './instance';
import { closeHost, destroyGuests, keepGuests, type KeptGuests } from './keep';
import { guardHost, type HostGuards } from './guards';
import { withDeadline } from './deadline';
import { TEARDOWN_DEADLINE_MS } from './teardown';
import type { Section, Worker } from './worker';

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
  /** false: the probes are off (see InstanceRunOptions.probes). */
  probes?: boolean;
  artifactsDir?: string;
  openBundle?: BundleOpener;
  /** Guards shared with the other workers on the same host or pool (memory budget, migrations). */
  guards?: HostGuards;
  /** --keep-on-failure (a shared host only): the guests of the first failing instance are kept and
   *  the host stays open until Section.kept.release(). */
  keepOnFailure?: boolean;
  /** What the run's largest instance needs of a shared host: asked of its preflight before use. */
  needs?: HostNeeds;
}

/** How long a shared host's preflight (winpv doctor's checks) may take before the host is left out. */
const PREFLIGHT_MS = 120_000;

/** The simulator's seed for one instance: from the run's seed and the instance id alone. */
export function instanceSeed(seed: number, inst: string): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(`${seed >>> 0}/${inst}`, 'utf8')) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h;
}

/** The events of an instance that could not run (its scenario.start and an aborted scenario.end). */
export function abortedEvents(inst: PlanInstance, error: ErrorInfo): TraceEventInput[] {
  const s = inst.scenario;
  return [
    { ev: 'scenario.start', inst: inst.id, scenario: s.name, file: s.source.file, params: inst.params, tags: s.tags, drivers: s.drivers, guests: s.guests, checks: s.checks, faults: s.faults },
    { ev: 'scenario.end', inst: inst.id, status: 'aborted', error },
  ];
}

type Emit = (e: TraceEvent) => void;
type Ended = Omit<Section, 'events'>;

/** A running instance of a shared host: its own events (for its retries) and where they go. */
interface Running {
  mine: TraceEvent[];
  emit: Emit;
}

export class HostWorker implements Worker {
  readonly label: string;
  readonly slots: number;
  private shared?: { host: HostBackend; sink: TraceWriter; pending: TraceEvent[]; running: Map<string, Running>; close?: Emit };
  private opening?: Promise<string | undefined>;
  private openError?: ErrorInfo;
  private kept?: KeptGuests;

  constructor(private readonly o: HostWorkerOptions) {
    this.label = o.label;
    this.slots = o.slots;
  }

  /** Why the shared host could not be used, once open() has said so. */
  get openFailure(): ErrorInfo | undefined {
    return this.openError;
  }

  /** Opens a shared host and asks its health (before it gets work); the reason when it is not usable.
   *  Called once; every slot waits for the same opening. */
  open(): Promise<string | undefined> {
    if (this.o.fresh) return Promise.resolve(undefined);
    return (this.opening ??= this.openShared());
  }

  private async openShared(): Promise<string | undefined> {
    const running = new Map<string, Running>();
    const pending: TraceEvent[] = [];
    const shared: NonNullable<HostWorker['shared']> = {
      host: this.o.guards ? guardHost(this.o.make(), this.o.guards) : this.o.make(),
      // an instance's events go to its section; the host's own to the oldest running instance's
      // (where a one-slot run writes them as they happen), else to the next instance's, else (while
      // closing) to the run
      sink: new TraceWriter({
        keep: false,
        onEvent: (e) => {
          const inst = (e as { inst?: string }).inst;
          const own = inst !== undefined ? running.get(baseId(inst)) : undefined;
          if (own) {
            own.mine.push(e);
            own.emit(e);
          } else {
            const oldest = running.values().next().value as Running | undefined;
            if (oldest) oldest.emit(e);
            else if (shared.close) shared.close(e);
            else pending.push(e);
          }
        },
      }),
      pending,
      running,
    };
    this.shared = shared;
    const { host, sink } = shared;
    try {
      await host.open(sink, { seed: this.o.seed, ...(this.o.artifactsDir !== undefined ? { artifactsDir: this.o.artifactsDir } : {}) });
      sink.setClock(() => host.clock.now());
      if (host.healthy && !(await stillAnswers(host))) this.openError = { code: 'HOST_UNHEALTHY', message: `${host.label} does not answer its health check` };
      else if (host.preflight && this.o.needs) {
        const needs = this.o.needs;
        const problems = await withDeadline(host.clock, PREFLIGHT_MS, undefined, `the preflight of ${host.label}`, () => host.preflight!(needs));
        if (problems.length) this.openError = { code: 'HOST_UNHEALTHY', message: `preflight: ${problems.join('; ')}` };
      }
    } catch (e) {
      this.openError = errorInfo(e);
    }
    return this.openError && (this.openError.code === 'HOST_UNHEALTHY' ? this.openError.message : `${this.openError.code}: ${this.openError.message}`);
  }

  async run(inst: PlanInstance, signal: AbortSignal, status: (s: string) => void, emit?: Emit): Promise<Section> {
    const events: TraceEvent[] = [];
    const out = emit ?? ((e: TraceEvent) => void events.push(e));
    const ended = this.o.fresh ? await this.runFresh(inst, signal, status, out) : await this.runShared(inst, signal, status, out);
    return { events, ...ended };
  }

  private async runShared(inst: PlanInstance, signal: AbortSignal, status: (s: string) => void, out: Emit): Promise<Ended> {
    await this.open();
    const sh = this.shared!;
    const mine: TraceEvent[] = [];
    for (const e of sh.pending.splice(0)) out(e);
    sh.running.set(inst.id, { mine, emit: out });
    let release: (() => void) | undefined;
    try {
      if (this.openError) {
        for (const e of abortedEvents(inst, this.openError)) sh.sink.emit(e);
        return { attempts: [inst.id], outcome: 'host-failure', error: this.openError, hostLost: this.openError };
      }
      const memory = this.o.guards?.memory;
      if (memory) {
        const bytes = guestMemoryBytes(inst);
        status(`waiting for ${Math.ceil(bytes / 2 ** 20)} MiB of memory`);
        try {
          release = await memory.acquire(bytes, signal);
        } catch (e) {
          // waiting for memory was interrupted, or the guests can never fit
          const error = errorInfo(e);
          for (const x of abortedEvents(inst, error)) sh.sink.emit(x);
          return { attempts: [inst.id], outcome: signal.aborted ? 'interrupted' : 'aborted', error };
        }
      }
      const r = await this.attempts(inst, sh.host, sh.sink, mine, signal, status);
      if (r.outcome !== 'host-failure') return r;
      const error = r.error ?? { code: 'HOST_FAILURE', message: 'the host failed' };
      if (!(await stillAnswers(sh.host, signal))) return { ...r, hostLost: error };
      // the host only refused that scenario (a missing ISO, a device it cannot attach)
      sh.sink.emit({ ev: 'log', inst: inst.id, level: 'warn', msg: `${inst.id} ended on a host error (${error.code}) but the host still answers: the run goes on` });
      return r;
    } finally {
      release?.();
      sh.running.delete(inst.id);
    }
  }

  private async runFresh(inst: PlanInstance, signal: AbortSignal, status: (s: string) => void, out: Emit): Promise<Ended> {
    const host = this.o.guards ? guardHost(this.o.make(), this.o.guards) : this.o.make();
    const mine: TraceEvent[] = [];
    const sink = new TraceWriter({
      keep: false,
      onEvent: (e) => {
        mine.push(e);
        out(e);
      },
    });
    try {
      await host.open(sink, { seed: instanceSeed(this.o.seed, inst.id), ...(this.o.artifactsDir !== undefined ? { artifactsDir: this.o.artifactsDir } : {}) });
      sink.setClock(() => host.clock.now());
    } catch (e) {
      const error = errorInfo(e);
      for (const x of abortedEvents(inst, error)) sink.emit(x);
      return { attempts: [inst.id], outcome: 'host-failure', error, hostLost: error };
    }
    const r = await this.attempts(inst, host, sink, mine, signal, status);
    await closeHost({ host, sink, teardownMs: this.o.teardownMs });
    return r;
  }

  /** The instance and its retries (`--retries`), each judged on what it recorded; with
   *  --keep-on-failure the first failing attempt's guests are kept. */
  private async attempts(inst: PlanInstance, host: HostBackend, sink: TraceWriter, mine: readonly TraceEvent[], signal: AbortSignal, status: (s: string) => void): Promise<Ended> {
    const ids: string[] = [];
    const retries = this.o.retries ?? 0;
    const end = { host, sink, teardownMs: this.o.teardownMs };
    const trace = {
      emit: (e: TraceEventInput) => {
        sink.emit(e);
        if (e.ev === 'step.start') status(`${(e as { op?: string }).op ?? 'step'}`);
      },
    };
    let kept: KeptGuests | undefined;
    for (let attempt = 0; ; attempt++) {
      const run = attempt === 0 ? inst : { ...inst, id: retryId(inst.id, attempt) };
      ids.push(run.id);
      status(attempt ? `retry ${attempt}` : 'running');
      const ran = await runInstance(run, { host, trace, signal, teardownMs: this.o.teardownMs, ringPeriodMs: this.o.ringPeriodMs, ...(this.o.probes === false ? { probes: false } : {}), openBundle: this.o.openBundle }, this.o.keepOnFailure === true && !this.kept);
      const lost = ran.outcome === 'host-failure' || ran.outcome === 'interrupted';
      if (ran.guests.length) {
        // judged before its guests go; a failing instance keeps them (its checks then lack what
        // destroying them would have recorded, e.g. the grants audit at domain destruction)
        const first = judgeAttempt(run.id, mine, this.o.specs, this.o.runStart);
        if (first.verdict === 'fail' && !lost) kept = this.kept = await keepGuests(first, ran.guests, end);
        else await destroyGuests(ran.guests, run.id, end);
      }
      const ended: Ended = { attempts: ids, outcome: ran.outcome, ...(ran.error ? { error: ran.error } : {}), ...(kept ? { kept } : {}) };
      if (lost || attempt >= retries || signal.aborted) return ended;
      if (judgeAttempt(run.id, mine, this.o.specs, this.o.runStart).verdict !== 'fail') return ended;
      sink.emit({ ev: 'log', inst: inst.id, level: 'info', msg: `${inst.id} failed; retry ${attempt + 1} of ${retries}` });
    }
  }

  /** What the opened shared host says is free for guests, if it says. */
  async freeMemoryBytes(): Promise<number | undefined> {
    return this.shared?.host.freeMemoryBytes?.();
  }

  /** Closes the shared host, unless it holds kept guests (their release closes it). */
  async close(emit?: Emit): Promise<void> {
    const sh = this.shared;
    if (!sh || this.kept) return;
    this.shared = undefined;
    if (emit) {
      for (const e of sh.pending.splice(0)) emit(e);
      sh.close = emit;
    }
    await withDeadline(sh.host.clock, this.o.teardownMs ?? TEARDOWN_DEADLINE_MS, undefined, 'closing the host', () => sh.host.close());
  }
}

const baseId = (inst: string) => {
  const k = inst.indexOf(RETRY_MARK);
  return k < 0 ? inst : inst.slice(0, k);
};
