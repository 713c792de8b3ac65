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

/** A step series: [t ms, value] pairs in time order. */
export type Points = [number, number][];

export interface DeviceLane {
  /** `win vbd/51712` */
  name: string;
  frontend: Points;
  backend: Points;
}

export interface RingTrack {
  /** `win vbd/51712 q0 blk` */
  name: string;
  nrEnts: number;
  t: number[];
  /** req_prod - rsp_prod: requests the backend has not answered yet. */
  occupancy: number[];
  /** Requests produced and responses produced since the first sample (unwrapped). */
  reqMoved: number[];
  rspMoved: number[];
  /** Samples in the trace (the track may be thinned to fewer). */
  samples: number;
}

export interface WorkloadPoint {
  t: number;
  step: string;
  guest: string;
  dev: string;
  kind: 'block' | 'net';
  mbps: number;
  iops?: number;
  p50?: number;
  p99?: number;
  seconds: number;
  errors: number;
}

export interface Marker {
  t: number;
  kind: 'lifecycle' | 'fault' | 'step';
  label: string;
}

/** One row of the events-around-a-failure table. */
export type EventRow = [seq: number, t: number, ev: string, text: string];

export interface FailureFocus {
  check: string;
  message: string;
  t?: number;
  seq?: number;
  /** The trace events before and after the failing one (ring.io and periodic ring samples left out). */
  around: EventRow[];
}

export interface Timeline {
  t0: number;
  t1: number;
  devices: DeviceLane[];
  rings: RingTrack[];
  workloads: WorkloadPoint[];
  markers: Marker[];
  failures: FailureFocus[];
}

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
const AROUND_BEFORE = 12;
const AROUND_AFTER = 8;

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

const STATE_PATH = /^\/local\/domain\/(\d+)\/(device|backend)\/([^/]+)\/(?:(\d+)\/)?([^/]+)\/state$/;

/** Device key and end of a xenstore state path, `device/vbd/51712/state` or `backend/vbd/<domid>/51712/state`. */
function stateEnd(e: TraceEvent & { ev: 'xs' }, guests: Map<number, string>): { key: string; end: 'frontend' | 'backend' } | undefined {
  const m = STATE_PATH.exec(e.path);
  if (!m) return undefined;
  const [, domid, side, type, frontDom, id] = m;
  if (side === 'backend' && frontDom === undefined) return undefined;
  const dom = Number(side === 'device' ? domid : frontDom);
  const guest = e.guest ?? guests.get(dom) ?? `dom${dom}`;
  return { key: `${guest} ${type}/${id}`, end: side === 'device' ? 'frontend' : 'backend' };
}

/** Keeps first, last and the peak of each bucket, so a thinned track still shows every spike. */
export function thinIndices(values: readonly number[], max: number): number[] {
  const n = values.length;
  if (n <= max) return values.map((_v, i) => i);
  const keep: number[] = [0];
  const buckets = max - 2;
  for (let b = 0; b < buckets; b++) {
    const lo = 1 + Math.floor((b * (n - 2)) / buckets);
    const hi = 1 + Math.floor(((b + 1) * (n - 2)) / buckets);
    let best = lo;
    for (let i = lo + 1; i < hi; i++) if (values[i] > values[best]) best = i;
    if (hi > lo) keep.push(best);
  }
  keep.push(n - 1);
  return keep;
}

interface RingAcc {
  name: string;
  nrEnts: number;
  t: number[];
  occ: number[];
  req: number[];
  rsp: number[];
  lastReq: number;
  lastRsp: number;
}

/** Unwrapped movement of a 32-bit ring index; a jump backwards (ring set up again) restarts from the new value. */
function moved(prev: number, cur: number): number {
  const d = (cur - prev) >>> 0;
  return d > 0x7fffffff ? cur >>> 0 : d;
}

