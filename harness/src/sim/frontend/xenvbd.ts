// The xenvbd model: a blkif frontend whose ring geometry and features come from the xenvbd spec,
// negotiated against the backend's keys (ring-page-order capped by max-ring-page-order, queues by
// multi-queue-max-queues, persistent grants and indirect segments only when both sides offer them).
import * as blk from '../../abi/blkif';
import { idxAdd } from '../../abi/ring';
import type { DriverSpec } from '../../model/spec';
import type { VbdShape } from '../../model/scenario';
import type { Domain } from '../hypervisor';
import { guestKeyWrites, ringOf } from '../spec-model';
import { allocPort, FrontendRing } from './front-ring';
import { XenbusFrontend } from './xenbus-frontend';
import { dropFeature, syncCacheOp, type DiskFeatures } from './sync-cache';

export type BlkOp = 'read' | 'write' | 'flush' | 'discard';

export interface BlkIo {
  op: BlkOp;
  sector: number;
  nsect: number;
  /** Write source or read destination, nsect * 512 bytes. */
  data?: Buffer;
}

export interface BlkIoResult {
  status: number;
  latencyUs: number;
}

/** Storport's default per-request timeout; after it the miniport polls the ring and kicks the backend. */
const REQUEST_TIMEOUT_US = 30_000_000;

interface Page {
  gfn: number;
  buf: Buffer;
  /** Persistent grant (kept across requests) when negotiated. */
  gref?: number;
}

interface Pending {
  id: number;
  op: number;
  t0: number;
  pages: Page[];
  grefs: number[];
  done: (status: number) => void;
}

interface Queue {
  ring: FrontendRing;
  pending: Map<number, Pending>;
  slotWaiters: (() => void)[];
}

/**
 * The SCSI target id xenvbd gives a vbd device id (win-xenvbd src/xenvbd/target.c __ParseVbd): xvd and sd
 * disks by their disk number, extended xvd ids by bits 8..19, IDE hd majors two targets each; -1 for a
 * device id it does not know (the real driver then refuses the target).
 */
export function xenvbdTargetId(devid: number): number {
  if (devid & (1 << 28)) return (devid & ((1 << 20) - 1)) >> 8;
  const hd: Record<number, number> = { 3: 0, 22: 2, 33: 4, 34: 6, 56: 8, 57: 10, 88: 12, 89: 14 };
  const major = devid >> 8;
  if (major === 202 || major === 8) return (devid & 0xf0) >> 4;
  if (major in hd) return ((devid & 0xc0) >> 6) + hd[major];
  return -1;
}

export class Xenvbd extends XenbusFrontend {
  private queues: Queue[] = [];
  private pool: Page[] = [];
  private nextId = 1;
  private rr = 0;
  persistent = false;
  indirectSegs = 0;
  order = 0;
  sectors = 0;
  private lastProgress = 0;
  private watchdog = false;
  /** Requests submitted while not connected wait here (suspend, reconnect). */
  private parked: (() => void)[] = [];
  stats = { requests: 0, responses: 0, unknownIds: 0, errors: 0 };
  /**
   * Time dilation of the running workload (windows/diskspd.ts). The storport timeouts deliberately
   * do NOT stretch with it: a stuck ring must cost minutes of virtual time, not hours, so a request
   * whose dilated service time exceeds the timeout is failed (an injected latency spike longer than
   * 60 s / dilation shows up as an I/O error rather than as latency).
   */
  timeDilation = 1;

  constructor(dom: Domain, spec: DriverSpec, devid: number, readonly shape: VbdShape, readonly vcpus = 1) {
    super(dom, spec, 'vbd', devid);
  }

  /** frontend.c FrontendPrepare: data/scsi/target/<TargetId>/ keys, in the spec's order (the device-usage
   *  flags, then frontend and device, the vbd's device id), outside any transaction; target.c __ParseVbd
   *  gives the target id. */
  protected override async prepare(): Promise<void> {
    const writes = guestKeyWrites(this.spec, 'data/scsi/target/<N>/', { N: String(xenvbdTargetId(this.devid)) }, { frontend: this.fePath, device: String(this.devid) });
    for (const [k, v] of writes) await this.dom.xs.write(`${this.dom.home}/${k}`, v);
  }

