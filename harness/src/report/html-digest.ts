// report.html's data gathered as the run's events stream (issue 21 item 8): `winpv run` feeds each
// event to a PageDigest as the trace writes it, and tells it each instance's result as the runner
// judges it; the instance's timeline is shaped then and its events let go, so what the page holds
// while the run goes is what the page will show, not the trace. `winpv report` on a trace file feeds
// the file's events the same way (buildPageData), so the two pages cannot differ.
//
// One thing waits for the end: how many points each passing instance's ring tracks get depends on
// how many passing tracks the whole run has (PASSING_RING_POINT_BUDGET). A passing instance's
// samples are held, compact, until the run ends; once the passing tracks are so many that every one
// gets the fewest points (MIN_RING_POINTS), they are thinned as they come.
//
// An instance's events are its section of the trace: an event naming an instance after that instance
// was judged is left out of its timeline, as the runner leaves it out of its verdicts.
//
// A section a worker process ran is shaped there (a PageDigest of its own, `piece`), and the run's
// digest takes the piece (`addPiece`) instead of the events: the timeline comes unthinned and is
// thinned here as the instance is told ended, exactly as if its events had been given.
import type { InstanceResult, RunSummary } from '../model/result';
import type { ReportInput } from '../model/report-input';
import type { TraceEvent } from '../model/trace';
import { baseInstance } from '../model/outcomes';
import { XenbusState, xenbusStateName } from '../model/xenbus';
import { thinIndices, timelineParts, withRings, type DeviceLane, type Points, type RingSeries, type RingTrack, type Timeline } from './html-timeline';
import {
  firstLine, marksOf, MAX_RING_POINTS, MIN_RING_POINTS, missingOfInstance, missingOfRun, passingRingPoints, STATUS_ORDER, statusOf, wellFormed,
  type InstanceFacts, type InstanceRow, type PageData, type RunFacts, type RunMetaLike, type Status,
} from './html-data';

/** What the page keeps of an instance once it has been judged. */
export interface EndedInstance {
  drivers: string[];
  artifacts: InstanceRow['artifacts'];
  facts: InstanceFacts;
  /** Ring tracks of its events. */
  tracks: number;
  timeline?: HeldTimeline;
}

/** A timeline as the digest holds it until the page is written: its series in typed arrays of their
 *  exact size (a few bytes a point, where arrays of pairs took tens), and the rings of a passing
 *  instance still unthinned until the run says how many points they get. */
export interface HeldTimeline {
  parts: Omit<Timeline, 'rings' | 'devices'>;
  devices: { name: string; frontend: Float64Array; backend: Float64Array }[];
  rings: HeldRing[];
  /** Whether the rings are thinned already (else they wait for the passing tracks' share). */
  thinned: boolean;
}

export interface HeldRing {
  name: string;
  nrEnts: number;
  t: Float64Array;
  occ: Uint32Array;
  req: Uint32Array | Float64Array;
  rsp: Uint32Array | Float64Array;
  /** Samples in the trace (before any thinning). */
  samples: number;
}

/** One section's share of the page, shaped where its events are (a worker process): what the run's
 *  digest would have gathered from them (`addPiece` takes it in their place). */
export interface PagePiece {
  inst: string;
  /** Events given, the section's own run facts and its first well-formed event. */
  given: number;
  run: RunFacts;
  first?: { seq: number; t: number };
  driverBuilds: string[];
  osSeen: string[];
  /** The instance as shaped from its events, its timeline unthinned. */
  ended: EndedInstance;
}

/** Unsigned 32-bit values (ring indices, occupancy) fit four bytes; larger totals keep eight. */
const counts = (a: ArrayLike<number>): Uint32Array | Float64Array => {
  for (let i = 0; i < a.length; i++) if (!(a[i]! >= 0 && a[i]! <= 0xffffffff && Number.isInteger(a[i]))) return Float64Array.from(a);
  return Uint32Array.from(a);
};

function holdRing(r: RingSeries, samples: number): HeldRing {
  return { name: r.name, nrEnts: r.nrEnts, t: Float64Array.from(r.t), occ: Uint32Array.from(r.occ), req: counts(r.req), rsp: counts(r.rsp), samples };
}

