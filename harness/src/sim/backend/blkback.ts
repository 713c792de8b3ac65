// blkback: the block backend as Linux's xen-blkback behaves (drivers/block/xen-blkback/xenbus.c and
// blkback.c): the same keys at probe and connect, multi-page and multi-queue rings, persistent
// grants, indirect segments, flush and discard, request validation, over a sparse in-memory disk.
// Service time comes from a simple disk model (latency + bytes / bandwidth) in virtual time.
import * as blk from '../../abi/blkif';
import { idxAdd } from '../../abi/ring';
import { XenbusState } from '../../model/xenbus';
import type { VbdShape } from '../../model/scenario';
import type { Domain, Hypervisor } from '../hypervisor';
import { HypercallError } from '../errors';
import { SparseDisk } from '../disk';
import { readInt } from '../xs';
import { BackendRing, bindBackendPort } from './ring-queue';
import { XenbusBackend } from './xenbus-backend';

/** Linux blkback defaults: xen_blkif_max_ring_order = 4 (XENBUS_MAX_RING_GRANT_ORDER), MAX_INDIRECT_SEGMENTS = 256. */
const BLKBACK_MAX_RING_ORDER = 4;
const BLKBACK_MAX_INDIRECT_SEGMENTS = 256;
/** xen_blkif_max_pgrants: persistent grants kept per queue. */
const BLKBACK_MAX_PERSISTENT = 1056;

/** The disk model: per-request latency and bandwidth, and how many requests it serves in parallel. */
export interface DiskModel {
  latencyUs: number;
  bytesPerUs: number; // 1500 = 1.5 GB/s
  parallel: number;
  /**
   * Time dilation: each real request stands for `dilation` I/Os of the workload being modelled, so
   * its service time is multiplied by it (see windows/diskspd.ts). 1 outside workloads.
   */
  dilation: number;
}

const defaultDiskModel = (): DiskModel => ({ latencyUs: 80, bytesPerUs: 1500, parallel: 32, dilation: 1 });

export interface BlkQueue {
  ring: BackendRing;
  persistent: Map<number, { handle: number; page: Buffer }>;
  inflight: number;
  broken: boolean;
}

export class Blkback extends XenbusBackend {
  readonly disk: SparseDisk;
  readonly model = defaultDiskModel();
  protected queues: BlkQueue[] = [];
  private persistentOn = false;
  protected st = { rd_req: 0, wr_req: 0, f_req: 0, ds_req: 0, oo_req: 0, rd_sect: 0, wr_sect: 0, errors: 0, persistent_hits: 0, maps: 0 };
  private served = 0;
  readonly readonly: boolean;

  constructor(hv: Hypervisor, dom0: Domain, frontDomid: number, devid: number, readonly shape: VbdShape, disk?: SparseDisk) {
    super(hv, dom0, frontDomid, 'vbd', devid, shape.backend);
    this.disk = disk ?? new SparseDisk((shape.sizeMiB * 1024 * 1024) / blk.SECTOR_SIZE);
    hv.disks.add(this.disk);
    this.readonly = shape.mode === 'r';
  }

  protected probeKeys(): Record<string, string> {
    return {
      'feature-max-indirect-segments': this.feature('feature-max-indirect-segments', String(BLKBACK_MAX_INDIRECT_SEGMENTS)),
      'multi-queue-max-queues': this.feature('multi-queue-max-queues', '4'),
      'max-ring-page-order': this.feature('max-ring-page-order', String(BLKBACK_MAX_RING_ORDER)),
    };
  }

  protected connectKeys(): Record<string, string> {
    return {
      'feature-flush-cache': this.feature('feature-flush-cache', '1'),
      // Linux blkback still advertises barriers, equal to its flush support (xen_blkbk_barrier).
      'feature-barrier': this.feature('feature-barrier', this.feature('feature-flush-cache', '1')),
      'feature-discard': this.feature('feature-discard', '1'),
      'discard-granularity': '4096',
      'discard-alignment': '0',
      'discard-secure': '0',
      'feature-persistent': this.feature('feature-persistent', '1'),
      sectors: String(this.disk.sectors),
      info: String(this.readonly ? 4 : 0), // VDISK_READONLY
      'sector-size': String(blk.SECTOR_SIZE),
      'physical-sector-size': String(blk.SECTOR_SIZE),
    };
  }

