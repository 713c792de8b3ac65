// Simulator workers in child processes (`winpv run --workers N` on the simulator). The simulator is
// CPU-bound JavaScript, so instances run in parallel only in separate processes: each child runs
// the instances it is given one at a time, each on a fresh simulated host seeded from the run's seed
// and the instance id (runner/pool.ts HostWorker). A child that dies takes its current instance with
// it (reported as a host failure of that worker), and the ended sections it still held (aborted);
// the others go on.
//
// The work on an instance's events stays where they are made. A child keeps each ended instance's
// events until the run loop writes that section (plan order): then it is told where the trace
// stands (seq, last time), lays the events out there, judges the attempts, shapes what the run's
// digests need of them (streamed-run.ts sectionPieces: report.html's timeline, the store's metrics)
// and sends the section back as its trace lines, already stamped, with the verdicts and the pieces.
// The parent appends the lines without parsing them (TraceWriter.appendWritten): an event is turned
// into JSON once and never parsed by the run (a --cpu-prof profile of the catalogue had the parent,
// which parsed every event, judged and digested them all, as busy as a worker). The regression
// check's history is asked of the parent, which has the results store (`baselines`).
//
// What crosses the channel is cheap to move (V8's serializer, `serialization: 'advanced'`): the
// parent's driver specs once (the child neither reads nor validates the XML again), run.start once,
// and per instance its plan entry, then its lines as one string, its verdicts and its pieces.
import { fork, type ChildProcess } from 'node:child_process';
import { extname, join } from 'node:path';
import type { PlanInstance } from '../model/plan';
import type { Baseline } from '../model/results';
import type { SpecSet } from '../model/spec';
import type { RunStartEvent, SectionDigestName, TraceEvent } from '../model/trace';
import { hostError } from '../model/errors';
import type { InstanceOutcome } from '../runner/run';
import { abortedEvents, type PlacedSection, type Section, type SectionPlace, type Worker } from '../runner/pool';

/** What a child needs to know once (sent with `init`). */
export interface SimWorkerInit {
  seed: number;
  /** The run's driver specs (the simulated frontends follow them; the checks judge with them). */
  specs: SpecSet;
  /** run.start as the instances' retries are judged with (the sections are judged with the loop's). */
  runStart: RunStartEvent;
  retries?: number;
  teardownMs?: number;
  /** The run's `<report dir>/artifacts` (crash dumps, installer logs), as an in-process worker has it. */
  artifactsDir?: string;
  simBuilds?: Record<string, { ioSlowdown?: number }>;
  /** The digests of the run to shape each section for (cli/streamed-run.ts). */
  digests: SectionDigestName[];
}

/** Where the trace stands for a section (SectionPlace without what does not cross: the baseline
 *  source is asked back; run.start is sent with the first). */
export interface PlaceRequest {
  inst: string;
  seq: number;
  lastT: number;
  start?: RunStartEvent;
  baselines: boolean;
}

export type ToChild =
  | { t: 'init'; init: SimWorkerInit }
  | { t: 'run'; inst: PlanInstance }
  | { t: 'abort' }
  | { t: 'place'; place: PlaceRequest }
  | { t: 'baselines'; id: number; baselines?: Baseline[]; error?: string }
  | { t: 'close' };
export type FromChild =
  | { t: 'status'; s: string }
  | { t: 'done'; attempts: string[]; outcome: InstanceOutcome }
  | { t: 'failed'; code: string; message: string }
  | { t: 'placed'; inst: string; placed: PlacedSection }
  | { t: 'place-failed'; inst: string; code: string; message: string }
  | { t: 'baselines'; id: number; q: Parameters<NonNullable<SectionPlace['baselines']>>[0] };

/** The child's entry: beside this file, compiled or not (tests run the TypeScript through the same loader). */
const CHILD = join(__dirname, `sim-worker-main${extname(__filename)}`);
const CLOSE_MS = 10_000;

type Waiting<T> = { done: (v: T) => void; fail: (e: Error) => void };