/** A held track thinned to at most max points (first, last and each bucket's peak: thinIndices). */
function thinHeld(r: HeldRing, max: number): HeldRing {
  const keep = thinIndices(r.occ, max);
  if (keep.length === r.t.length) return r;
  const pick = <A extends Float64Array | Uint32Array>(a: A): A => a.constructor === Uint32Array ? (Uint32Array.from(keep, (i) => a[i]!) as A) : (Float64Array.from(keep, (i) => a[i]!) as A);
  return { name: r.name, nrEnts: r.nrEnts, t: pick(r.t), occ: pick(r.occ), req: pick(r.req), rsp: pick(r.rsp), samples: r.samples };
}

const flat = (p: Points): Float64Array => Float64Array.from(p.flat());
const pairs = (a: Float64Array): Points => {
  const out: Points = [];
  for (let i = 0; i < a.length; i += 2) out.push([a[i]!, a[i + 1]!]);
  return out;
};

/** A timeline as held, its rings unthinned (settle thins them to their share). */
function holdTimeline(parts: ReturnType<typeof timelineParts>): HeldTimeline {
  const { devices, rings, ...rest } = parts;
  return {
    parts: rest,
    devices: devices.map((d) => ({ name: d.name, frontend: flat(d.frontend), backend: flat(d.backend) })),
    rings: rings.map((r) => holdRing(r, r.t.length)),
    thinned: false,
  };
}

/** A held passing timeline thinned to its share of points. */
function settle(x: HeldTimeline | undefined, max: number): void {
  if (!x || x.thinned) return;
  x.rings = x.rings.map((r) => thinHeld(r, max));
  x.thinned = true;
}

/** The page's form of a held timeline (keys in the page's order). */
function pageTimeline(x: HeldTimeline): Timeline {
  const devices: DeviceLane[] = x.devices.map((d) => ({ name: d.name, frontend: pairs(d.frontend), backend: pairs(d.backend) }));
  const rings: RingTrack[] = x.rings.map((r) => ({ name: r.name, nrEnts: r.nrEnts, t: Array.from(r.t), occupancy: Array.from(r.occ), reqMoved: Array.from(r.req), rspMoved: Array.from(r.rsp), samples: r.samples }));
  return withRings({ ...x.parts, devices }, rings);
}

/** report.html's data, one event at a time. */
export class PageDigest {
  private readonly run: RunFacts = { events: 0, malformed: 0, hasRunStart: false, hasRunEnd: false, lost: 0, gaps: [] };
  /** Every event given, readable or not (none: no trace was given). */
  private given = 0;
  private readonly driverBuilds = new Set<string>();
  /** What guest agents published of their OS (used unless the input names the Windows build). */
  private readonly osSeen = new Set<string>();
  /** Events of the instances not judged yet, by `inst`. */
  private readonly open = new Map<string, TraceEvent[]>();
  private readonly ended = new Map<string, EndedInstance>();
  /** Ring tracks of the instances judged as passing so far, and whether they are so many that
   *  every passing track gets MIN_RING_POINTS whatever comes. */
  private passingTracks = 0;
  private settled = false;
  /** The first well-formed event (a worker's digest says where its section starts). */
  private first?: { seq: number; t: number };
  /** Instances shaped by a worker process (addPiece), waiting to be told ended. */
  private readonly shaped = new Map<string, EndedInstance>();

  /** `marks` (a results history's) must be known before the instances end: they decide statuses. */
  constructor(private readonly marks: Pick<ReportInput, 'marks'> = {}) {}