  protected async setupRings(feature: (k: string) => Promise<string | null>): Promise<Record<string, string>> {
    const ring = ringOf(this.spec);
    const num = async (k: string) => {
      const v = await feature(k);
      return v !== null && /^\d+$/.test(v) ? Number(v) : undefined;
    };
    // ring.c RingConnect: order 0 when the backend has no max-ring-page-order, else the backend's capped by
    // the registry max-ring-page-order (itself capped at the driver's own maximum).
    const backendOrder = await num('max-ring-page-order');
    const regOrder = this.shape.ringPageOrder ?? this.regDword('max-ring-page-order');
    const cap = Math.min(regOrder ?? ring.maxRingPageOrder, ring.maxRingPageOrder);
    this.order = backendOrder === undefined ? 0 : Math.max(0, Math.min(backendOrder, cap));
    // driver.c DriverGetMaxQueues + frontend.c FrontendSetNumQueues: min(vCPUs, registry
    // multi-queue-max-queues, backend's multi-queue-max-queues or 1 when it advertises none).
    const regQueues = this.shape.queues ?? this.regDword('multi-queue-max-queues');
    const maxQueues = Math.max(1, regQueues !== undefined && regQueues < this.vcpus ? regQueues : this.vcpus);
    const nq = ring.multiQueue ? Math.max(1, Math.min(maxQueues, ring.maxQueues ?? maxQueues, (await num('multi-queue-max-queues')) ?? 1)) : 1;
    this.persistent = ring.persistentGrants && (await feature('feature-persistent')) === '1';
    this.indirectSegs = Math.min(ring.indirectSegments ?? 0, (await num('feature-max-indirect-segments')) ?? 0);
    this.sectors = (await num('sectors')) ?? 0;
    const keys: Record<string, string> = {};
    const backendDomid = Number((await this.dom.xs.read(`${this.fePath}/backend-id`)) ?? '0');
    for (let q = 0; q < nq; q++) {
      const queue = { pending: new Map(), slotWaiters: [] } as unknown as Queue;
      const port = allocPort(this.dom, backendDomid, () => this.onEvent(queue));
      queue.ring = new FrontendRing(this.dom, this.dev, q, 'blk', this.order, blk.BLKIF_ENTRY_SIZE, backendDomid, port);
      this.queues.push(queue);
      const prefix = nq === 1 ? '' : `queue-${q}/`;
      if (this.order === 0) keys[`${prefix}ring-ref`] = String(queue.ring.refs[0]);
      else queue.ring.refs.forEach((r, i) => (keys[`${prefix}ring-ref${i}`] = String(r)));
      keys[`${prefix}event-channel`] = String(port);
    }
    // ring.c RingStoreWrite: multi-queue-num-queues always, ring-page-order only when not 0; the fixed keys
    // (protocol, the feature keys) and the order come from the spec (XenbusFrontend.connect).
    keys['multi-queue-num-queues'] = String(nq);
    if (this.order !== 0) keys['ring-page-order'] = String(this.order);
    keys['target-id'] = String(xenvbdTargetId(this.devid));
    return keys;
  }

  diskFeatures: DiskFeatures = { barrier: false, flushCache: false, discard: false };

  protected override async backendConnected(): Promise<void> {
    // read together: one round trip of virtual time, as the sectors read alone took before
    const [sectors, barrier, flushCache, discard] = await Promise.all([
      this.readBackendInt('sectors'), this.backendFeature('feature-barrier'), this.backendFeature('feature-flush-cache'), this.backendFeature('feature-discard'),
    ]);
    this.sectors = sectors ?? 0;
    this.diskFeatures = { barrier: barrier === '1', flushCache: flushCache === '1', discard: discard === '1' };
  }

  /** win-xenvbd pdo.c PdoSyncCache / PdoUnmap: a cache flush or UNMAP the backend does not offer is
   *  completed successfully in the guest ("not supported, suppressing") and never reaches the ring. */
  private suppressed(op: BlkOp): boolean {
    if (op === 'flush') return syncCacheOp(this.diskFeatures, this.faults.flushUnadvertised) === undefined;
    if (op === 'discard') return !this.diskFeatures.discard;
    return false;
  }

  protected started(): void {
    const run = this.parked;
    this.parked = [];
    for (const fn of run) fn();
  }

  get nrEnts(): number {
    return this.queues[0]?.ring.front.nrEnts ?? blk.blkifRingEntries(this.order);
  }

  get queueCount(): number {
    return this.queues.length;
  }

  liveRings(): FrontendRing[] {
    return this.queues.map((q) => q.ring);
  }

  outstanding(): number {
    return this.queues.reduce((n, q) => n + q.pending.size, 0);
  }

  /** Largest transfer in one request, in pages. */
  get maxPagesPerRequest(): number {
    return this.indirectSegs > 0 ? Math.min(this.indirectSegs, blk.BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * blk.BLKIF_SEGS_PER_INDIRECT_FRAME) : blk.BLKIF_MAX_SEGMENTS_PER_REQUEST;
  }

