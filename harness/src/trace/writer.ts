// The trace writer: the TraceSink every probe, host and the runner emits into. It stamps `seq`
// (consecutive from 0) and `t` (host clock milliseconds), appends one JSON line per event to the
// trace file as the run goes (so a crash leaves everything up to the crash). `close()` writes
// `run.end`; a trace without it is truncated. A run's trace keeps nothing in memory (`keep: false`:
// the runner judges each instance from its own section as it ends, and what needs the whole run
// afterwards reads trace.jsonl back); an in-memory trace (tests, `winpv check`) keeps its events.
//
// Lines are written in batches of FLUSH_BYTES: one write(2) per event was the simulator's largest
// single cost (a sixth of the catalogue's wall time in a --cpu-prof profile). What a batch holds
// is still written when the process exits, however it exits short of SIGKILL (an uncaught
// exception, process.exit), so a crashed run leaves its trace up to the crash.
//
// A section another process wrote (a simulator worker: runner/pool.ts, cli/sim-workers.ts) arrives
// as lines already stamped for their place here (`appendWritten`), with what the run's digests need
// of its events: the writer appends the text and moves its seq and time on, parsing nothing, and
// hands the section to `onWritten` (a writer without one parses the lines for `onEvent`).
//
// Consecutive ring.io events of one ring and direction at one instant are written as one event
// (their ids joined in order): the writer holds a ring.io event open until an event that cannot
// join it arrives (or the events are read, or the trace flushed), so nothing is reordered. They were
// two thirds of a simulator trace, one per request id.
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RingIoEvent, RunEndEvent, TraceEvent, TraceEventInput, TraceSink, WrittenSection } from '../model/trace';

export interface TraceWriterOptions {
  /** File to append JSONL to; omit for an in-memory trace (tests, `winpv check`). */
  file?: string;
  /** Host time in ms. Until the host is open the writer stamps 0 (or the last time seen). */
  clock?: () => number;
  /** Called with each stamped event (live reporters, progress, a worker's routing into sections). */
  onEvent?: (e: TraceEvent) => void;
  /** Keep every event in `events` (default true). A run streams with false: its memory does not
   *  grow with the trace, and reading `events` is an error rather than an empty answer. */
  keep?: boolean;
  /** A section written elsewhere (appendWritten) goes here, whole, instead of event by event to
   *  `onEvent`: its digests' pieces stand for its events. */
  onWritten?: (w: WrittenSection) => void;
}

/** The time an event stamped at host time `at` gets in a trace whose last time is `lastT`: rounded
 *  to the microsecond, never running backwards (even if a host clock is replaced: reopen after a
 *  drop). A worker process that lays out a section for a place in the run's trace uses it too. */
export function layTime(lastT: number, at: number): number {
  return Math.max(lastT, Math.round(at * 1000) / 1000);
}

/** Bytes of JSON lines held before they are written. */
const FLUSH_BYTES = 64 * 1024;

/** Of events that arrived as JSON lines another writer wrote (a simulator worker process's), the
 *  line after their `t`: such an event is written as it came, seq and t restamped. */
const jsonAfterT = new WeakMap<TraceEvent, string>();

/** An event from a line another writer wrote (`{"seq":S,"t":T,...}`), remembered so that this writer
 *  writes the same bytes, restamped, instead of turning it into JSON a second time. Only adopt()
 *  may change such an event (its seq and t): any other change would not reach the file. */
export function eventFromJson(line: string): TraceEvent {
  const e = JSON.parse(line) as TraceEvent;
  const head = `{"seq":${e.seq},"t":${e.t}`;
  if (line.startsWith(head) && line[head.length] === ',') jsonAfterT.set(e, line.slice(head.length));
  return e;
}

export class TraceWriter implements TraceSink {
  private fd: number | undefined;
  private pending: string[] = [];
  private pendingBytes = 0;
  private readonly flushAtExit = () => this.flush();
  private seq = 0;
  private lastT = 0;
  private closed = false;
  private clock: (() => number) | undefined;
  private readonly kept: TraceEvent[] | undefined;
  /** The ring.io event still open to more ids of its ring (stamped, not yet written), and whether
   *  its id arrays are the writer's own copies yet. */
  private held: RingIoEvent | undefined;
  private heldOwned = false;

  constructor(private readonly opts: TraceWriterOptions = {}) {
    this.clock = opts.clock;
    this.kept = opts.keep === false ? undefined : [];
    if (opts.file) {
      mkdirSync(dirname(opts.file), { recursive: true });
      this.fd = openSync(opts.file, 'w');
      process.on('exit', this.flushAtExit);
    }
  }

  /** Every event written so far; only for a writer that keeps them (not a streamed run's trace). */
  get events(): TraceEvent[] {
    if (!this.kept) throw new Error(`this trace${this.opts.file ? ` (${this.opts.file})` : ''} is streamed and keeps no events in memory: read it back instead`);
    this.seal();
    return this.kept;
  }