  /** xen-blkback/xenbus.c frontend_changed. A frontend that reconnects after Closed (Initialising)
   *  brings the backend back to InitWait ("prepare for reconnect"), nothing re-advertised: the probe's
   *  keys stay from the first probe, and connect() rewrites its transaction (connectKeys) before
   *  Connected. Initialised or Connected connects from any state but Connected (connect_ring, then
   *  xen_update_blkif_status -> connect), so a frontend that left out Initialising is still served;
   *  Initialising while Closing is ignored: a backend left Closing stays there. */
  protected async onFrontendState(fe: number): Promise<void> {
    switch (fe) {
      case XenbusState.Initialising:
        await this.frontendInitialising();
        break;
      case XenbusState.Initialised:
      case XenbusState.Connected:
        if (this.state !== XenbusState.Connected) await this.connectFrontend();
        break;
      case XenbusState.Closing:
        // the rings stay mapped until Closed (xen_blkif_disconnect runs there)
        await this.switchState(XenbusState.Closing);
        break;
      case XenbusState.Closed:
        await this.disconnectTo(XenbusState.Closed);
        await this.removeIfOffline();
        break;
      default:
        break;
    }
  }

  /** The frontend (re)starts: only a Closed blkback goes back to InitWait ("prepare for reconnect"). */
  protected async frontendInitialising(): Promise<void> {
    if (this.state === XenbusState.Closed) await this.switchState(XenbusState.InitWait);
  }

  /** A numeric feature as this backend advertises it (defaults or the scenario's overrides). */
  protected int(name: string): number {
    return Number(this.probeKeys()[name] ?? this.connectKeys()[name] ?? '0');
  }

  protected async connectRing(): Promise<void> {
    const xs = this.dom0.xs;
    const fe = this.fePath;
    const proto = (await xs.read(`${fe}/protocol`)) ?? 'x86_64-abi';
    if (proto !== 'x86_64-abi') {
      // Linux accepts x86_32-abi with a packed 32-bit layout; a 64-bit Windows frontend never sends it.
      this.hv.report.log('warn', `${this.dev} d${this.frontDomid}: frontend protocol '${proto}' on a 64-bit guest`);
    }
    const order = (await readInt(xs, `${fe}/ring-page-order`)) ?? 0;
    if (order > this.int('max-ring-page-order')) throw new HypercallError('EINVAL', `ring-page-order ${order} > max ${this.int('max-ring-page-order')}`);
    const nq = (await readInt(xs, `${fe}/multi-queue-num-queues`)) ?? 1;
    if (nq < 1 || nq > this.int('multi-queue-max-queues')) throw new HypercallError('EINVAL', `multi-queue-num-queues ${nq} out of range`);
    this.persistentOn = this.int('feature-persistent') === 1 && (await xs.read(`${fe}/feature-persistent`)) === '1';
    for (let q = 0; q < nq; q++) {
      const dir = nq === 1 ? fe : `${fe}/queue-${q}`;
      const refs: number[] = [];
      if (order === 0 && (await xs.read(`${dir}/ring-ref`)) !== null) refs.push((await readInt(xs, `${dir}/ring-ref`))!);
      else for (let i = 0; i < 1 << order; i++) {
        const r = await readInt(xs, `${dir}/ring-ref${i}`);
        if (r === undefined) throw new HypercallError('EINVAL', `${dir}/ring-ref${i} missing`);
        refs.push(r);
      }
      if (refs.length === 0 || refs.some((r) => r === undefined)) throw new HypercallError('EINVAL', `${dir}/ring-ref missing`);
      const port = await readInt(xs, `${dir}/event-channel`);
      if (port === undefined) throw new HypercallError('EINVAL', `${dir}/event-channel missing`);
      const queue: BlkQueue = { persistent: new Map(), inflight: 0, broken: false } as BlkQueue;
      const local = bindBackendPort(this.hv, this.frontDomid, port, () => this.kick(queue));
      queue.ring = new BackendRing(this.hv, this.frontDomid, this.dev, q, 'blk', refs, blk.BLKIF_ENTRY_SIZE, local);
      this.queues.push(queue);
    }
  }

  protected disconnect(): void {
    for (const q of this.queues) {
      for (const p of q.persistent.values()) this.hv.grantOps.unmap(p.handle);
      q.persistent.clear();
      q.ring.close();
    }
    this.queues = [];
  }

  /** Event-channel upcall: the blkback kthread wakes and consumes requests. */
  protected kick(q: BlkQueue): void {
    if (this.faults.stall || q.ring.closed || q.broken) return;
    this.consume(q);
  }