  /** Issues one I/O; splits it into several requests when it needs more segments than one carries. */
  async submit(io: BlkIo): Promise<BlkIoResult> {
    const t0 = this.hv.sched.nowMicros();
    if (io.op === 'read' || io.op === 'write') {
      const pages = Math.ceil(io.nsect / blk.SECTORS_PER_PAGE);
      const per = this.maxPagesPerRequest;
      if (pages > per) {
        const parts: Promise<BlkIoResult>[] = [];
        for (let p = 0; p < pages; p += per) {
          const s0 = p * blk.SECTORS_PER_PAGE;
          const n = Math.min(io.nsect - s0, per * blk.SECTORS_PER_PAGE);
          parts.push(this.submitOne({ ...io, sector: io.sector + s0, nsect: n, data: io.data?.subarray(s0 * 512, (s0 + n) * 512) }));
        }
        const rs = await Promise.all(parts);
        return { status: rs.find((r) => r.status !== 0)?.status ?? 0, latencyUs: this.hv.sched.nowMicros() - t0 };
      }
    }
    return this.submitOne(io);
  }

  private async submitOne(io: BlkIo): Promise<BlkIoResult> {
    const t0 = this.hv.sched.nowMicros();
    if (this.phase !== 'connected') {
      if (this.phase === 'gone' || this.phase === 'failed' || this.phase === 'closed' || this.phase === 'closing') return { status: blk.BLKIF_RSP_ERROR, latencyUs: 0 };
      // parked until the frontend connects, at most storport's request timeout: a disk that never comes
      // back (its backend refused the reconnect) fails the request instead of holding it forever
      await new Promise<void>((r) => {
        const timer = this.hv.sched.after(REQUEST_TIMEOUT_US, r);
        this.parked.push(() => (timer.cancel(), r()));
      });
      if ((this.phase as string) !== 'connected') return { status: blk.BLKIF_RSP_ERROR, latencyUs: 0 };
    }
    if (this.suppressed(io.op)) return { status: blk.BLKIF_RSP_OKAY, latencyUs: this.hv.sched.nowMicros() - t0 };
    const q = this.queues[this.rr++ % this.queues.length];
    while (q.ring.front.full() && this.faults.overrun === 0) {
      await new Promise<void>((r) => q.slotWaiters.push(r));
      if (this.phase !== 'connected' || q.ring.isEnded) return { status: blk.BLKIF_RSP_ERROR, latencyUs: 0 };
    }
    const op = io.op === 'flush' ? syncCacheOp(this.diskFeatures, this.faults.flushUnadvertised) : io.op === 'discard' ? blk.BLKIF_OP_DISCARD : undefined;
    const status = await new Promise<number>((done) => this.produce(q, io, done, op));
    if (status === blk.BLKIF_RSP_EOPNOTSUPP && op !== undefined) dropFeature(this.diskFeatures, op);
    return { status, latencyUs: this.hv.sched.nowMicros() - t0 };
  }

  /** Writes one request into the next slot and pushes it; `controlOp` is a flush's or discard's ring
   *  operation (a flush goes as FLUSH_DISKCACHE or, where only feature-barrier is offered, as a
   *  WRITE_BARRIER with no segments: sync-cache.ts). */
  private produce(q: Queue, io: BlkIo, done: (status: number) => void, controlOp?: number): void {
    const front = q.ring.front;
    const id = this.nextId++;
    const pending: Pending = { id, op: 0, t0: this.hv.sched.nowMicros(), pages: [], grefs: [], done };
    const off = front.nextRequestOffset();
    if (controlOp !== undefined) this.encodeControl(q, io, pending, off, controlOp);
    else this.encodeData(q, io, pending, off);
    front.reqProdPvt = idxAdd(front.reqProdPvt, 1);
    q.pending.set(id, pending);
    this.stats.requests++;
    this.hv.report.ringIo({ domid: this.dom.domid, dev: this.dev, queue: q.ring.queue, ring: 'blk', dir: 'req', id, op: pending.op });
    q.ring.push();
    this.armWatchdog();
  }

  /** A flush, barrier or discard: no data pages. */
  private encodeControl(q: Queue, io: BlkIo, pending: Pending, off: number, op: number): void {
    const handle = this.devid & 0xffff;
    pending.op = op;
    if (op === blk.BLKIF_OP_DISCARD) blk.encodeBlkifRequest(q.ring.mem, off, { operation: 5, handle, id: pending.id, sector: io.sector, nrSectors: io.nsect, secure: false });
    else blk.encodeBlkifRequest(q.ring.mem, off, { operation: op === blk.BLKIF_OP_WRITE_BARRIER ? 2 : 3, handle, id: pending.id, sector: 0, segments: [] });
  }

