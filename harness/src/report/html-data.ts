// The data behind report.html: everything the page shows, shaped once here (pure), embedded in the
// page as JSON and turned into DOM by the page's script only when it is looked at. Instances come
// failures first (failed, flaky, known, passed, skipped); each carries the timeline the page plots
// around a failure: XenbusState per device end, ring occupancy and index movement per queue,
// workload results, lifecycle and fault markers, and the trace events around each failing event.
// A trace with sections missing (no run.end, lost events, an instance with no events) still makes
// a page; what is missing is said, run-wide and per instance.
import type { CheckResult, InstanceResult, RunSummary } from '../model/result';
import type { InstanceMarks, ReportInput, TrendSeries } from '../model/report-input';
import type { TraceEvent } from '../model/trace';
import { XenbusState, xenbusStateName } from '../model/xenbus';
import { timeline, type Timeline } from './html-timeline';

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
const MIN_RING_POINTS = 100;

export function statusOf(r: InstanceResult, marks: InstanceMarks | undefined): Status {
  if (r.verdict === 'skip') return 'skipped';
  if (r.verdict === 'fail') return marks?.known ? 'known' : 'failed';
  return marks?.flaky ? 'flaky' : 'passed';
}

/** The marks of an instance: given with the report input, or carried by the result itself. */
/** Marks given with the report input win; else the run's own (`--retries`, the known-issues file). */
function marksOf(r: InstanceResult, input: ReportInput): InstanceMarks | undefined {
  const given = input.marks?.[r.inst];
  const attempts = r.attempts ?? 2;
  const flaky = given?.flaky ?? (r.flaky ? { attempts, failedAttempts: attempts - 1 } : undefined);
  const known = given?.known ?? (r.known ? { issue: r.known.issue, ...(/^https?:\/\//.test(r.known.issue) ? { url: r.known.issue } : {}), symptom: `check ${r.known.check}` } : undefined);
  return flaky || known ? { ...(flaky ? { flaky } : {}), ...(known ? { known } : {}) } : undefined;
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const str = (v: unknown): v is string => typeof v === 'string';

/** Checks the fields a reader of each event kind relies on, so one bad line cannot break the page. */
function wellFormed(e: TraceEvent): boolean {
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

function missingOfInstance(r: InstanceResult, events: readonly TraceEvent[], traceGiven: boolean): string[] {
  if (!traceGiven || r.verdict === 'skip') return [];
  if (events.length === 0) return ['no trace events for this instance: no timeline can be drawn'];
  const out: string[] = [];
  if (!events.some((e) => e.ev === 'scenario.start')) out.push('scenario.start is missing (the trace lacks the head of this instance)');
  if (!events.some((e) => e.ev === 'scenario.end')) out.push(`scenario.end is missing: the trace of this instance stops at t = ${(events[events.length - 1].t / 1000).toFixed(3)} s`);
  return out;
}

/** Run-wide problems of the trace: none given, head or end missing, lost events, unreadable events. */
function missingOfRun(events: readonly TraceEvent[], malformed: number): string[] {
  if (events.length === 0 && malformed === 0) return ['no trace was given (trace.jsonl missing or empty): timelines cannot be drawn'];
  const out: string[] = [];
  if (!events.some((e) => e.ev === 'run.start')) out.push('run.start is missing: the head of the trace is lost');
  const last = events[events.length - 1];
  if (!events.some((e) => e.ev === 'run.end')) out.push(`run.end is missing: the trace was cut off after event ${last ? `seq ${last.seq} (t = ${(last.t / 1000).toFixed(3)} s)` : '(none)'}`);
  const gaps: string[] = [];
  let lost = 0;
  for (let i = 1; i < events.length; i++) {
    const d = events[i].seq - events[i - 1].seq;
    if (d > 1) {
      lost += d - 1;
      if (gaps.length < 5) gaps.push(d === 2 ? `${events[i - 1].seq + 1}` : `${events[i - 1].seq + 1}-${events[i].seq - 1}`);
    }
  }
  if (lost) out.push(`${lost} trace event${lost === 1 ? ' is' : 's are'} missing (seq ${gaps.join(', ')}${gaps.length === 5 ? ', ...' : ''})`);
  if (malformed) out.push(`${malformed} trace event${malformed === 1 ? ' was' : 's were'} unreadable and left out`);
  return out;
}

function firstLine(r: InstanceResult): string {
  if (r.verdict === 'skip') return `skipped: ${r.skipReason ?? ''}`;
  const f = r.checks.find((c) => c.verdict === 'fail');
  if (f) return `${f.check}: ${f.message}`;
  if (r.aborted) return `steps: ${r.aborted.code}: ${r.aborted.message}`;
  const ran = r.checks.filter((c) => c.verdict !== 'skip').length;
  return `${ran} check${ran === 1 ? '' : 's'} passed`;
}

const sorted = (s: Iterable<string>) => [...new Set(s)].sort((a, b) => a.localeCompare(b));

export function buildPageData(s: RunSummary, allEvents: readonly TraceEvent[], meta: RunMetaLike, input: ReportInput = {}): PageData {
  const { events, byInst, ringTracks, malformed } = indexEvents(allEvents);
  const passingTracks = s.instances.reduce((n, r) => n + (r.verdict === 'pass' ? (ringTracks.get(r.inst)?.size ?? 0) : 0), 0);
  const passingMax = Math.max(MIN_RING_POINTS, Math.min(MAX_RING_POINTS, Math.floor(PASSING_RING_POINT_BUDGET / Math.max(1, passingTracks))));
  const traceGiven = allEvents.length > 0;
  const { driverBuilds, windowsBuilds } = buildsSeen(events, input);
  const rows: InstanceRow[] = s.instances.map((r) => instanceRow(r, byInst.get(r.inst) ?? [], s, input, traceGiven, passingMax));
  const rank = (st: Status) => STATUS_ORDER.indexOf(st);
  const ordered = rows.map((r, i) => ({ r, i })).sort((a, b) => rank(a.r.status) - rank(b.r.status) || a.i - b.i).map((x) => x.r);

  const counts = { failed: 0, flaky: 0, known: 0, passed: 0, skipped: 0, total: rows.length, checks: s.counts.checks, checksFailed: s.counts.checksFailed };
  for (const r of rows) counts[r.status]++;
  const wallMs = meta.finishedAt ? Date.parse(meta.finishedAt) - Date.parse(meta.startedAt) : NaN;
  const merged = meta.mergedFrom && meta.mergedFrom.length > 0;
  const links = [
    { label: 'TAP', href: 'results.tap' },
    { label: 'JUnit', href: 'junit.xml' },
    // a merged run has no trace of its own; its shards' traces stay in their directories, named
    // (not linked: they are given relative to where `report merge` ran, not to this page)
    ...(merged ? [] : [{ label: 'trace', href: 'trace.jsonl' }]),
    { label: 'summary.json', href: 'summary.json' },
  ];
  return {
    schema: 'winpv-report/1',
    run: {
      id: meta.runId,
      command: meta.command,
      startedAt: meta.startedAt,
      ...(meta.finishedAt ? { finishedAt: meta.finishedAt } : {}),
      ...(Number.isFinite(wallMs) ? { wallMs } : {}),
      hostMs: s.instances.reduce((n, r) => n + r.durationMs, 0),
      seed: s.seed,
      hosts: sorted(rows.map((r) => r.host)),
      driverBuilds: sorted(driverBuilds),
      windowsBuilds: sorted(windowsBuilds),
      complete: s.complete,
      ...(s.bailOut ? { bailOut: s.bailOut } : {}),
      links,
      ...(merged ? { mergedFrom: meta.mergedFrom } : {}),
    },
    verdict: !s.complete || s.bailOut ? 'incomplete' : counts.failed > 0 ? 'failed' : 'passed',
    counts,
    missing: missingOfRun(events, malformed),
    facets: { tags: sorted(rows.flatMap((r) => r.tags)), drivers: sorted(rows.flatMap((r) => r.drivers)), hosts: sorted(rows.map((r) => r.host)) },
    instances: ordered,
    trends: input.trends ?? [],
    stateNames: Object.values(XenbusState).map((n) => xenbusStateName(n)),
  };
}

/** The readable events (and how many were not), each instance's events, each instance's ring tracks. */
function indexEvents(allEvents: readonly TraceEvent[]): { events: TraceEvent[]; byInst: Map<string, TraceEvent[]>; ringTracks: Map<string, Set<string>>; malformed: number } {
  const byInst = new Map<string, TraceEvent[]>();
  const ringTracks = new Map<string, Set<string>>();
  const events: TraceEvent[] = [];
  let malformed = 0;
  for (const e of allEvents) {
    if (!wellFormed(e)) {
      malformed++;
      continue;
    }
    events.push(e);
    const inst = (e as { inst?: unknown }).inst;
    if (!str(inst)) continue;
    let l = byInst.get(inst);
    if (!l) byInst.set(inst, (l = []));
    l.push(e);
    if (e.ev === 'ring') {
      let k = ringTracks.get(inst);
      if (!k) ringTracks.set(inst, (k = new Set()));
      k.add(`${e.guest} ${e.dev} ${e.queue} ${e.ring}`);
    }
  }
  return { events, byInst, ringTracks, malformed };
}

/** The driver and Windows builds the run used: given by the results history, else seen in the trace. */
function buildsSeen(events: readonly TraceEvent[], input: ReportInput): { driverBuilds: Set<string>; windowsBuilds: Set<string> } {
  const driverBuilds = new Set<string>();
  const windowsBuilds = new Set<string>();
  if (input.builds?.driver) driverBuilds.add(input.builds.driver);
  if (input.builds?.windows) windowsBuilds.add(input.builds.windows);
  for (const e of events) {
    if (e.ev === 'drivers') {
      if (e.expected?.version) driverBuilds.add(e.expected.version);
      else for (const b of e.bound) driverBuilds.add(b.version);
    } else if (e.ev === 'xs' && e.value && /\/data\/os_(?:name|uname)$/.test(e.path) && !input.builds?.windows) {
      // what a guest agent publishes of its OS (the XenServer guest agent writes data/os_*)
      windowsBuilds.add(e.value.split('|')[0]);
    }
  }
  return { driverBuilds, windowsBuilds };
}

/** One instance's row: status, checks failures first, artifacts, what its trace lacks, its timeline. */
function instanceRow(r: InstanceResult, ev: readonly TraceEvent[], s: RunSummary, input: ReportInput, traceGiven: boolean, passingMax: number): InstanceRow {
  const marks = marksOf(r, input);
  const start = ev.find((e): e is TraceEvent & { ev: 'scenario.start' } => e.ev === 'scenario.start');
  const failed = r.checks.filter((c) => c.verdict === 'fail');
  const row: InstanceRow = {
    id: r.inst,
    scenario: r.scenario,
    file: r.file,
    status: statusOf(r, marks),
    tags: r.tags,
    drivers: start && Array.isArray(start.drivers) ? start.drivers : [],
    host: s.host.label,
    durationMs: r.durationMs,
    params: r.params,
    summary: firstLine(r),
    checks: [...failed, ...r.checks.filter((c) => c.verdict !== 'fail')],
    artifacts: ev.filter((e): e is TraceEvent & { ev: 'artifact' } => e.ev === 'artifact').map((a) => ({ guest: a.guest, kind: a.kind, path: a.path, bytes: a.bytes, sha256: a.sha256, source: a.source, missing: a.missing })),
    missing: missingOfInstance(r, ev, traceGiven),
  };
  if (r.aborted) row.aborted = r.aborted;
  if (r.verdict === 'skip' && r.skipReason) row.summary = `skipped: ${r.skipReason}`;
  if (marks) row.marks = marks;
  if (ev.length && r.verdict !== 'skip') row.timeline = timeline(ev, failed, r.aborted, row.status === 'passed' ? passingMax : MAX_RING_POINTS);
  return row;
}
