// The ring probe: samples every ring of the attached guests (req_prod, req_event, rsp_prod,
// rsp_event and the private consumers where visible) periodically through the host clock, and at
// every event-channel notification the host can see; per queue. A final sample of each ring, and
// the backends' counters where the host can read them, are taken when the probe stops. Pure layer: time only through host.clock, data only through host.rings.
import type { GuestRef, HostClock, RingId, RingIndices, RingView } from '../model/host';
import type { RingSampleEvent, TraceSink } from '../model/trace';

export interface RingProbeOptions {
  /** Period of the periodic samples in host ms (must be well below ring-progress's interval). */
  periodMs: number;
  /** Records nothing and asks the host nothing (`npm run bench -- lab` measures what the probes cost). */
  off?: boolean;
}

const key = (g: string, r: RingId) => `${g} ${r.dev} q${r.queue} ${r.ring}`;
const same = (a: RingIndices, b: RingIndices) =>
  a.req_prod === b.req_prod && a.rsp_prod === b.rsp_prod && a.req_event === b.req_event && a.rsp_event === b.rsp_event && a.req_cons === b.req_cons && a.rsp_cons === b.rsp_cons && a.nr_ents === b.nr_ents;

export class RingProbe {
  private readonly guests = new Map<string, GuestRef>();
  private readonly last = new Map<string, RingIndices>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private offNotify: (() => void) | undefined;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly host: { clock: HostClock; rings: RingView },
    private readonly sink: TraceSink,
    private readonly inst: string,
    private readonly opts: RingProbeOptions = { periodMs: 200 },
  ) {}

  /** Adds a guest, or replaces it under its new domid after a migration or restore. */
  attach(guest: GuestRef): void {
    this.guests.set(guest.name, guest);
  }

  start(): void {
    if (this.loop || this.opts.off) return;
    this.offNotify = this.host.rings.onNotify?.((guest, ring, now) => {
      const g = this.guests.get(guest.name);
      if (!g || g.domid !== guest.domid || this.stopped) return;
      if (now !== undefined) this.record(g, ring, now, 'notify');
      else this.track(this.sampleOne(g, ring, 'notify'));
    });
    this.loop = this.periodic();
  }

  /** Stops sampling and takes the final sample of every ring. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.opts.off) return;
    this.offNotify?.();
    await Promise.allSettled([...this.inflight]);
    await this.sampleAll('final').catch(() => undefined);
    await this.backendCounters().catch(() => undefined);
    // the periodic loop ends at its next wake-up; do not wait for it (its sleep may be long)
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    p.catch(() => undefined).finally(() => this.inflight.delete(p));
  }

  private async periodic(): Promise<void> {
    while (!this.stopped) {
      await this.host.clock.sleep(this.opts.periodMs);
      if (this.stopped) break;
      await this.sampleAll('periodic').catch(() => undefined);
    }
  }

  private async sampleAll(why: 'periodic' | 'final'): Promise<void> {
    for (const g of [...this.guests.values()]) {
      const rings = await this.host.rings.rings(g);
      for (const r of rings) await this.sampleOne(g, r, why, true);
    }
  }

  /** The backends' own counters (blkback statistics/, netback totals) once at the end, where the host has them. */
  private async backendCounters(): Promise<void> {
    const stats = this.host.rings.backendStats?.bind(this.host.rings);
    if (!stats) return;
    for (const g of [...this.guests.values()]) {
      const devs = [...new Set((await this.host.rings.rings(g)).map((r) => r.dev))];
      for (const dev of devs) {
        const s = await stats(g, dev);
        if (s) this.sink.emit({ ev: 'backend.stats', inst: this.inst, guest: g.name, dev, stats: s });
      }
    }
  }

  private async sampleOne(g: GuestRef, r: RingId, why: 'periodic' | 'notify' | 'final', force = false): Promise<void> {
    this.record(g, r, await this.host.rings.sample(g, r), why, force);
  }

  private record(g: GuestRef, r: RingId, s: RingIndices | null, why: 'periodic' | 'notify' | 'final', force = false): void {
    if (!s || (this.stopped && why !== 'final')) return;
    const k = key(g.name, r);
    const prev = this.last.get(k);
    // notification samples that show nothing new add no information; periodic ones mark time
    if (!force && prev && same(prev, s)) return;
    this.last.set(k, s);
    // the optional fields assigned in the trace's key order (a spread per field made a throwaway
    // object per sample, and there are tens of thousands of samples in a simulated catalogue)
    const e: Omit<RingSampleEvent, 'seq' | 't'> = {
      ev: 'ring', inst: this.inst, guest: g.name, dev: r.dev, queue: r.queue, ring: r.ring,
      nr_ents: s.nr_ents, req_prod: s.req_prod, req_event: s.req_event, rsp_prod: s.rsp_prod, rsp_event: s.rsp_event,
    } as Omit<RingSampleEvent, 'seq' | 't'>;
    if (s.req_cons !== undefined) e.req_cons = s.req_cons;
    if (s.rsp_cons !== undefined) e.rsp_cons = s.rsp_cons;
    if (s.reread) e.reread = s.reread;
    e.why = why;
    this.sink.emit(e);
  }
}