  /** do_block_io_op: consume requests until none are left, then RING_FINAL_CHECK_FOR_REQUESTS. */
  private consume(q: BlkQueue): void {
    const back = q.ring.back;
    for (;;) {
      const rp = back.sring.reqProd;
      if (back.requestProdOverflow(rp)) {
        // "Frontend provided bogus ring requests": blkback stops serving this ring.
        this.hv.report.log('error', `${this.dev} d${this.frontDomid}: bogus ring requests (req_prod ${rp}, rsp_prod_pvt ${back.rspProdPvt})`);
        q.broken = true;
        return;
      }
      while (back.reqCons !== rp) {
        if (back.requestConsOverflow(back.reqCons)) break;
        const off = back.sring.slotOffset(back.reqCons);
        back.reqCons = idxAdd(back.reqCons, 1);
        this.dispatch(q, off);
      }
      if (this.faults.lostWakeup) return; // the bug: req_event is not re-armed
      if (!back.finalCheckForRequests()) return;
    }
  }

  private dispatch(q: BlkQueue, off: number): void {
    const mem = q.ring.mem;
    let req: blk.BlkifRequest;
    try {
      req = blk.decodeBlkifRequest(mem, off);
    } catch {
      this.st.errors++;
      return;
    }
    let status = blk.BLKIF_RSP_OKAY;
    let bytes = 0;
    try {
      ({ status, bytes } = this.operate(q, req, mem, off));
    } catch (e) {
      status = blk.BLKIF_RSP_ERROR;
      this.st.errors++;
      this.hv.report.log('debug', `${this.dev}: request ${req.id} failed: ${(e as Error).message}`);
    }
    q.inflight++;
    const m = this.model;
    // Service time with seeded jitter (0.8x..1.2x, and 1% of requests 3x: a disk's occasional slow I/O).
    const rng = this.hv.sched.rng;
    const jitter = (0.8 + 0.4 * rng.float()) * (rng.chance(0.01) ? 3 : 1);
    let us = (m.latencyUs + bytes / m.bytesPerUs) * m.dilation * Math.max(1, q.inflight / m.parallel) * jitter;
    this.served++;
    // A spike is per I/O: dilated like the rest, so the reported (undilated) latency shows it whole.
    if (this.faults.spikeUs > 0 && this.faults.spikeEvery > 0 && this.served % this.faults.spikeEvery === 0) us += this.faults.spikeUs * m.dilation;
    const rsp: blk.BlkifResponse = { id: req.id, operation: req.operation, status };
    this.schedule(q, rsp, us, () => {
      q.inflight--;
      this.respond(q, rsp);
    });
  }

  /** One request as blkback's dispatch_rw_block_io / dispatch_other_io serve it: its status and the
   *  bytes moved; throws for a request it fails with BLKIF_RSP_ERROR. */
  protected operate(q: BlkQueue, req: blk.BlkifRequest, mem: Buffer, off: number): { status: number; bytes: number } {
    let status = blk.BLKIF_RSP_OKAY;
    let bytes = 0;
    switch (req.operation) {
      case blk.BLKIF_OP_READ:
      case blk.BLKIF_OP_WRITE:
        if (blk.blkifRequestNrSegments(mem, off) === 0 || blk.blkifRequestNrSegments(mem, off) > blk.BLKIF_MAX_SEGMENTS_PER_REQUEST) throw new Error('bad nr_segments');
        bytes = this.rw(q, req.operation === blk.BLKIF_OP_WRITE, req.sector, req.segments);
        break;
      case blk.BLKIF_OP_INDIRECT:
        bytes = this.indirect(q, req);
        break;
      case blk.BLKIF_OP_WRITE_BARRIER: // as Linux blkback: drain, then a flush (the ring is served in order here)
        if (this.feature('feature-barrier', this.feature('feature-flush-cache', '1')) !== '1') status = blk.BLKIF_RSP_EOPNOTSUPP;
        else this.st.f_req++;
        break;
      case blk.BLKIF_OP_FLUSH_DISKCACHE:
        this.st.f_req++;
        break;
      case blk.BLKIF_OP_DISCARD:
        if (this.feature('feature-discard', '1') !== '1') status = blk.BLKIF_RSP_EOPNOTSUPP;
        else if (this.readonly || req.sector + req.nrSectors > this.disk.sectors) throw new Error('discard out of range');
        else {
          this.disk.discard(req.sector, req.nrSectors);
          this.st.ds_req++;
        }
        break;
      default:
        status = blk.BLKIF_RSP_EOPNOTSUPP; // an operation blkback does not know
    }
    return { status, bytes };
  }

  /** Answers a request once its service time has passed (blkback completes requests as the disk does). */
  protected schedule(q: BlkQueue, rsp: blk.BlkifResponse, us: number, answer: () => void): void {
    void q;
    void rsp;
    this.hv.sched.after(us, answer);
  }

