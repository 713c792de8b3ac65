// Virtual time and the seeded scheduler. Every activity of the simulated host (backends consuming
// rings, frontends reacting to watches, event-channel upcalls, workloads, injected faults, xenstore
// replies) is an event at a virtual time. The pump runs on setImmediate, i.e. after the promise
// continuations of the previous event have drained, takes the earliest event (ties broken by a
// number drawn from the seeded PRNG when the event was scheduled, so the seed picks the
// interleaving) and advances the clock to it. A turn of the event loop per event was a tenth of the
// catalogue's CPU (an epoll_wait and the timers phase for each of ~150,000 events), so the pump runs
// a burst of events per turn: after each event it queues a microtask that queues the next event as a
// process.nextTick, which Node runs only once the microtask queue is empty, i.e. once every
// continuation the event woke has run, the same point setImmediate reaches. The burst ends after
// BURST events so real I/O (the trace file, signals) still gets its turns. Nothing ever waits in real time: sleeping 60 virtual
// seconds costs only the events inside them. The same seed and inputs give the same order of
// events, hence a byte-identical trace. Date.now, Math.random and setTimeout are never used here.
import { Rng } from './random';
import { afterMicrotasks } from '../util/after-microtasks';

/** Events run in one turn of the event loop before real I/O gets its turn. */
const BURST = 256;

interface Entry {
  at: number; // virtual microseconds
  tie: number; // seeded tie-breaker
  seq: number; // FIFO among equal (at, tie)
  fn: () => void;
  cancelled: boolean;
}

export interface Timer {
  cancel(): void;
}

export class Scheduler {
  /** Virtual time in microseconds since the host was opened. */
  private nowUs = 0;
  private heap: Entry[] = [];
  private seq = 0;
  private armed = false;
  private stopped = false;
  /** Events run in this turn of the event loop. */
  private burst = 0;
  /** Events run so far (for the bench and for tests). */
  executed = 0;
  readonly rng: Rng;
  /** Called when an event throws: the simulator's bugs must not vanish silently. */
  onError: (e: unknown) => void = (e) => {
    throw e;
  };

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  /** Milliseconds since open (HostClock.now). */
  now(): number {
    return this.nowUs / 1000;
  }

  nowMicros(): number {
    return this.nowUs;
  }

  /** Runs fn after `delayUs` virtual microseconds (0 = as soon as the seeded order allows). */
  after(delayUs: number, fn: () => void): Timer {
    return this.atMicros(this.nowUs + Math.max(0, Math.round(delayUs)), fn);
  }

  atMicros(at: number, fn: () => void): Timer {
    const e: Entry = { at, tie: this.rng.u32(), seq: this.seq++, fn, cancelled: false };
    this.push(e);
    this.arm();
    return { cancel: () => void (e.cancelled = true) };
  }

  /** HostClock.sleep: resolves when virtual time reaches now + ms. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms * 1000, resolve));
  }

  private holds = 0;

  /**
   * Runs real I/O (reading a driver bundle from disk) with virtual time stopped, so how long the
   * disk takes can never change what the simulation does: determinism survives real waits.
   */
  async holding<T>(p: () => Promise<T>): Promise<T> {
    this.holds++;
    try {
      return await p();
    } finally {
      this.holds--;
      if (this.holds === 0 && this.heap.length > 0) this.arm();
    }
  }

  /** Stops the pump for good (host closed); pending events are dropped. */
  stop(): void {
    this.stopped = true;
    this.heap = [];
  }

  pending(): number {
    return this.heap.length;
  }

  private arm(): void {
    if (this.armed || this.stopped) return;
    this.armed = true;
    setImmediate(this.turn);
  }

  /** A turn of the event loop: a new burst. */
  private readonly turn = (): void => {
    this.burst = 0;
    this.pump();
  };

  private readonly pumpNext = (): void => this.pump();

  private pump(): void {
    this.armed = false;
    if (this.stopped || this.holds > 0) return;
    // One event per turn of the event loop, so the microtasks an event schedules (promise
    // continuations of whoever it woke) run before the next event, exactly in order.
    let e = this.pop();
    while (e && e.cancelled) e = this.pop();
    if (!e) return;
    this.nowUs = e.at;
    this.executed++;
    try {
      e.fn();
    } catch (err) {
      this.onError(err);
    }
    if (this.heap.length === 0) return;
    if (++this.burst < BURST) {
      this.armed = true;
      afterMicrotasks(this.pumpNext);
    } else this.arm();
  }

  private less(x: Entry, y: Entry): boolean {
    if (x.at !== y.at) return x.at < y.at;
    if (x.tie !== y.tie) return x.tie < y.tie;
    return x.seq < y.seq;
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