export class ChildSimWorker implements Worker {
  readonly slots = 1;
  private child?: ChildProcess;
  private startSent = false;
  private current?: Waiting<{ attempts: string[]; outcome: InstanceOutcome }> & { status: (s: string) => void };
  /** Sections being placed, by instance, with the baseline source of their placement. */
  private readonly placing = new Map<string, Waiting<PlacedSection> & { place: SectionPlace }>();
  /** Instances whose sections the current child holds. */
  private readonly held = new Set<string>();

  constructor(
    readonly label: string,
    private readonly init: SimWorkerInit,
  ) {}

  private start(): ChildProcess {
    const child = fork(CHILD, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (m: FromChild) => this.heard(child, m));
    child.on('exit', (code, sig) => {
      this.child = undefined;
      this.startSent = false;
      const died = (what: string) => hostError('SIM_WORKER_DIED', `simulator worker ${this.label} exited (${sig ?? `code ${code}`}) ${what}`);
      this.current?.fail(died('during an instance'));
      for (const [inst, p] of this.placing) p.fail(died(`holding the section of ${inst}`));
      this.placing.clear();
      this.held.clear();
    });
    child.send({ t: 'init', init: this.init } satisfies ToChild);
    return child;
  }

  private heard(child: ChildProcess, m: FromChild): void {
    if (m.t === 'status') this.current?.status(m.s);
    else if (m.t === 'done') this.current?.done(m);
    else if (m.t === 'failed') this.current?.fail(hostError(m.code, m.message));
    else if (m.t === 'placed' || m.t === 'place-failed') {
      const p = this.placing.get(m.inst);
      this.placing.delete(m.inst);
      if (m.t === 'placed') p?.done(m.placed);
      else p?.fail(hostError(m.code, m.message));
    } else if (m.t === 'baselines') {
      const source = [...this.placing.values()][0]?.place.baselines;
      const reply = (r: { baselines?: Baseline[]; error?: string }) => child.connected && child.send({ t: 'baselines', id: m.id, ...r } satisfies ToChild);
      if (!source) reply({ error: 'no results store' });
      else source(m.q).then((baselines) => reply({ baselines }), (e: Error) => reply({ error: e.message }));
    }
  }

  async run(inst: PlanInstance, signal: AbortSignal, status: (s: string) => void): Promise<Section> {
    const child = (this.child ??= this.start());
    const abort = () => child.connected && child.send({ t: 'abort' } satisfies ToChild);
    signal.addEventListener('abort', abort, { once: true });
    try {
      const r = await new Promise<{ attempts: string[]; outcome: InstanceOutcome }>((done, fail) => {
        this.current = { done, fail, status };
        child.send({ t: 'run', inst } satisfies ToChild);
      });
      this.held.add(inst.id);
      return { events: [], attempts: r.attempts, outcome: r.outcome, place: (p) => this.place(child, inst.id, p) };
    } catch (e) {
      // what the child recorded died with it: the instance ends aborted
      const err = e as Error & { code?: string };
      const error = { code: err.code ?? 'SIM_WORKER_FAILED', message: err.message };
      return { events: abortedEvents(inst, error).map((x) => ({ seq: 0, t: 0, ...x }) as TraceEvent), attempts: [inst.id], outcome: 'host-failure', hostLost: error };
    } finally {
      this.current = undefined;
      signal.removeEventListener('abort', abort);
    }
  }

  /** Asks the child that holds a section to lay it out where the trace stands, judge and write it. */
  private place(child: ChildProcess, inst: string, place: SectionPlace): Promise<PlacedSection> {
    if (this.child !== child || !this.held.delete(inst)) return Promise.reject(hostError('SIM_WORKER_DIED', `simulator worker ${this.label} exited holding the section of ${inst}`));
    return new Promise<PlacedSection>((done, fail) => {
      this.placing.set(inst, { done, fail, place });
      const req: PlaceRequest = { inst, seq: place.seq, lastT: place.lastT, baselines: place.baselines !== undefined, ...(this.startSent ? {} : { start: place.start }) };
      this.startSent = true;
      child.send({ t: 'place', place: req } satisfies ToChild);
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    await new Promise<void>((done) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        done();
      }, CLOSE_MS);
      child.once('exit', () => {
        clearTimeout(timer);
        done();
      });
      if (child.connected) child.send({ t: 'close' } satisfies ToChild);
      else child.kill('SIGTERM');
    });
  }
}
