// The data behind report.html: everything the page shows, shaped once here (pure), embedded in the
// page as JSON and turned into DOM by the page's script only when it is looked at. Instances come
// failures first (failed, flaky, known, passed, skipped); each carries the timeline the page plots
// around a failure: XenbusState per device end, ring occupancy and index movement per queue,
// workload results, lifecycle and fault markers, and the trace events around each failing event.
// A trace with sections missing (no run.end, lost events, an instance with no events) still makes
// a page; what is missing is said, run-wide and per instance.
import type { CheckResult, InstanceResult } from '../model/result';
import type { InstanceMarks, ReportInput, TrendSeries } from '../model/report-input';
import type { TraceEvent } from '../model/trace';
import type { Timeline } from './html-timeline';

export type Status = 'failed' | 'flaky' | 'known' | 'passed' | 'skipped';
/** The order instances are listed in. */
export const STATUS_ORDER: readonly Status[] = ['failed', 'flaky', 'known', 'passed', 'skipped'];

export interface RunMetaLike {
  runId: string;
  startedAt: string;
  finishedAt?: string;
  command: string;
  mergedFrom?: string[];
}

export type { DeviceLane, EventRow, FailureFocus, Marker, Points, RingTrack, Timeline, WorkloadPoint } from './html-timeline';
export { thinIndices } from './html-timeline';

export interface InstanceRow {
  id: string;
  scenario: string;
  file: string;
  status: Status;
  tags: string[];
  drivers: string[];
  host: string;
  durationMs: number;
  params: Record<string, string>;
  /** One line: the first failure, the skip reason or the checks passed. */
  summary: string;
  checks: CheckResult[];
  aborted?: { code: string; message: string };
  marks?: InstanceMarks;
  artifacts: { guest: string; kind: string; path?: string; bytes?: number; sha256?: string; source?: string; missing?: string }[];
  /** Sections of the trace this instance lacks. */
  missing: string[];
  timeline?: Timeline;
}

export interface PageData {
  schema: 'winpv-report/1';
  run: {
    id: string;
    command: string;
    startedAt: string;
    finishedAt?: string;
    wallMs?: number;
    hostMs: number;
    seed: number;
    hosts: string[];
    driverBuilds: string[];
    windowsBuilds: string[];
    complete: boolean;
    bailOut?: string;
    links: { label: string; href: string }[];
    mergedFrom?: string[];
  };
  verdict: 'passed' | 'failed' | 'incomplete';
  counts: Record<Status, number> & { total: number; checks: number; checksFailed: number };
  /** Run-wide: sections missing from the trace. */
  missing: string[];
  facets: { tags: string[]; drivers: string[]; hosts: string[] };
  instances: InstanceRow[];
  trends: TrendSeries[];
  /** XenbusState names by number (xenbus.h), for the state axis; 0 also stands for a removed node. */
  stateNames: string[];
}

/** At most this many points per ring track; thinning keeps the first, the last and each bucket's peak. */
export const MAX_RING_POINTS = 600;
/** Ring points shared by the tracks of passing instances in one page, so a 2,000-instance run stays a
 *  page a browser opens at once; failing, flaky and known instances always get MAX_RING_POINTS. */
export const PASSING_RING_POINT_BUDGET = 250_000;
export const MIN_RING_POINTS = 100;

/** Points per track of each passing instance when the run's passing instances have `tracks` ring
 *  tracks in all: never more as tracks grow, so once it is MIN_RING_POINTS it stays there. */
export function passingRingPoints(tracks: number): number {
  return Math.max(MIN_RING_POINTS, Math.min(MAX_RING_POINTS, Math.floor(PASSING_RING_POINT_BUDGET / Math.max(1, tracks))));
}

export function statusOf(r: InstanceResult, marks: InstanceMarks | undefined): Status {
  if (r.verdict === 'skip') return 'skipped';
  if (r.verdict === 'fail') return marks?.known ? 'known' : 'failed';
  return marks?.flaky ? 'flaky' : 'passed';
}

