// The crash dump of a bugchecked Windows guest, written the way xenvbd writes it. Windows' crash dump
// stack loads a second copy of the boot disk's miniport as dump_xenvbd.sys; win-xenvbd's DriverEntry
// (src/xenvbd/driver.c) sees no registry path and hands over to XencrshEntryPoint (src/xencrsh), whose
// DllInitialize picked DUMP_MODE from the "dump_" name. That path is its own small frontend, with no
// interrupts, no threads and no xenbus interfaces of the running system:
// - FdoInitialize (xencrsh fdo.c): FdoCloseAllTargets walks device/vbd and takes every disk's frontend
//   to Closing, then Closed, polling the backend's state (FrontendCloseTarget, frontend.c), so no
//   backend keeps the rings of the dead system; FdoFindTarget then takes the first
//   data/scsi/target/<N> whose `dump` flag is set (the running xenvbd wrote it when Windows sent the
//   boot disk DeviceUsageTypeDumpFile: target.c __TargetDeviceUsageNotification, frontend.c
//   FrontendSetDeviceUsage) and its `device`; without one it falls back to device "768", target 0.
// - PdoD3ToD0 -> FrontendSetState(ENABLED) (frontend.c): FrontendClose (reads backend and backend-id,
//   Closing/Closed handshake, removes ring-page-order, feature-online-resize, feature-surprise-remove,
//   multi-queue-num-queues), FrontendPrepare (data/scsi/target/<N>/frontend, device, filter=absent;
//   Initialising; waits for InitWait; __ReadFeatures reads feature-barrier, feature-flush-cache,
//   feature-discard), FrontendConnect (one ring page, XENVBD_MAX_RING_PAGE_ORDER 0; one grant, one
//   event channel; __WriteRing's transaction: event-channel, ring-ref, protocol x86_64-abi,
//   feature-surprise-remove, feature-online-resize, feature-large-sector-size, multi-queue-num-queues
//   1; Initialised; waits for Connected; Connected; __ReadDiskInfo). Every wait polls xenstore with
//   KeStallExecutionProcessor(100000) between reads (__PollState): the real path has no deadline.
// - I/O: the dump port sends one SRB at a time and polls HwInterrupt (driver.c -> PdoEvtchnInterruptHandler
//   -> FrontendEvtchnCallback) until it completes. PrepareReadWrite (pdo.c) splits an SRB into at most
//   XENVBD_MAX_REQUESTS_PER_SRB (2) requests of BLKIF_MAX_SEGMENTS_PER_REQUEST (11) pages, bounce
//   buffers granted read-only for a write; PdoCompleteSubmittedRequest completes the SRB with
//   SRB_STATUS_SUCCESS whatever the response status (an error is only logged).
// - SCSIOP_SYNCHRONIZE_CACHE (PdoSyncCache -> PrepareSyncCache): BLKIF_OP_WRITE_BARRIER when the backend
//   has feature-barrier, else BLKIF_OP_FLUSH_DISKCACHE when it has feature-flush-cache, else the SRB is
//   completed at once in the guest ("cannot submit this to backend"); a BLKIF_RSP_EOPNOTSUPP answer drops
//   the feature. SRB_FUNCTION_FLUSH / SHUTDOWN (PdoQueueShutdown) complete once nothing is in flight.
// What the model assumes beyond that source (Windows' crashdmp.sys is not public): the dump is written
// into the page file's blocks, modelled as the last DUMP_BYTES of the boot disk, body first and the
// header page last, followed by one SYNCHRONIZE_CACHE and one SRB_FUNCTION_SHUTDOWN; the header is
// DUMP_HEADER64's first fields (Signature "PAGE", ValidDump "DU64", BugCheckCode at 0x38, the four
// parameters at 0x40). The dump-flush-unadvertised fault is a PrepareSyncCache that sends
// BLKIF_OP_FLUSH_DISKCACHE whatever the backend advertised.
import * as blk from '../../abi/blkif';
import { idxAdd } from '../../abi/ring';
import { XenbusState } from '../../model/xenbus';
import type { Domain } from '../hypervisor';
import { FrontendRing } from '../frontend/front-ring';