  add(e: TraceEvent): void {
    this.given++;
    if (!wellFormed(e)) {
      this.run.malformed++;
      return;
    }
    const f = this.run;
    if (f.last) {
      const d = e.seq - f.last.seq;
      if (d > 1) {
        f.lost += d - 1;
        if (f.gaps.length < 5) f.gaps.push(d === 2 ? `${f.last.seq + 1}` : `${f.last.seq + 1}-${e.seq - 1}`);
      }
    }
    f.events++;
    f.last = { seq: e.seq, t: e.t };
    this.first ??= f.last;
    if (e.ev === 'run.start') f.hasRunStart = true;
    else if (e.ev === 'run.end') f.hasRunEnd = true;
    else if (e.ev === 'drivers') {
      if (e.expected?.version) this.driverBuilds.add(e.expected.version);
      else for (const b of e.bound) this.driverBuilds.add(b.version);
    } else if (e.ev === 'xs' && e.guest && e.value && /\/data\/os_(?:name|uname)$/.test(e.path)) {
      // what a guest agent of the run's guests publishes of its OS (the XenServer guest agent writes
      // data/os_*); an unnamed key is a domain a reboot's probe saw on the host, maybe another run's
      this.osSeen.add(e.value.split('|')[0]!);
    }
    const inst = (e as { inst?: unknown }).inst;
    if (typeof inst !== 'string' || this.ended.has(inst)) return;
    let l = this.open.get(inst);
    if (!l) this.open.set(inst, (l = []));
    l.push(e);
  }

  /** An instance was judged (its retries folded in): its row is shaped from its events, which are let go with its retries'. */
  instanceEnded(r: InstanceResult): void {
    this.end(r);
    for (const k of [...this.open.keys()]) if (baseInstance(k) === r.inst) this.open.delete(k);
  }

