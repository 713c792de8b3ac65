// The probe surfaces of the simulated host: dom0's xenstore (a real dom0 connection; watch
// callbacks get the value as it was at the moment of the change, captured in xenstored itself, so
// no intermediate state is lost) and the rings (sampled from the shared ring memory, with the
// backend's private req_cons and the frontend's private rsp_cons).
import type { GuestRef, RingId, RingIndices, RingView, XenstoreView } from '../../model/host';
import type { DeviceRef } from '../../model/scenario';
import type { XenstoreClient } from '../../xenstore/client';
import type { XenstoreServer } from '../../xenstore/server';
import type { Scheduler } from '../../sim/scheduler';
import { XS_LATENCY_US } from '../../sim/xs-adapter';

const VIEW_TOKEN = 'winpv-view-';

export class SimXenstoreView implements XenstoreView {
  private callbacks = new Map<string, (p: string, v: string | null) => void>();
  private next = 0;

  constructor(
    private readonly client: XenstoreClient,
    private readonly server: XenstoreServer,
    private readonly sched: Scheduler,
  ) {}

  /** The xenstored hook part: events for the view's tokens are answered here with the value at change time. */
  intercept(domid: number, path: string, token: string): 'deliver' | 'drop' | undefined {
    if (domid !== 0 || !token.startsWith(VIEW_TOKEN)) return undefined;
    const cb = this.callbacks.get(token);
    if (!cb) return 'drop';
    const node = path.startsWith('@') ? undefined : this.server.store.get(path);
    const value = node ? node.value.toString('utf8') : null;
    // One delivery event for everything queued at this instant, so the order xenstored fired the
    // events in (a transaction's changes, then later writes) is kept exactly.
    this.queue.push(() => cb(path, value));
    if (!this.flushArmed) {
      this.flushArmed = true;
      this.sched.after(XS_LATENCY_US, () => {
        this.flushArmed = false;
        const q = this.queue;
        this.queue = [];
        for (const fn of q) fn();
      });
    }
    return 'drop';
  }

  private queue: (() => void)[] = [];
  private flushArmed = false;

  read(path: string): Promise<string | null> {
    return this.client.read(path);
  }

  async directory(path: string): Promise<string[]> {
    try {
      return await this.client.directory(path);
    } catch (e) {
      if ((e as { errno?: string }).errno === 'ENOENT' || /ENOENT/.test((e as Error).message)) return [];
      throw e;
    }
  }

  async watch(path: string, onChange: (changedPath: string, value?: string | null) => void): Promise<() => Promise<void>> {
    const token = `${VIEW_TOKEN}${this.next++}`;
    this.callbacks.set(token, onChange);
    const off = await this.client.watchToken(path, token, () => undefined);
    return async () => {
      this.callbacks.delete(token);
      await off().catch(() => undefined);
    };
  }

  write(path: string, value: string): Promise<void> {
    return this.client.write(path, value);
  }

  async rm(path: string): Promise<void> {
    try {
      await this.client.rm(path);
    } catch (e) {
      if (!/ENOENT/.test((e as Error).message)) throw e;
    }
  }
}

/** What the ring view needs from the host: the live rings of a guest. */
interface LiveRing {
  id: RingId;
  mem: Buffer;
  nrEnts: number;
  rspCons: number;
  reqCons?: number;
}

export interface RingSource {
  guestRings(guest: GuestRef): LiveRing[];
  /** The one ring of guestRings(guest) with this id, if live. */
  guestRing(guest: GuestRef, id: RingId): LiveRing | undefined;
  guestByDomid(domid: number): GuestRef | undefined;
  backendStats(guest: GuestRef, dev: DeviceRef): Record<string, number> | null;
  onRingNotify(cb: (domid: number, dev: DeviceRef, queue: number, ring: RingId['ring']) => void): () => void;
}

export class SimRingView implements RingView {
  constructor(private readonly src: RingSource) {}

  async rings(guest: GuestRef): Promise<RingId[]> {
    return this.src.guestRings(guest).map((r) => r.id);
  }

  async sample(guest: GuestRef, ring: RingId): Promise<RingIndices | null> {
    return this.read(guest, ring);
  }

  /** The ring's indices now: ring.h sring header at offsets 0/4/8/12 of the shared page, read from
   *  the shared memory; the private consumers from the two ends. */
  private read(guest: GuestRef, ring: RingId): RingIndices | null {
    const r = this.src.guestRing(guest, ring);
    if (!r) return null;
    return {
      nr_ents: r.nrEnts,
      req_prod: r.mem.readUInt32LE(0),
      req_event: r.mem.readUInt32LE(4),
      rsp_prod: r.mem.readUInt32LE(8),
      rsp_event: r.mem.readUInt32LE(12),
      rsp_cons: r.rspCons,
      ...(r.reqCons !== undefined ? { req_cons: r.reqCons } : {}),
    };
  }

  async backendStats(guest: GuestRef, dev: DeviceRef): Promise<Record<string, number> | null> {
    return this.src.backendStats(guest, dev);
  }

  onNotify(cb: (guest: GuestRef, ring: RingId, now?: RingIndices | null) => void): () => void {
    return this.src.onRingNotify((domid, dev, queue, ring) => {
      const g = this.src.guestByDomid(domid);
      if (!g) return;
      const id = { dev, queue, ring };
      cb(g, id, this.read(g, id));
    });
  }
}