/** xencrsh driver.h XENVBD_MAX_TARGETS. */
const XENVBD_MAX_TARGETS = 128;
/** xencrsh driver.h XENVBD_MAX_REQUESTS_PER_SRB. */
const MAX_REQUESTS_PER_SRB = 2;
/** Bytes of one SRB at most: XENVBD_MAX_TRANSFER_LENGTH = 2 x 11 pages. */
const DUMP_MAX_TRANSFER = MAX_REQUESTS_PER_SRB * blk.BLKIF_MAX_SEGMENTS_PER_REQUEST * 4096;
/** __PollState's KeStallExecutionProcessor(100000): 100 ms between reads of the backend's state. */
const STATE_POLL_MS = 100;
/** The dump port's polling of HwInterrupt while an SRB is outstanding (model: every 50 us). */
const IO_POLL_MS = 0.05;
/** The model's deadline for each wait the real path makes forever (it would hang the dying guest). */
const DUMP_WAIT_LIMIT_MS = 60_000;
/** The model's kernel memory dump: header page plus body, in the page file at the end of the boot disk. */
export const DUMP_BYTES = 16 * 1024 * 1024;
export const DUMP_HEADER_BYTES = 8192;

export interface DumpFaults {
  /** dump-flush-unadvertised: PrepareSyncCache sends BLKIF_OP_FLUSH_DISKCACHE whatever the backend advertised. */
  dumpFlushUnadvertised: boolean;
}

export interface DumpOutcome {
  /** The dump reached the disk (every SRB completed); the header is written last. */
  written: boolean;
  /** Why not, as the path would log it. */
  why?: string;
  devid?: number;
  targetId?: number;
  /** Where the page file (the dump) starts, in sectors. */
  sector?: number;
  bytes: number;
  /** Responses other than BLKIF_RSP_OKAY (each completed as success anyway). */
  errors: number;
  features?: DumpFeatures;
}

/** What the dump path reads of the backend's features (it flushes or barriers as they allow). */
export interface DumpFeatures {
  barrier: boolean;
  flush: boolean;
}

/** Stop codes the reports name (bugcodes.h). */
export const STOP_NAMES: Record<number, string> = {
  0x0a: 'IRQL_NOT_LESS_OR_EQUAL', 0x1e: 'KMODE_EXCEPTION_NOT_HANDLED', 0x3b: 'SYSTEM_SERVICE_EXCEPTION', 0x50: 'PAGE_FAULT_IN_NONPAGED_AREA',
  0x7e: 'SYSTEM_THREAD_EXCEPTION_NOT_HANDLED', 0x80: 'NMI_HARDWARE_FAILURE', 0xd1: 'DRIVER_IRQL_NOT_LESS_OR_EQUAL', 0xe2: 'MANUALLY_INITIATED_CRASH', 0xef: 'CRITICAL_PROCESS_DIED',
};

class DumpFailed extends Error {}

/** The dump's bytes: DUMP_HEADER64's first fields in the header page, a recognisable body after it. */
function dumpImage(code: number, params: readonly bigint[], bytes = DUMP_BYTES): Buffer {
  const b = Buffer.alloc(bytes);
  b.write('PAGE', 0, 'latin1');
  b.write('DU64', 4, 'latin1');
  b.writeUInt32LE(15, 8); // MajorVersion: 0xF, a free build
  b.writeUInt32LE(20348, 12); // MinorVersion: the build number (Server 2022)
  b.writeUInt32LE(2, 0x34); // NumberProcessors
  b.writeUInt32LE(code >>> 0, 0x38);
  params.slice(0, 4).forEach((p, i) => b.writeBigUInt64LE(p, 0x40 + 8 * i));
  for (let off = DUMP_HEADER_BYTES; off + 8 <= bytes; off += 4096) b.writeBigUInt64LE(BigInt(off / 4096) * 0x1000n + 0xfffff80000000000n, off);
  return b;
}

