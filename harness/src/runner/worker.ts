// What the run loop (runner/pool.ts) asks of a place that runs instances: a simulator child process
// (cli/sim-workers.ts), a fresh simulated host per instance in this process, or a real host shared
// by up to its slots of instances (runner/host-worker.ts).
import type { ErrorInfo } from '../model/errors';
import type { PlanInstance } from '../model/plan';
import type { InstanceResult } from '../model/result';
import type { BaselineSource } from '../model/results';
import type { RunStartEvent, TraceEvent, WrittenSection } from '../model/trace';
import type { InstanceOutcome } from './instance';
import type { KeptGuests } from './keep';

/** How a worker's instance ended: the ids of its attempts (retries), how the last one ended and the
 *  error that aborted it, whether the worker's host was lost with it, and the events the worker did
 *  not already hand over through `emit` (a worker that hands them back at the end). */
export interface Section {
  events: TraceEvent[];
  attempts: string[];
  outcome: InstanceOutcome;
  error?: ErrorInfo;
  hostLost?: { code: string; message: string };
  /** --keep-on-failure: this instance failed and its guests are kept (the worker's host stays open). */
  kept?: KeptGuests;
  /** A worker that holds its events (a simulator worker process) lays the section out where the
   *  trace stands, judges it and writes its lines there (runner/section.ts), when the loop asks. */
  place?: (p: SectionPlace) => Promise<PlacedSection>;
}

/** Where the run's trace stands when a section is written, and what judging the section needs. */
export interface SectionPlace {
  /** The trace's next seq and last time. */
  seq: number;
  lastT: number;
  start: RunStartEvent;
  baselines?: BaselineSource;
}

/** A section laid out, judged and written where its events are. */
export interface PlacedSection {
  written: WrittenSection;
  /** The verdicts of its attempts, in order. */
  attempts: InstanceResult[];
}

export interface Worker {
  /** For the live lines: `sim #2`, `pool-a`. Never written into the trace. */
  readonly label: string;
  /** Instances it runs at once. */
  readonly slots: number;
  /** Runs an instance; `emit` takes its events (stamped on the worker's clock) as they are written. */
  run(inst: PlanInstance, signal: AbortSignal, status: (s: string) => void, emit?: (e: TraceEvent) => void): Promise<Section>;
  /** Closes the worker's host; events it writes meanwhile go to `emit`. */
  close(emit?: (e: TraceEvent) => void): Promise<void>;
}

/** One line per worker slot, for a terminal (`report/console.ts` draws them). */
export interface WorkerStatus {
  worker: string;
  inst?: string;
  doing: string;
}