  /** A read or write: its data pages granted, the segments inline or (too many) indirect, and a
   *  read's data copied out of its pages when the response comes. */
  private encodeData(q: Queue, io: BlkIo, pending: Pending, off: number): void {
    const write = io.op === 'write';
    const segs = this.grantDataPages(q.ring.backendDomid, io, pending, write);
    const op = write ? blk.BLKIF_OP_WRITE : blk.BLKIF_OP_READ;
    if (segs.length <= blk.BLKIF_MAX_SEGMENTS_PER_REQUEST) {
      pending.op = op;
      blk.encodeBlkifRequest(q.ring.mem, off, { operation: op, handle: this.devid & 0xffff, id: pending.id, sector: io.sector, segments: segs });
    } else {
      this.encodeIndirect(q, io, pending, off, op, segs);
    }
    if (!write && io.data) {
      const dst = io.data;
      const orig = pending.done;
      const dataPages = pending.pages.slice(0, segs.length);
      pending.done = (st) => {
        dataPages.forEach((p, i) => p.buf.copy(dst, i * 4096, 0, Math.min(4096, dst.length - i * 4096)));
        orig(st);
      };
    }
  }

  /** One page a segment (a write's data copied in), granted to the backend unless persistent. */
  private grantDataPages(backend: number, io: BlkIo, pending: Pending, write: boolean): blk.BlkifSegment[] {
    const segs: blk.BlkifSegment[] = [];
    const npages = Math.ceil(io.nsect / blk.SECTORS_PER_PAGE);
    for (let i = 0; i < npages; i++) {
      const page = this.page();
      const n = Math.min(blk.SECTORS_PER_PAGE, io.nsect - i * blk.SECTORS_PER_PAGE);
      if (write && io.data) io.data.copy(page.buf, 0, i * 4096, i * 4096 + n * 512);
      const gref = page.gref ?? this.dom.grants.grantAccess(backend, page.gfn, write, this.dev);
      if (page.gref === undefined) pending.grefs.push(gref);
      pending.pages.push(page);
      segs.push({ gref, firstSect: 0, lastSect: n - 1 });
    }
    return segs;
  }

  /** Indirect: the segment array lives in extra pages granted read-only to the backend. */
  private encodeIndirect(q: Queue, io: BlkIo, pending: Pending, off: number, op: number, segs: blk.BlkifSegment[]): void {
    pending.op = blk.BLKIF_OP_INDIRECT;
    const backend = q.ring.backendDomid;
    const indirectGrefs: number[] = [];
    for (let p = 0; p * blk.BLKIF_SEGS_PER_INDIRECT_FRAME < segs.length; p++) {
      const ip = this.page();
      segs.slice(p * blk.BLKIF_SEGS_PER_INDIRECT_FRAME, (p + 1) * blk.BLKIF_SEGS_PER_INDIRECT_FRAME).forEach((s, i) => blk.encodeSegment(ip.buf, i * 8, s));
      const g = ip.gref ?? this.dom.grants.grantAccess(backend, ip.gfn, true, this.dev);
      if (ip.gref === undefined) pending.grefs.push(g);
      pending.pages.push(ip);
      indirectGrefs.push(g);
    }
    const handle = this.devid & 0xffff;
    blk.encodeBlkifRequest(q.ring.mem, off, { operation: 6, indirectOp: op, handle, id: pending.id, sector: io.sector, nrSegments: segs.length, indirectGrefs });
  }

  /** A data page: persistent pages keep their grant (granted read-write once). */
  private page(): Page {
    const p = this.pool.pop();
    if (p) return p;
    const { gfn, buf } = this.dom.memory.alloc(1);
    const page: Page = { gfn, buf };
    if (this.persistent) page.gref = this.dom.grants.grantAccess(this.queues[0].ring.backendDomid, gfn, false, this.dev);
    return page;
  }

  /** Interrupt: consume responses, then RING_FINAL_CHECK_FOR_RESPONSES. */
  private onEvent(q: Queue): void {
    if (q.ring.isEnded) return;
    const front = q.ring.front;
    front.consumeResponses((off) => blk.decodeBlkifResponse(q.ring.mem, off), (r) => this.complete(q, r));
    const waiters = q.slotWaiters.splice(0, front.freeRequests());
    for (const w of waiters) w();
  }