/** The stop code a dump's header records, or why it is no valid dump. */
export function readDumpHeader(b: Buffer): { code: number } | { invalid: string } {
  if (b.length < DUMP_HEADER_BYTES) return { invalid: 'shorter than a dump header' };
  const sig = b.toString('latin1', 0, 4);
  const valid = b.toString('latin1', 4, 8);
  if (sig !== 'PAGE' || valid !== 'DU64') return { invalid: `no dump header (signature ${JSON.stringify(sig)}, ValidDump ${JSON.stringify(valid)})` };
  return { code: b.readUInt32LE(0x38) };
}

export class XencrshDump {
  private nextId = 0x10000;
  private ring?: FrontendRing;

  constructor(
    private readonly dom: Domain,
    private readonly faults: DumpFaults,
    private readonly log: (level: 'info' | 'warn' | 'error', msg: string) => void,
  ) {}

  private get xs() {
    return this.dom.xs;
  }

  private sleep(ms: number): Promise<void> {
    return this.dom.hv.sched.sleep(ms);
  }

  /** __ReadState + __PollState: reads the backend's state until it differs from `old`. */
  private async pollState(backend: string, old: number): Promise<number> {
    const deadline = this.dom.hv.sched.now() + DUMP_WAIT_LIMIT_MS;
    for (;;) {
      const v = await this.xs.read(`${backend}/state`);
      if (v === null) throw new DumpFailed(`${backend}/state is gone`);
      const s = Number(v);
      if (s !== old) return s;
      if (this.dom.hv.sched.now() >= deadline) throw new DumpFailed(`the backend ${backend} stayed in state ${old} for ${DUMP_WAIT_LIMIT_MS} ms (the real path polls forever: the guest would hang in its dump)`);
      await this.sleep(STATE_POLL_MS);
    }
  }

  private async setState(fe: string, s: number): Promise<void> {
    await this.xs.write(`${fe}/state`, String(s));
  }

  /** FrontendCloseTarget / FrontendClose's handshake: Closing until the backend is Closing or Closed, then Closed. */
  private async closeTarget(fe: string, backend: string): Promise<void> {
    let s = XenbusState.Unknown as number;
    do s = await this.pollState(backend, s);
    while (s === XenbusState.Initialising);
    while (s !== XenbusState.Closing && s !== XenbusState.Closed) {
      await this.setState(fe, XenbusState.Closing);
      s = await this.pollState(backend, s);
    }
    while (s !== XenbusState.Closed) {
      await this.setState(fe, XenbusState.Closed);
      s = await this.pollState(backend, s);
    }
  }

  private async flag(path: string): Promise<boolean> {
    const v = await this.xs.read(path);
    return v !== null && Number.parseInt(v, 10) > 0;
  }

  /** Writes the dump of `code` and returns what happened. */
  async run(code: number, params: readonly bigint[]): Promise<DumpOutcome> {
    const home = this.dom.home;
    const out: DumpOutcome = { written: false, bytes: 0, errors: 0 };
    try {
      await this.closeAllTargets();
      const { device, targetId } = await this.findTarget();
      if (device === '768') this.log('warn', 'xencrsh: DUMP Target not found, trying Target[0] (device 768)');
      out.devid = Number(device);
      out.targetId = targetId;
      const fe = `${home}/device/vbd/${device}`;
      const { backend, backendDomid } = await this.frontendClose(fe, device);
      const features = await this.frontendPrepare(fe, `${home}/data/scsi/target/${targetId}`, device, backend);
      out.features = features;
      const r = await this.frontendConnect(fe, device, backend, backendDomid);
      out.sector = await this.dumpSector(backend);
      this.log('info', `xencrsh: DUMP target ${targetId} = device ${device}; backend ${features.barrier ? 'BARRIER' : 'NOT_BARRIER'} ${features.flush ? 'FLUSH' : 'NOT_FLUSH'}; dump of ${DUMP_BYTES} bytes at sector ${out.sector}`);
      await this.writeDump(r, dumpImage(code, params), features, out.sector, out);
    } catch (e) {
      if (!(e instanceof DumpFailed)) throw e;
      out.why = e.message;
      this.log('error', `xencrsh: ${e.message}`);
    }
    return out;
  }