  /** The page, once the run has ended: `s` is the run's summary; instances not told as ended are shaped now. */
  page(s: RunSummary, meta: RunMetaLike, input: Omit<ReportInput, 'marks'> = {}): PageData {
    const input2: ReportInput = { ...input, ...this.marks };
    for (const r of s.instances) if (!this.ended.has(r.inst)) this.end(r);
    const passingTracks = s.instances.reduce((n, r) => n + (r.verdict === 'pass' ? (this.ended.get(r.inst)?.tracks ?? 0) : 0), 0);
    const passingMax = passingRingPoints(passingTracks);
    const traceGiven = this.given > 0;
    const rows: InstanceRow[] = s.instances.map((r) => this.row(r, s, input2, traceGiven, passingMax));
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
    const driverBuilds = new Set([...(input.builds?.driver ? [input.builds.driver] : []), ...this.driverBuilds]);
    const windowsBuilds = input.builds?.windows ? [input.builds.windows] : this.osSeen;
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
      missing: missingOfRun(this.run),
      facets: { tags: sorted(rows.flatMap((r) => r.tags)), drivers: sorted(rows.flatMap((r) => r.drivers)), hosts: sorted(rows.map((r) => r.host)) },
      instances: ordered,
      trends: input.trends ?? [],
      stateNames: Object.values(XenbusState).map((n) => xenbusStateName(n)),
    };
  }

  /** Of a worker process's digest fed one section: instance r's piece (r judged from the section). */
  piece(r: InstanceResult): PagePiece {
    return {
      inst: r.inst, given: this.given, run: this.run, ...(this.first ? { first: this.first } : {}),
      driverBuilds: [...this.driverBuilds], osSeen: [...this.osSeen], ended: this.shape(r),
    };
  }

  /** A section shaped by a worker process, in place of its events (given in trace order, as they would be). */
  addPiece(p: PagePiece): void {
    this.given += p.given;
    const f = this.run;
    const s = p.run;
    f.malformed += s.malformed;
    if (f.last && p.first) {
      const d = p.first.seq - f.last.seq;
      if (d > 1) {
        f.lost += d - 1;
        if (f.gaps.length < 5) f.gaps.push(d === 2 ? `${f.last.seq + 1}` : `${f.last.seq + 1}-${p.first.seq - 1}`);
      }
    }
    f.events += s.events;
    f.lost += s.lost;
    for (const g of s.gaps) if (f.gaps.length < 5) f.gaps.push(g);
    if (s.last) f.last = s.last;
    f.hasRunStart ||= s.hasRunStart;
    f.hasRunEnd ||= s.hasRunEnd;
    for (const b of p.driverBuilds) this.driverBuilds.add(b);
    for (const o of p.osSeen) this.osSeen.add(o);
    if (!this.ended.has(p.inst)) this.shaped.set(p.inst, p.ended);
  }

  /** An instance judged: shaped (from its events, or a worker's piece), its rings thinned to their share, kept. */
  private end(r: InstanceResult): void {
    if (this.ended.has(r.inst)) return;
    const out = this.shaped.get(r.inst) ?? this.shape(r);
    this.shaped.delete(r.inst);
    if (out.timeline) {
      const passed = statusOf(r, marksOf(r, this.marks)) === 'passed';
      // a passing instance's rings wait for their share, unless the share is already the fewest points
      const share = passed ? (this.settled ? MIN_RING_POINTS : undefined) : MAX_RING_POINTS;
      if (share !== undefined) settle(out.timeline, share);
    }
    this.ended.set(r.inst, out);
    if (r.verdict === 'pass' && !this.settled) {
      this.passingTracks += out.tracks;
      // the fewest points per track is where the passing tracks' share stays from now on
      if (passingRingPoints(this.passingTracks) === MIN_RING_POINTS) {
        this.settled = true;
        for (const x of this.ended.values()) settle(x.timeline, MIN_RING_POINTS);
      }
    }
  }

  /** Shapes an instance from its events (its timeline with the failures of r, unthinned) and lets them go. */
  private shape(r: InstanceResult): EndedInstance {
    const ev = this.open.get(r.inst) ?? [];
    this.open.delete(r.inst);
    const start = ev.find((e): e is TraceEvent & { ev: 'scenario.start' } => e.ev === 'scenario.start');
    const tracks = new Set<string>();
    for (const e of ev) if (e.ev === 'ring') tracks.add(`${e.guest} ${e.dev} ${e.queue} ${e.ring}`);
    const out: EndedInstance = {
      drivers: start && Array.isArray(start.drivers) ? start.drivers : [],
      artifacts: ev.filter((e): e is TraceEvent & { ev: 'artifact' } => e.ev === 'artifact').map((a) => ({ guest: a.guest, kind: a.kind, path: a.path, bytes: a.bytes, sha256: a.sha256, source: a.source, missing: a.missing })),
      facts: { events: ev.length, hasStart: !!start, hasEnd: ev.some((e) => e.ev === 'scenario.end'), lastT: ev.length ? ev[ev.length - 1]!.t : 0 },
      tracks: tracks.size,
    };
    if (ev.length && r.verdict !== 'skip') out.timeline = holdTimeline(timelineParts(ev, r.checks.filter((c) => c.verdict === 'fail'), r.aborted));
    return out;
  }

  private row(r: InstanceResult, s: RunSummary, input: ReportInput, traceGiven: boolean, passingMax: number): InstanceRow {
    const x = this.ended.get(r.inst)!;
    const marks = marksOf(r, input);
    const failed = r.checks.filter((c) => c.verdict === 'fail');
    const row: InstanceRow = {
      id: r.inst,
      scenario: r.scenario,
      file: r.file,
      status: statusOf(r, marks),
      tags: r.tags,
      drivers: x.drivers,
      host: s.host.label,
      durationMs: r.durationMs,
      params: r.params,
      summary: firstLine(r),
      checks: [...failed, ...r.checks.filter((c) => c.verdict !== 'fail')],
      artifacts: x.artifacts,
      missing: missingOfInstance(r, x.facts, traceGiven),
    };
    if (r.aborted) row.aborted = r.aborted;
    if (r.verdict === 'skip' && r.skipReason) row.summary = `skipped: ${r.skipReason}`;
    if (marks) row.marks = marks;
    settle(x.timeline, passingMax);
    if (x.timeline) row.timeline = pageTimeline(x.timeline);
    return row;
  }
}

const sorted = (s: Iterable<string>) => [...new Set(s)].sort((a, b) => a.localeCompare(b));

/** The page of a run from its whole trace (`winpv report`, `report merge`, tests): the same digest fed all at once. */
export function buildPageData(s: RunSummary, allEvents: readonly TraceEvent[], meta: RunMetaLike, input: ReportInput = {}): PageData {
  const d = new PageDigest({ ...(input.marks ? { marks: input.marks } : {}) });
  for (const e of allEvents) d.add(e);
  return d.page(s, meta, input);
}