  private complete(q: Queue, r: blk.BlkifResponse): void {
    this.stats.responses++;
    this.lastProgress = this.hv.sched.nowMicros();
    this.hv.report.ringIo({ domid: this.dom.domid, dev: this.dev, queue: q.ring.queue, ring: 'blk', dir: 'rsp', id: r.id, op: r.operation, status: r.status });
    const p = q.pending.get(r.id);
    if (!p) {
      this.stats.unknownIds++;
      this.log('warn', `response with unknown id ${r.id}`);
      return;
    }
    q.pending.delete(r.id);
    this.release(p);
    if (r.status !== blk.BLKIF_RSP_OKAY) this.stats.errors++;
    p.done(r.status);
  }

  private release(p: Pending): void {
    for (const g of p.grefs) if (!this.dom.grants.endAccess(g)) this.dom.grants.forceEnd(g);
    p.grefs = [];
    this.pool.push(...p.pages);
    p.pages = [];
  }

  /**
   * Storport-style timeout: when requests sit for REQUEST_TIMEOUT_US without progress the miniport
   * polls the ring and kicks the backend; a request older than twice that is failed (the adapter
   * reset), so a lost response costs an I/O error, never a hang.
   */
  private armWatchdog(): void {
    if (this.watchdog) return;
    this.watchdog = true;
    const tick = () => {
      if (this.outstanding() === 0 || this.phase === 'gone') {
        this.watchdog = false;
        return;
      }
      const now = this.hv.sched.nowMicros();
      const timeout = REQUEST_TIMEOUT_US;
      if (now - this.lastProgress >= timeout) {
        this.log('warn', `requests outstanding for ${Math.round((now - this.lastProgress) / 1000)} ms: polling the ring`);
        this.lastProgress = now;
        for (const q of this.queues) {
          this.onEvent(q);
          q.ring.notify();
        }
      }
      for (const q of this.queues) {
        for (const p of [...q.pending.values()]) {
          if (now - p.t0 < 2 * timeout) continue;
          this.log('warn', `request ${p.id} timed out: failed`);
          q.pending.delete(p.id);
          p.grefs.forEach((g) => this.dom.endGrantDeferred(g));
          p.grefs = [];
          this.stats.errors++;
          p.done(blk.BLKIF_RSP_ERROR);
        }
      }
      this.hv.sched.after(REQUEST_TIMEOUT_US / 3, tick);
    };
    this.lastProgress = Math.max(this.lastProgress, this.hv.sched.nowMicros());
    this.hv.sched.after(REQUEST_TIMEOUT_US / 3, tick);
  }

  /** Pushes `extra` flush requests past a full ring, ignoring RING_FULL (the ring-overrun fault). */
  overrunBurst(extra: number): void {
    const q = this.queues[0];
    if (!q || this.phase !== 'connected') return;
    const n = q.ring.front.freeRequests() + extra;
    for (let i = 0; i < n; i++) this.produce(q, { op: 'flush', sector: 0, nsect: 0 }, () => undefined);
  }

  protected teardownRings(opts: { endGrants: boolean; force: boolean }): void {
    for (const q of this.queues) {
      for (const p of q.pending.values()) {
        if (opts.endGrants) this.release(p);
        p.done(blk.BLKIF_RSP_ERROR);
      }
      q.pending.clear();
      q.ring.end(opts);
      for (const w of q.slotWaiters.splice(0)) w();
    }
    this.queues = [];
    for (const p of this.pool.splice(0)) {
      if (p.gref !== undefined && opts.endGrants && !this.dom.grants.endAccess(p.gref) && opts.force) this.dom.grants.forceEnd(p.gref);
      if (opts.endGrants) this.dom.memory.free(p.gfn);
    }
  }

  /** Suspend: wait for the ring to drain (or drop in-flight requests with the fault), then disconnect. */
  override async suspend(): Promise<void> {
    if (!this.faults.suspendInflight) {
      while (this.outstanding() > 0 && this.phase === 'connected') await this.hv.sched.sleep(1);
      await super.suspend();
      return;
    }
    // The bug: rings are dropped with requests in flight; those requests are never answered and
    // Windows fails them when their timeout expires.
    for (const q of this.queues) {
      const lost = [...q.pending.values()];
      q.pending.clear();
      for (const p of lost) {
        p.grefs = p.grefs.filter((g) => !this.dom.grants.endAccess(g));
        this.pool.push(...p.pages);
        p.pages = [];
      }
      this.hv.sched.after(REQUEST_TIMEOUT_US, () => lost.forEach((p) => p.done(blk.BLKIF_RSP_ERROR)));
    }
    await super.suspend();
  }
}
