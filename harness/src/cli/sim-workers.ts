// Simulator workers in child processes (`winpv run --workers N` on the simulator). The simulator is
// CPU-bound JavaScript, so instances run in parallel only in separate processes: each child runs
// the instances it is given one at a time, each on a fresh simulated host seeded from the run's seed
// and the instance id (runner/pool.ts HostWorker), and streams the instance's trace events back in
// batches; the parent writes them into the run's trace in plan order. A child that dies takes only
// its current instance with it (reported as a host failure of that worker); the others go on.
//
// What crosses the channel is cheap to move (V8's serializer, `serialization: 'advanced'`): the
// parent's driver specs once (the child neither reads nor validates the XML again), and each batch
// of events as one string of JSON lines, each event turned into JSON once, in the child. The parent
// parses them for judging and writes each line as the child wrote it, its seq and t restamped
// (trace/writer.ts eventFromJson), instead of turning every event into JSON a second time.
import { fork, type ChildProcess } from 'node:child_process';
import { extname, join } from 'node:path';
import type { PlanInstance } from '../model/plan';
import type { SpecSet } from '../model/spec';
import type { RunStartEvent, TraceEvent } from '../model/trace';
import { hostError } from '../model/errors';
import { eventFromJson } from '../trace/writer';
import type { InstanceOutcome } from '../runner/run';
import type { Section, Worker } from '../runner/pool';

/** What a child needs to know once (sent with `init`). */
export interface SimWorkerInit {
  seed: number;
  /** The run's driver specs (the simulated frontends follow them; retries are judged with them). */
  specs: SpecSet;
  runStart: RunStartEvent;
  retries?: number;
  teardownMs?: number;
  /** The run's `<report dir>/artifacts` (crash dumps, installer logs), as an in-process worker has it. */
  artifactsDir?: string;
  simBuilds?: Record<string, { ioSlowdown?: number }>;
}

export type ToChild = { t: 'init'; init: SimWorkerInit } | { t: 'run'; inst: PlanInstance } | { t: 'abort' } | { t: 'close' };
export type FromChild =
  /** Events as JSON lines joined by '\n', in the order they were written. */
  | { t: 'events'; lines: string }
  | { t: 'status'; s: string }
  | { t: 'done'; attempts: string[]; outcome: InstanceOutcome }
  | { t: 'failed'; code: string; message: string };

/** The child's entry: beside this file, compiled or not (tests run the TypeScript through the same loader). */
const CHILD = join(__dirname, `sim-worker-main${extname(__filename)}`);
const CLOSE_MS = 10_000;

export class ChildSimWorker implements Worker {
  readonly slots = 1;
  private child?: ChildProcess;
  private current?: { events: TraceEvent[]; status: (s: string) => void; done: (r: { attempts: string[]; outcome: InstanceOutcome }) => void; fail: (e: Error) => void };

  constructor(
    readonly label: string,
    private readonly init: SimWorkerInit,
  ) {}

  private start(): ChildProcess {
    const child = fork(CHILD, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (m: FromChild) => {
      const c = this.current;
      if (!c) return;
      if (m.t === 'events') for (const line of m.lines.split('\n')) c.events.push(eventFromJson(line));
      else if (m.t === 'status') c.status(m.s);
      else if (m.t === 'done') c.done(m);
      else if (m.t === 'failed') c.fail(hostError(m.code, m.message));
    });
    child.on('exit', (code, sig) => {
      this.child = undefined;
      this.current?.fail(hostError('SIM_WORKER_DIED', `simulator worker ${this.label} exited (${sig ?? `code ${code}`}) during an instance`));
    });
    child.send({ t: 'init', init: this.init } satisfies ToChild);
    return child;
  }

  async run(inst: PlanInstance, signal: AbortSignal, status: (s: string) => void): Promise<Section> {
    const child = (this.child ??= this.start());
    const events: TraceEvent[] = [];
    const abort = () => child.connected && child.send({ t: 'abort' } satisfies ToChild);
    signal.addEventListener('abort', abort, { once: true });
    try {
      const r = await new Promise<{ attempts: string[]; outcome: InstanceOutcome }>((done, fail) => {
        this.current = { events, status, done, fail };
        child.send({ t: 'run', inst } satisfies ToChild);
      });
      return { events, ...r };
    } catch (e) {
      // what the child streamed before it died stays in the section; the instance ends aborted
      const err = e as Error & { code?: string };
      const error = { code: err.code ?? 'SIM_WORKER_FAILED', message: err.message };
      const ended = events.some((x) => x.ev === 'scenario.end' && x.inst === inst.id);
      const t = events.at(-1)?.t ?? 0;
      if (!ended) events.push({ seq: 0, t, ev: 'scenario.end', inst: inst.id, status: 'aborted', error } as TraceEvent);
      return { events, attempts: [inst.id], outcome: 'host-failure', hostLost: error };
    } finally {
      this.current = undefined;
      signal.removeEventListener('abort', abort);
    }
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
