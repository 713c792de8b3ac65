// The timeline of one instance on report.html (html-data.ts builds the page): XenbusState per
// device end, ring occupancy and index movement per queue (thinned, peaks kept), workload results,
// lifecycle and fault markers, and the trace events around each failure.
import type { CheckResult, InstanceResult } from '../model/result';
import type { TraceEvent } from '../model/trace';

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

const AROUND_BEFORE = 12;
const AROUND_AFTER = 8;

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

const STATE_PATH = /^\/local\/domain\/(\d+)\/(device|backend)\/([^/]+)\/(?:(\d+)\/)?([^/]+)\/state$/;

/** Device key and end of a xenstore state path, `device/vbd/51712/state` or `backend/vbd/<domid>/51712/state`. */
function stateEnd(e: TraceEvent & { ev: 'xs' }, guests: Map<number, string>): { key: string; end: 'frontend' | 'backend' } | undefined {
  const m = STATE_PATH.exec(e.path);
  const dom = stateDomid(e.path);
  if (!m || dom === undefined) return undefined;
  const [, , side, type, , id] = m;
  // a domain none of the instance's guests had: another instance's, recorded while a reboot's probe
  // watched every domain of a host several instances share (checks/view.ts drops it likewise)
  const guest = e.guest ?? guests.get(dom);
  if (guest === undefined) return undefined;
  return { key: `${guest} ${type}/${id}`, end: side === 'device' ? 'frontend' : 'backend' };
}

/** The frontend's domid of a xenstore state path (its own home, or its backend's directory). */
function stateDomid(path: string): number | undefined {
  const m = STATE_PATH.exec(path);
  if (!m || (m[2] === 'backend' && m[4] === undefined)) return undefined;
  return Number(m[2] === 'device' ? m[1] : m[4]);
}

/** Keeps first, last and the peak of each bucket, so a thinned track still shows every spike. */
export function thinIndices(values: ArrayLike<number>, max: number): number[] {
  const n = values.length;
  if (n <= max) return Array.from({ length: n }, (_v, i) => i);
  const keep: number[] = [0];
  const buckets = max - 2;
  for (let b = 0; b < buckets; b++) {
    const lo = 1 + Math.floor((b * (n - 2)) / buckets);
    const hi = 1 + Math.floor(((b + 1) * (n - 2)) / buckets);
    let best = lo;
    for (let i = lo + 1; i < hi; i++) if (values[i]! > values[best]!) best = i;
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

/** The timeline of parts whose rings are now thinned (keys in the page's order). */
export function withRings(p: Omit<Timeline, 'rings'>, rings: RingTrack[]): Timeline {
  return { t0: p.t0, t1: p.t1, devices: p.devices, rings, workloads: p.workloads, markers: p.markers, failures: p.failures };
}

/** A ring's samples as recorded, before thinning (html-digest.ts thins them: a passing instance's
 *  only once the run's end says how many points each passing track gets). */
export interface RingSeries {
  name: string;
  nrEnts: number;
  t: ArrayLike<number>;
  occ: ArrayLike<number>;
  req: ArrayLike<number>;
  rsp: ArrayLike<number>;
}

/** A ring sample onto its track: occupancy, and requests and responses counted across index wraps. */
function addRingSample(rings: Map<string, RingAcc>, e: Extract<TraceEvent, { ev: 'ring' }>): void {
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
}

/** The timeline with its ring tracks not yet thinned. */
export function timelineParts(events: readonly TraceEvent[], failures: CheckResult[], aborted: InstanceResult['aborted']): Omit<Timeline, 'rings'> & { rings: RingSeries[] } {
  const devices = new Map<string, DeviceLane>();
  const rings = new Map<string, RingAcc>();
  const workloads: WorkloadPoint[] = [];
  const markers: Marker[] = [];
  // a guest keeps its lane across a migration or restore into a new domain, whose first xenstore
  // writes are recorded before the lifecycle event that names its domid
  const guests = new Map<number, string>();
  for (const e of events) {
    if (e.ev === 'guest') {
      guests.set(e.domid, e.guest);
      if (num(e.detail?.domid)) guests.set(e.detail.domid, e.guest);
    } else if (e.ev === 'xs' && e.guest) {
      const dom = stateDomid(e.path);
      if (dom !== undefined) guests.set(dom, e.guest);
    }
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
      addRingSample(rings, e);
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
  return {
    t0: Number.isFinite(t0) ? t0 : 0,
    t1: Number.isFinite(t1) ? t1 : 0,
    devices: [...devices.values()],
    rings: [...rings.values()].map((r) => ({ name: r.name, nrEnts: r.nrEnts, t: r.t, occ: r.occ, req: r.req, rsp: r.rsp })),
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