function describeEvent(e: TraceEvent): string {
  switch (e.ev) {
    case 'xs':
      return `${e.path} = ${e.value === null ? '(removed)' : JSON.stringify(e.value)}${e.snapshot ? ' (read at attach)' : ''}`;
    case 'ring':
      return `${e.guest} ${e.dev} q${e.queue} ${e.ring}: req_prod ${e.req_prod} rsp_prod ${e.rsp_prod} req_event ${e.req_event} rsp_event ${e.rsp_event}${e.req_cons !== undefined ? ` req_cons ${e.req_cons}` : ''}${e.rsp_cons !== undefined ? ` rsp_cons ${e.rsp_cons}` : ''} (${e.why})`;
    case 'ring.io':
      return `${e.guest} ${e.dev} q${e.queue} ${e.ring} ${e.dir} id${e.ids.length === 1 ? '' : 's'} ${e.ids.join(', ')}${e.statuses ? ` status ${e.statuses.join(', ')}` : ''}`;
    case 'guest':
      return `${e.guest} dom${e.domid} ${e.what}${e.detail ? ` ${JSON.stringify(e.detail)}` : ''}`;
    case 'step.start':
      return `step ${e.step} ${e.kind}: ${e.label}`;
    case 'step.end':
      return `step ${e.step} ${e.ok === false ? 'FAILED' : 'done'}${e.error ? `: ${e.error.code}: ${e.error.message}` : ''}`;
    case 'workload':
      return `${e.guest} ${e.dev} ${e.result.kind} ${e.result.mbps.toFixed(1)} ${e.result.kind === 'net' ? 'Mbit/s' : 'MB/s'} over ${e.result.seconds} s, ${e.result.errors} errors`;
    case 'fault':
      return `fault ${e.name} ${e.on ? 'on' : 'off'}${e.detail ? ` ${JSON.stringify(e.detail)}` : ''}`;
    case 'log':
      return `${e.level}: ${e.msg}`;
    case 'drivers':
      return `${e.guest}: bound ${e.bound.map((b) => `${b.driver} ${b.version}`).join(', ') || 'none'}${e.unbound.length ? `; unbound ${e.unbound.map((u) => `${u.hardwareId} (${u.reason})`).join(', ')}` : ''}`;
    case 'backend.stats':
      return `${e.guest} ${e.dev} ${Object.entries(e.stats).map(([k, v]) => `${k}=${v}`).join(' ')}`;
    case 'grants':
      return `${e.guest} dom${e.domid}${e.dev ? ` ${e.dev}` : ''} ${e.when}: ${e.active.length} active, ${e.mapped.length} mapped, ${e.revokedWhileMapped.length} revoked while mapped`;
    case 'scenario.start':
      return `scenario ${e.scenario} starts`;
    case 'scenario.end':
      return `scenario ${e.status}${e.error ? `: ${e.error.code}: ${e.error.message}` : ''}`;
    case 'artifact':
      return `${e.guest} ${e.kind}: ${e.path ?? `none (${e.missing ?? 'not collected'})`}`;
    case 'memory':
      return `${e.guest} dom${e.domid} memory ${e.actualKiB} KiB, target ${e.targetKiB} KiB, static-max ${e.staticMaxKiB} KiB`;
    default:
      return '';
  }
}

/** Worth listing around a failure: everything but the per-request and periodic ring noise. */
const notable = (e: TraceEvent) => e.ev !== 'ring.io' && !(e.ev === 'ring' && e.why === 'periodic');

function around(events: readonly TraceEvent[], c: CheckResult): FailureFocus {
  const d = c.diagnostics ?? {};
  const seq = num(d.seq) ? d.seq : undefined;
  const at = num(d.at) ? d.at : undefined;
  let focus = -1;
  if (seq !== undefined) focus = events.findIndex((e) => e.seq === seq);
  if (focus < 0 && at !== undefined) {
    // the first event at or after the failure's time, else the last one before it
    focus = events.findIndex((e) => e.t >= at);
    if (focus < 0) focus = events.length - 1;
  }
  const rows: EventRow[] = [];
  if (focus >= 0) {
    const before: TraceEvent[] = [];
    for (let i = focus - 1; i >= 0 && before.length < AROUND_BEFORE; i--) if (notable(events[i])) before.unshift(events[i]);
    const after: TraceEvent[] = [];
    for (let i = focus + 1; i < events.length && after.length < AROUND_AFTER; i++) if (notable(events[i])) after.push(events[i]);
    for (const e of [...before, events[focus], ...after]) rows.push([e.seq, e.t, e.ev, describeEvent(e)]);
  }
  const t = at ?? (focus >= 0 ? events[focus].t : undefined);
  return { check: c.check, message: c.message, ...(t !== undefined ? { t } : {}), ...(focus >= 0 ? { seq: events[focus].seq } : {}), around: rows };
}

const LIFECYCLE_MARKED = new Set(['rebooted', 'crashed', 'halted-unexpectedly', 'xenstore-lost', 'bugcheck', 'suspended', 'resumed', 'saved', 'restored', 'migrated', 'shutdown', 'snapshot', 'reverted', 'suspending']);
const STEP_MARKED = new Set(['hotplug', 'reboot', 'bugcheck', 'migrate', 'suspend', 'resume', 'suspend-resume', 'save-restore', 'backend-restart', 'backend-close', 'shutdown', 'start', 'fault']);