  /** The host clock becomes known after host.open(). */
  setClock(clock: () => number): void {
    this.clock = clock;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  emit(input: TraceEventInput): void {
    this.emitAt(input, this.clock?.() ?? this.lastT);
  }

  /** Host time of the last event written (where the next section of a parallel run starts). */
  get lastTime(): number {
    return this.lastT;
  }

  /** Writes an event stamped at host time `at` rather than the clock's now: a parallel run's workers
   *  record on their own clocks and their instance sections are laid end to end here (runner/pool.ts). */
  emitAt(input: TraceEventInput, at: number): void {
    if (this.closed) return; // late events of a torn-down host are dropped, not written after run.end
    this.write({ seq: 0, t: 0, ...input } as TraceEvent, at, input.ev === 'ring.io');
  }

  /** The seq the next event gets (where a section written elsewhere starts). */
  get nextSeq(): number {
    return this.seq;
  }

  /** Appends a section another process laid out from nextSeq and lastTime (its lines stamped as
   *  adopt() would have stamped its events), without parsing it unless this writer keeps events
   *  or has no onWritten to hand it to. */
  appendWritten(w: WrittenSection): void {
    if (this.closed) return;
    this.seal();
    if (this.kept || !this.opts.onWritten) {
      // an in-memory trace (tests) or a plain listener: the events themselves
      for (const line of w.lines.split('\n')) {
        if (!line) continue;
        const e = eventFromJson(line);
        this.seq = e.seq + 1;
        this.lastT = e.t;
        this.deliver(e);
      }
      return;
    }
    this.seq += w.count;
    if (w.count) this.lastT = w.lastT;
    if (this.fd !== undefined && w.lines) {
      this.pending.push(w.lines);
      this.pendingBytes += w.lines.length;
      if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    }
    this.opts.onWritten(w);
  }

  /** Takes over an event another writer stamped (a worker's), restamping its seq and time in place
   *  (its keys keep their order, so its line is what the worker's writer would have written). */
  adopt(e: TraceEvent, at: number): void {
    if (this.closed) return;
    this.write(e, at, false);
  }

  /** Stamps and writes an event; a ring.io one (`joinable`) joins the open one of its ring and
   *  instant or is held open itself. */
  private write(e: TraceEvent, at: number, joinable: boolean): void {
    const t = layTime(this.lastT, at);
    if (joinable && this.join(e as RingIoEvent, t)) return;
    this.seal();
    this.lastT = t;
    e.seq = this.seq++;
    e.t = t;
    if (joinable) {
      this.held = e as RingIoEvent;
      this.heldOwned = false;
      return;
    }
    this.deliver(e);
  }

  /** Adds a ring.io event's ids to the open one when it is the same ring, direction and instant. */
  private join(e: RingIoEvent, t: number): boolean {
    const h = this.held;
    if (!h || h.t !== t || h.dir !== e.dir || h.ring !== e.ring || h.queue !== e.queue || h.dev !== e.dev || h.guest !== e.guest || h.inst !== e.inst) return false;
    if ((h.ops === undefined) !== (e.ops === undefined) || (h.statuses === undefined) !== (e.statuses === undefined)) return false;
    if (!this.heldOwned) {
      // the first event's arrays may be its emitter's: grow copies
      h.ids = h.ids.slice();
      if (h.ops) h.ops = h.ops.slice();
      if (h.statuses) h.statuses = h.statuses.slice();
      this.heldOwned = true;
    }
    for (const id of e.ids) h.ids.push(id);
    if (h.ops) for (const op of e.ops!) h.ops.push(op);
    if (h.statuses) for (const st of e.statuses!) h.statuses.push(st);
    return true;
  }

  /** Writes the open ring.io event, if any. */
  private seal(): void {
    const h = this.held;
    if (!h) return;
    this.held = undefined;
    this.deliver(h);
  }

  private deliver(e: TraceEvent): void {
    this.kept?.push(e);
    if (this.fd !== undefined) {
      const after = jsonAfterT.get(e);
      const line = (after === undefined ? JSON.stringify(e) : `{"seq":${e.seq},"t":${e.t}${after}`) + '\n';
      this.pending.push(line);
      this.pendingBytes += line.length;
      if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    }
    this.opts.onEvent?.(e);
  }

  /** Writes run.end and closes the file. Idempotent. */
  close(end: Omit<RunEndEvent, 'seq' | 't' | 'ev'>): void {
    if (this.closed) return;
    this.emit({ ev: 'run.end', ...end });
    this.closed = true;
    if (this.fd !== undefined) {
      this.flush();
      fsyncSync(this.fd);
      this.release();
    }
  }

  /** Writes the lines held so far (at exit, close, and every FLUSH_BYTES), the open ring.io event too. */
  flush(): void {
    this.seal();
    if (this.fd === undefined || this.pending.length === 0) return;
    writeSync(this.fd, this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
  }

  private release(): void {
    if (this.fd === undefined) return;
    process.removeListener('exit', this.flushAtExit);
    closeSync(this.fd);
    this.fd = undefined;
  }

  /** Closes the file without run.end: what a crash leaves (tests of truncation use it). */
  abandon(): void {
    this.closed = true;
    this.flush();
    this.release();
  }
}