  /** FdoCloseAllTargets: every vbd frontend of the guest closed. */
  private async closeAllTargets(): Promise<void> {
    const home = this.dom.home;
    for (const id of await this.xs.directory(`${home}/device/vbd`)) {
      const fe = `${home}/device/vbd/${id}`;
      const backend = await this.xs.read(`${fe}/backend`);
      if (backend) await this.closeTarget(fe, backend);
    }
  }

  /** FdoFindTarget: the first target flagged `dump`, else Target[0] (device 768). */
  private async findTarget(): Promise<{ device: string; targetId: number }> {
    for (let t = 0; t < XENVBD_MAX_TARGETS; t++) {
      const dir = `${this.dom.home}/data/scsi/target/${t}`;
      if (!(await this.flag(`${dir}/dump`))) continue;
      const d = await this.xs.read(`${dir}/device`);
      if (d === null) continue;
      return { device: d, targetId: t };
    }
    return { device: '768', targetId: 0 };
  }

  /** FrontendClose: __UpdateBackendPath first, then the target closed and its negotiated keys removed. */
  private async frontendClose(fe: string, device: string): Promise<{ backend: string; backendDomid: number }> {
    const backendDomid = Number((await this.xs.read(`${fe}/backend-id`)) ?? '0');
    const backend = await this.xs.read(`${fe}/backend`);
    if (!backend) throw new DumpFailed(`the dump target device/vbd/${device} has no backend (FrontendClose: __UpdateBackendPath failed)`);
    await this.closeTarget(fe, backend);
    for (const k of ['ring-page-order', 'feature-online-resize', 'feature-surprise-remove', 'multi-queue-num-queues']) await this.xs.rm(`${fe}/${k}`).catch(() => undefined);
    return { backend, backendDomid };
  }

  /** FrontendPrepare: the target's keys, Initialising, the backend at InitWait; its features read. */
  private async frontendPrepare(fe: string, target: string, device: string, backend: string): Promise<DumpFeatures> {
    await this.xs.write(`${target}/frontend`, fe);
    await this.xs.write(`${target}/device`, device);
    await this.xs.write(`${target}/filter`, 'absent');
    await this.setState(fe, XenbusState.Initialising);
    let s = XenbusState.Unknown as number;
    do s = await this.pollState(backend, s);
    while (s === XenbusState.Closed || s === XenbusState.Initialising);
    if (s !== XenbusState.InitWait) throw new DumpFailed(`the backend went to state ${s}, not InitWait (FrontendPrepare)`);
    return { barrier: await this.flag(`${backend}/feature-barrier`), flush: await this.flag(`${backend}/feature-flush-cache`) };
  }

  /** FrontendConnect: __AllocRing, __WriteRing, Initialised, wait for Connected, Connected. */
  private async frontendConnect(fe: string, device: string, backend: string, backendDomid: number): Promise<FrontendRing> {
    const port = this.dom.hv.evtchn.allocUnbound(this.dom.domid, backendDomid);
    // polled: interrupts are off in dump mode, the dump port calls HwInterrupt itself
    this.dom.hv.evtchn.bind(this.dom.domid, port, () => undefined);
    const dev = `vbd/${Number(device)}` as const;
    const r = new FrontendRing(this.dom, dev, 0, 'blk', 0, blk.BLKIF_ENTRY_SIZE, backendDomid, port);
    this.ring = r;
    await this.xs.transaction(async (tx) => {
      await tx.write(`${fe}/event-channel`, String(port));
      await tx.write(`${fe}/ring-ref`, String(r.refs[0]));
      await tx.write(`${fe}/protocol`, 'x86_64-abi');
      await tx.write(`${fe}/feature-surprise-remove`, '1');
      await tx.write(`${fe}/feature-online-resize`, '1');
      await tx.write(`${fe}/feature-large-sector-size`, '1');
      await tx.write(`${fe}/multi-queue-num-queues`, '1');
    });
    await this.setState(fe, XenbusState.Initialised);
    let s = XenbusState.Unknown as number;
    do s = await this.pollState(backend, s);
    while (s === XenbusState.InitWait || s === XenbusState.Initialising || s === XenbusState.Initialised);
    if (s !== XenbusState.Connected) throw new DumpFailed(`the backend went to state ${s}, not Connected (FrontendConnect)`);
    await this.setState(fe, XenbusState.Connected);
    return r;
  }