/** Marks given with the report input win; else the run's own (`--retries`, the known-issues file). */
export function marksOf(r: InstanceResult, input: ReportInput): InstanceMarks | undefined {
  const given = input.marks?.[r.inst];
  const attempts = r.attempts ?? 2;
  const flaky = given?.flaky ?? (r.flaky ? { attempts, failedAttempts: attempts - 1 } : undefined);
  const known = given?.known ?? (r.known ? { issue: r.known.issue, ...(/^https?:\/\//.test(r.known.issue) ? { url: r.known.issue } : {}), symptom: `check ${r.known.check}` } : undefined);
  return flaky || known ? { ...(flaky ? { flaky } : {}), ...(known ? { known } : {}) } : undefined;
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const str = (v: unknown): v is string => typeof v === 'string';

/** Checks the fields a reader of each event kind relies on, so one bad line cannot break the page. */
export function wellFormed(e: TraceEvent): boolean {
  if (!e || typeof e !== 'object' || !num(e.seq) || !num(e.t) || !str(e.ev)) return false;
  switch (e.ev) {
    case 'xs':
      return str(e.path) && (e.value === null || str(e.value));
    case 'ring':
      return str(e.dev) && num(e.queue) && str(e.ring) && num(e.req_prod) && num(e.rsp_prod) && num(e.nr_ents);
    case 'workload':
      return !!e.result && num(e.result.mbps) && (e.result.kind === 'block' || e.result.kind === 'net');
    case 'guest':
      return str(e.what) && str(e.guest);
    case 'fault':
      return str(e.name);
    case 'step.start':
    case 'step.end':
      return str(e.step) && str(e.label);
    default:
      return true;
  }
}

/** What the page needs to know of an instance's events to say what its trace lacks. */
export interface InstanceFacts {
  events: number;
  hasStart: boolean;
  hasEnd: boolean;
  /** t of its last event. */
  lastT: number;
}

export function missingOfInstance(r: InstanceResult, f: InstanceFacts, traceGiven: boolean): string[] {
  if (!traceGiven || r.verdict === 'skip') return [];
  if (f.events === 0) return ['no trace events for this instance: no timeline can be drawn'];
  const out: string[] = [];
  if (!f.hasStart) out.push('scenario.start is missing (the trace lacks the head of this instance)');
  if (!f.hasEnd) out.push(`scenario.end is missing: the trace of this instance stops at t = ${(f.lastT / 1000).toFixed(3)} s`);
  return out;
}

/** What the page needs to know of the whole trace to say what it lacks. */
export interface RunFacts {
  /** Readable events, and unreadable ones. */
  events: number;
  malformed: number;
  hasRunStart: boolean;
  hasRunEnd: boolean;
  last?: { seq: number; t: number };
  /** Events missing between consecutive readable ones (by seq), and the first five gaps. */
  lost: number;
  gaps: string[];
}

/** Run-wide problems of the trace: none given, head or end missing, lost events, unreadable events. */
export function missingOfRun(f: RunFacts): string[] {
  if (f.events === 0 && f.malformed === 0) return ['no trace was given (trace.jsonl missing or empty): timelines cannot be drawn'];
  const out: string[] = [];
  if (!f.hasRunStart) out.push('run.start is missing: the head of the trace is lost');
  const last = f.last;
  if (!f.hasRunEnd) out.push(`run.end is missing: the trace was cut off after event ${last ? `seq ${last.seq} (t = ${(last.t / 1000).toFixed(3)} s)` : '(none)'}`);
  if (f.lost) out.push(`${f.lost} trace event${f.lost === 1 ? ' is' : 's are'} missing (seq ${f.gaps.join(', ')}${f.gaps.length === 5 ? ', ...' : ''})`);
  if (f.malformed) out.push(`${f.malformed} trace event${f.malformed === 1 ? ' was' : 's were'} unreadable and left out`);
  return out;
}

export function firstLine(r: InstanceResult): string {
  if (r.verdict === 'skip') return `skipped: ${r.skipReason ?? ''}`;
  const f = r.checks.find((c) => c.verdict === 'fail');
  if (f) return `${f.check}: ${f.message}`;
  if (r.aborted) return `steps: ${r.aborted.code}: ${r.aborted.message}`;
  const ran = r.checks.filter((c) => c.verdict !== 'skip').length;
  return `${ran} check${ran === 1 ? '' : 's'} passed`;
}