  /** Maps (or finds persistently mapped) grants and moves the data between them and the disk. */
  protected rw(q: BlkQueue, write: boolean, sector: number, segs: blk.BlkifSegment[]): number {
    if (write && this.readonly) throw new Error('write to a read-only disk');
    let nsect = 0;
    for (const s of segs) {
      if (s.lastSect >= blk.SECTORS_PER_PAGE || s.firstSect > s.lastSect) throw new Error('bad segment sectors');
      nsect += s.lastSect - s.firstSect + 1;
    }
    if (sector + nsect > this.disk.sectors) throw new Error('request beyond the end of the disk');
    let at = sector;
    for (const s of segs) {
      const n = s.lastSect - s.firstSect + 1;
      // A write reads guest memory (read-only mapping), a read fills it (writable).
      const { page, release } = this.mapData(q, s.gref, write);
      if (write) this.disk.write(at, page, s.firstSect * blk.SECTOR_SIZE, n);
      else this.disk.read(at, page, s.firstSect * blk.SECTOR_SIZE, n);
      release();
      at += n;
    }
    if (write) {
      this.st.wr_req++;
      this.st.wr_sect += nsect;
    } else {
      this.st.rd_req++;
      this.st.rd_sect += nsect;
    }
    return nsect * blk.SECTOR_SIZE;
  }

  protected indirect(q: BlkQueue, req: Extract<blk.BlkifRequest, { operation: 6 }>): number {
    const max = this.int('feature-max-indirect-segments');
    if (req.nrSegments === 0 || req.nrSegments > max) throw new Error(`indirect nr_segments ${req.nrSegments} > ${max}`);
    if (req.indirectOp !== blk.BLKIF_OP_READ && req.indirectOp !== blk.BLKIF_OP_WRITE) throw new Error('bad indirect op');
    const segs: blk.BlkifSegment[] = [];
    for (let p = 0; p < req.indirectGrefs.length && segs.length < req.nrSegments; p++) {
      const { page, release } = this.mapData(q, req.indirectGrefs[p], true);
      for (let i = 0; i < blk.BLKIF_SEGS_PER_INDIRECT_FRAME && segs.length < req.nrSegments; i++) segs.push(blk.decodeSegment(page, i * 8));
      release();
    }
    return this.rw(q, req.indirectOp === blk.BLKIF_OP_WRITE, req.sector, segs);
  }

  protected mapData(q: BlkQueue, gref: number, readonly: boolean): { page: Buffer; release: () => void } {
    if (this.persistentOn) {
      const hit = q.persistent.get(gref);
      if (hit) {
        this.st.persistent_hits++;
        return { page: hit.page, release: () => undefined };
      }
      if (q.persistent.size < BLKBACK_MAX_PERSISTENT) {
        // Persistent grants are always mapped writable (the frontend grants them read-write).
        const m = this.hv.grantOps.map(0, this.frontDomid, gref, false);
        this.st.maps++;
        q.persistent.set(gref, m);
        return { page: m.page, release: () => undefined };
      }
    }
    const m = this.hv.grantOps.map(0, this.frontDomid, gref, readonly);
    this.st.maps++;
    return { page: m.page, release: () => this.hv.grantOps.unmap(m.handle) };
  }

  /** make_response: write the response slot, push, notify if the frontend asked (rsp_event). */
  private respond(q: BlkQueue, rsp: blk.BlkifResponse): void {
    if (q.ring.closed) return;
    const swallow = this.swallow.get(q) ?? 0;
    if (swallow > 0) {
      // Its slot on this ring went to the duplicate below: this request is never answered.
      this.swallow.set(q, swallow - 1);
      return;
    }
    const back = q.ring.back;
    if (this.faults.unknownResponseIds > 0) {
      this.faults.unknownResponseIds--;
      rsp = { ...rsp, id: rsp.id + 0x40000000 };
    }
    blk.encodeBlkifResponse(q.ring.mem, back.nextResponseOffset(), rsp);
    back.rspProdPvt = idxAdd(back.rspProdPvt, 1);
    if (this.faults.duplicateResponses > 0) {
      // The bug: the response is written twice; the copy takes the slot of the next response.
      this.faults.duplicateResponses--;
      blk.encodeBlkifResponse(q.ring.mem, back.nextResponseOffset(), rsp);
      back.rspProdPvt = idxAdd(back.rspProdPvt, 1);
      this.swallow.set(q, (this.swallow.get(q) ?? 0) + 1);
    }
    const notify = back.pushResponses();
    if (notify && !this.faults.missedNotify) q.ring.notify();
  }

  /** Per ring: a duplicate took the slot of the next response on the same ring (multi-queue). */
  private swallow = new Map<BlkQueue, number>();

  liveRings(): BackendRing[] {
    return this.queues.map((q) => q.ring);
  }

  stats(): Record<string, number> {
    return { ...this.st, queues: this.queues.length, state: this.state };
  }

  get isConnected(): boolean {
    return this.state === XenbusState.Connected;
  }
}