  /** __ReadDiskInfo: the dump goes at the end of the disk, which must hold twice its size. */
  private async dumpSector(backend: string): Promise<number> {
    const sectors = Number((await this.xs.read(`${backend}/sectors`)) ?? '0');
    const dumpSectors = DUMP_BYTES / blk.SECTOR_SIZE;
    if (sectors < dumpSectors * 2) throw new DumpFailed(`the boot disk (${sectors} sectors) is too small for a page file holding a ${DUMP_BYTES}-byte dump`);
    return sectors - dumpSectors;
  }

  /** The dump: body first, the header page last, one SRB at a time, then the cache synchronized. */
  private async writeDump(r: FrontendRing, image: Buffer, features: DumpFeatures, sector: number, out: DumpOutcome): Promise<void> {
    for (let off = DUMP_HEADER_BYTES; off < DUMP_BYTES; off += DUMP_MAX_TRANSFER) {
      await this.writeSrb(r, sector + off / blk.SECTOR_SIZE, image.subarray(off, Math.min(DUMP_BYTES, off + DUMP_MAX_TRANSFER)), out);
    }
    await this.writeSrb(r, sector, image.subarray(0, DUMP_HEADER_BYTES), out);
    // SCSIOP_SYNCHRONIZE_CACHE (PdoSyncCache), then SRB_FUNCTION_SHUTDOWN (nothing in flight: completes at once)
    await this.syncCache(r, features, sector, out);
    out.bytes = DUMP_BYTES;
    out.written = true;
    if (out.errors) this.log('warn', `xencrsh: ${out.errors} request(s) failed by the backend (completed as success)`);
  }

  /** The guest restarted: the dump ring's grants end (once its backend let go of them). */
  release(): void {
    this.ring?.end({ endGrants: true, force: false });
  }

  /** One SRB of PrepareReadWrite: up to 2 requests of up to 11 granted bounce pages, pushed, then polled. */
  private async writeSrb(ring: FrontendRing, sector: number, data: Buffer, out: DumpOutcome): Promise<void> {
    const pages = Math.ceil(data.length / 4096);
    const reqs: { op: number; sector: number; segs: blk.BlkifSegment[]; gfns: number[]; grefs: number[] }[] = [];
    for (let p = 0; p < pages; p += blk.BLKIF_MAX_SEGMENTS_PER_REQUEST) {
      const n = Math.min(blk.BLKIF_MAX_SEGMENTS_PER_REQUEST, pages - p);
      const req = { op: blk.BLKIF_OP_WRITE, sector: sector + p * blk.SECTORS_PER_PAGE, segs: [] as blk.BlkifSegment[], gfns: [] as number[], grefs: [] as number[] };
      for (let i = 0; i < n; i++) {
        const { gfn, buf } = this.dom.memory.alloc(1);
        const chunk = data.subarray((p + i) * 4096, (p + i + 1) * 4096);
        chunk.copy(buf);
        const gref = this.dom.grants.grantAccess(ring.backendDomid, gfn, true, ring.dev);
        req.gfns.push(gfn);
        req.grefs.push(gref);
        req.segs.push({ gref, firstSect: 0, lastSect: Math.ceil(chunk.length / blk.SECTOR_SIZE) - 1 });
      }
      reqs.push(req);
    }
    await this.submit(ring, reqs, out);
    for (const q of reqs) {
      q.grefs.forEach((g) => this.dom.grants.endAccess(g) || this.dom.grants.forceEnd(g));
      q.gfns.forEach((g) => this.dom.memory.free(g));
    }
  }

