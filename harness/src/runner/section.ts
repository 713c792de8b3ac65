// An instance's section as it joins the run's trace: laid out after what the trace holds (the first
// event at the trace's last time, the rest at their own distances from it, as SectionWriter and
// TraceWriter.adopt stamp them), the regression check's history added at its end, each attempt
// judged from it. The run loop does this for the sections of workers in its process; a simulator
// worker process does the same for its own (cli/sim-worker-main.ts), so the two cannot differ.
import type { PlanInstance } from '../model/plan';
import type { InstanceResult } from '../model/result';
import type { BaselineSource } from '../model/results';
import type { SpecSet } from '../model/spec';
import type { RunStartEvent, TraceEvent, TraceEventInput } from '../model/trace';
import { layTime } from '../trace/writer';
import { baselineEvents } from './baselines';
import { judgeAttempt } from './instance';

/** Where the trace stands: the seq its next event gets, and its last time. */
export interface TraceEnd {
  seq: number;
  lastT: number;
}

/** Restamps a section's events (stamped on its worker's clock) in place for a trace that stands at
 *  `end`, which moves on past them. */
export function layOut(events: readonly TraceEvent[], end: TraceEnd): void {
  if (!events.length) return;
  const at = end.lastT;
  const t0 = events[0]!.t;
  for (const e of events) {
    end.lastT = layTime(end.lastT, at + (e.t - t0));
    e.seq = end.seq++;
    e.t = end.lastT;
  }
}

/** An event added at the end of a trace that stands at `end` (at its last time). */
export function stampAtEnd(input: TraceEventInput, end: TraceEnd): TraceEvent {
  const e = { seq: 0, t: 0, ...input } as TraceEvent;
  end.lastT = layTime(end.lastT, end.lastT);
  e.seq = end.seq++;
  e.t = end.lastT;
  return e;
}

export interface SectionJudging {
  specs: SpecSet;
  start: RunStartEvent;
  baselines?: BaselineSource;
  /** Adds an event at the section's end (stamped and written by the caller). */
  append: (e: TraceEventInput) => void;
}

/** The section's attempts judged from its events (all of them, laid out), the regression check's
 *  history appended first for each attempt whose scenario names it. */
export async function judgeSection(inst: PlanInstance, attempts: readonly string[], events: readonly TraceEvent[], o: SectionJudging): Promise<InstanceResult[]> {
  if (o.baselines) for (const id of attempts) for (const e of await baselineEvents(inst, id, events, o.baselines)) o.append(e);
  return attempts.map((id) => judgeAttempt(id, events, o.specs, o.start));
}