function timeline(events: readonly TraceEvent[], failures: CheckResult[], aborted: InstanceResult['aborted'], maxRingPoints: number): Timeline {
  const devices = new Map<string, DeviceLane>();
  const rings = new Map<string, RingAcc>();
  const workloads: WorkloadPoint[] = [];
  const markers: Marker[] = [];
  // a guest keeps its lane across a migration or restore into a new domain, whose first xenstore
  // writes are recorded before the lifecycle event that names its domid
  const guests = new Map<number, string>();
  for (const e of events) {
    if (e.ev !== 'guest') continue;
    guests.set(e.domid, e.guest);
    if (num(e.detail?.domid)) guests.set(e.detail.domid, e.guest);
  }
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const e of events) {
    if (e.t < t0) t0 = e.t;
    if (e.t > t1) t1 = e.t;
    if (e.ev === 'xs') {
      const end = stateEnd(e, guests);
      if (!end) continue;
      let lane = devices.get(end.key);
      if (!lane) devices.set(end.key, (lane = { name: end.key, frontend: [], backend: [] }));
      const v = e.value === null ? 0 : Number(e.value);
      lane[end.end].push([e.t, Number.isInteger(v) ? v : 0]);
    } else if (e.ev === 'ring') {
      const k = `${e.guest} ${e.dev} q${e.queue} ${e.ring}`;
      let r = rings.get(k);
      if (!r) rings.set(k, (r = { name: k, nrEnts: e.nr_ents, t: [], occ: [], req: [], rsp: [], lastReq: e.req_prod, lastRsp: e.rsp_prod }));
      const req = (r.req.length ? r.req[r.req.length - 1] : 0) + moved(r.lastReq, e.req_prod);
      const rsp = (r.rsp.length ? r.rsp[r.rsp.length - 1] : 0) + moved(r.lastRsp, e.rsp_prod);
      r.lastReq = e.req_prod;
      r.lastRsp = e.rsp_prod;
      r.t.push(e.t);
      r.occ.push((e.req_prod - e.rsp_prod) >>> 0);
      r.req.push(req);
      r.rsp.push(rsp);
    } else if (e.ev === 'workload') {
      const res = e.result;
      const w: WorkloadPoint = { t: e.t, step: e.step, guest: e.guest, dev: e.dev, kind: res.kind, mbps: res.mbps, seconds: res.seconds, errors: res.errors };
      if (res.kind === 'block') {
        w.iops = res.iops;
        if (num(res.latencyMs?.['50'])) w.p50 = res.latencyMs['50'];
        if (num(res.latencyMs?.['99'])) w.p99 = res.latencyMs['99'];
      }
      workloads.push(w);
    } else if (e.ev === 'guest' && LIFECYCLE_MARKED.has(e.what)) {
      markers.push({ t: e.t, kind: 'lifecycle', label: `${e.guest} ${e.what}` });
    } else if (e.ev === 'fault') {
      markers.push({ t: e.t, kind: 'fault', label: `fault ${e.name} ${e.on ? 'on' : 'off'}` });
    } else if (e.ev === 'step.start' && STEP_MARKED.has(e.kind)) {
      markers.push({ t: e.t, kind: 'step', label: e.label });
    }
  }
  const ringTracks: RingTrack[] = [...rings.values()].map((r) => {
    const keep = thinIndices(r.occ, maxRingPoints);
    const pick = (a: number[]) => keep.map((i) => a[i]);
    return { name: r.name, nrEnts: r.nrEnts, t: pick(r.t), occupancy: pick(r.occ), reqMoved: pick(r.req), rspMoved: pick(r.rsp), samples: r.t.length };
  });
  return {
    t0: Number.isFinite(t0) ? t0 : 0,
    t1: Number.isFinite(t1) ? t1 : 0,
    devices: [...devices.values()],
    rings: ringTracks,
    workloads,
    markers,
    failures: [...failures.map((c) => around(events, c)), ...abortedFocus(events, aborted)],
  };
}

/** An instance whose steps were aborted: the step that failed is the event to look around. */
function abortedFocus(events: readonly TraceEvent[], aborted: InstanceResult['aborted']): FailureFocus[] {
  if (!aborted) return [];
  const failedStep = events.find((e) => e.ev === 'step.end' && e.ok === false);
  const end = events.find((e) => e.ev === 'scenario.end');
  const at = failedStep ?? end;
  const c: CheckResult = { check: 'steps' as CheckResult['check'], verdict: 'fail', message: `${aborted.code}: ${aborted.message}`, ...(at ? { diagnostics: { seq: at.seq, at: at.t } } : {}) };
  return [around(events, c)];
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
  const passingTracks = s.instances.reduce((n, r) => n + (r.verdict === 'pass' ? (ringTracks.get(r.inst)?.size ?? 0) : 0), 0);
  const passingMax = Math.max(MIN_RING_POINTS, Math.min(MAX_RING_POINTS, Math.floor(PASSING_RING_POINT_BUDGET / Math.max(1, passingTracks))));
  const traceGiven = allEvents.length > 0;
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

  const rows: InstanceRow[] = s.instances.map((r) => {
    const ev = byInst.get(r.inst) ?? [];
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
  });
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