  private async syncCache(ring: FrontendRing, features: DumpFeatures, sector: number, out: DumpOutcome): Promise<void> {
    let op: number | undefined;
    if (features.barrier) op = blk.BLKIF_OP_WRITE_BARRIER;
    else if (features.flush || this.faults.dumpFlushUnadvertised) op = blk.BLKIF_OP_FLUSH_DISKCACHE;
    if (op === undefined) return; // "cannot submit this to backend, just complete the SRB"
    const statuses = await this.submit(ring, [{ op, sector, segs: [] }], out);
    if (statuses[0] === blk.BLKIF_RSP_EOPNOTSUPP) this.log('warn', `xencrsh: the backend answered BLKIF_RSP_EOPNOTSUPP to ${op === blk.BLKIF_OP_WRITE_BARRIER ? 'BARRIER' : 'FLUSH'}: feature dropped`);
  }

  /** Puts one SRB's requests on the ring and polls (HwInterrupt) until all are answered. */
  private async submit(ring: FrontendRing, reqs: { op: number; sector: number; segs: blk.BlkifSegment[] }[], out: DumpOutcome): Promise<number[]> {
    const front = ring.front;
    while (front.freeRequests() <= reqs.length) await this.sleep(IO_POLL_MS); // FrontendCanSubmitRequest
    const ids = new Map<number, number>();
    const statuses: number[] = [];
    const hv = this.dom.hv;
    for (const [i, q] of reqs.entries()) {
      const id = this.nextId++;
      ids.set(id, i);
      const handle = Number(ring.dev.split('/')[1]) & 0xffff;
      const r: blk.BlkifRequest = q.op === blk.BLKIF_OP_WRITE
        ? { operation: blk.BLKIF_OP_WRITE, handle, id, sector: q.sector, segments: q.segs }
        : { operation: q.op as 2 | 3, handle, id, sector: q.sector, segments: [] } as blk.BlkifRequest;
      blk.encodeBlkifRequest(ring.mem, front.nextRequestOffset(), r);
      front.reqProdPvt = idxAdd(front.reqProdPvt, 1);
      hv.report.ringIo({ domid: this.dom.domid, dev: ring.dev, queue: 0, ring: 'blk', dir: 'req', id, op: q.op });
    }
    ring.push(); // FrontendPushRequestAndCheckNotify
    const deadline = hv.sched.now() + DUMP_WAIT_LIMIT_MS;
    while (ids.size > 0) {
      // FrontendCompleteResponses
      while (front.rspCons !== front.sring.rspProd) {
        const rsp = blk.decodeBlkifResponse(ring.mem, front.sring.slotOffset(front.rspCons));
        front.rspCons = idxAdd(front.rspCons, 1);
        hv.report.ringIo({ domid: this.dom.domid, dev: ring.dev, queue: 0, ring: 'blk', dir: 'rsp', id: rsp.id, op: rsp.operation, status: rsp.status });
        const i = ids.get(rsp.id);
        if (i === undefined) continue;
        ids.delete(rsp.id);
        statuses[i] = rsp.status;
        if (rsp.status !== blk.BLKIF_RSP_OKAY) out.errors++;
      }
      if (ids.size === 0 || !front.finalCheckForResponses()) {
        if (ids.size === 0) break;
        if (hv.sched.now() >= deadline) throw new DumpFailed(`${ids.size} request(s) unanswered for ${DUMP_WAIT_LIMIT_MS} ms (the real path polls forever)`);
        await this.sleep(IO_POLL_MS);
      }
    }
    return statuses;
  }
}
