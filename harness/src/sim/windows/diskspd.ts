// The simulated diskspd: real block requests through the xenvbd frontend's rings, with a bounded
// number of them standing for the whole run.
//
// Time-scaling model (documented, deterministic): the run keeps `outstanding = min(threads * qd,
// ring capacity)` requests in flight. The disk model gives a per-I/O service time L = latency +
// blockSize / bandwidth (slowed when more than `parallel` are in flight), so the modelled run does
// totalIos = outstanding / L * duration I/Os. Only REAL_REQUEST_BUDGET of them are pushed through
// the ring; each stands for `dilation = totalIos / budget` I/Os, and the backend's service time is
// multiplied by the same factor, so the run still occupies `duration` of virtual time (faults and
// hot-unplugs land in the middle of it) while costing a bounded number of real requests. Reported
// counts are real completions x dilation; latencies are real latencies / dilation.
//
// The budget is also bounded in bytes (REAL_BYTE_BUDGET): the cost of a real request is its data
// (copied into granted pages, into the disk, back out and compared), so 320 requests of 1 MiB cost
// as much as 5,000 of 64 KiB. Large blocks get fewer real requests (at least REAL_REQUEST_FLOOR,
// several times any queue depth a ring takes), each standing for more I/Os.
import { BLKIF_RSP_OKAY, SECTOR_SIZE } from '../../abi/blkif';
import type { BlockWorkloadStep } from '../../model/scenario';
import type { BlockResult } from '../../model/trace';
import { renderDiskspdXml, parseDiskspdXml } from '../../workloads';
import type { Rng } from '../random';
import type { Scheduler } from '../scheduler';
import type { Xenvbd } from '../frontend/xenvbd';
import type { DiskModel } from '../backend/blkback';

const REAL_REQUEST_BUDGET = 320;
/** Bytes of real writes a block workload moves at most (64 KiB blocks stay at 320 requests). */
const REAL_BYTE_BUDGET = 32 * 2 ** 20;
/** Real requests a workload gets however large its blocks (a 32-slot ring filled several times). */
const REAL_REQUEST_FLOOR = 32;

/** Real requests a workload of this block size pushes through the ring, at most. */
function realRequestBudget(blockSize: number): number {
  return Math.max(REAL_REQUEST_FLOOR, Math.min(REAL_REQUEST_BUDGET, Math.floor(REAL_BYTE_BUDGET / blockSize)));
}

const BIG_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 0;

export interface BlockRunContext {
  sched: Scheduler;
  rng: Rng;
  fe: Xenvbd;
  disk: DiskModel;
  computerName: string;
}

/** How the run is scaled (see the top of this file): requests in flight, real requests, the dilation. */
interface RunScale {
  nsect: number;
  outstanding: number;
  seconds: number;
  budget: number;
  dilation: number;
}

function scaleOf(w: BlockWorkloadStep, fe: Xenvbd, disk: DiskModel): RunScale {
  if (w.blockSize % SECTOR_SIZE !== 0 || w.blockSize <= 0) throw new RangeError(`block size ${w.blockSize} is not a multiple of 512`);
  const nsect = w.blockSize / SECTOR_SIZE;
  const capacity = Math.max(1, fe.nrEnts * Math.max(1, fe.queueCount));
  const outstanding = Math.max(1, Math.min(w.threads * w.queueDepth, capacity));
  const perIoUs = disk.latencyUs + w.blockSize / disk.bytesPerUs;
  const effective = Math.min(outstanding, disk.parallel);
  const seconds = w.durationMs / 1000;
  const totalIos = Math.max(1, Math.round((effective / perIoUs) * 1e6 * seconds));
  const budget = Math.min(realRequestBudget(w.blockSize), totalIos);
  return { nsect, outstanding, seconds, budget, dilation: totalIos / budget };
}

/** What the run's workers share: the workload, its scale, the span of blocks, the counts and latencies. */
interface DiskspdRun extends RunScale {
  w: BlockWorkloadStep;
  ctx: BlockRunContext;
  span: number;
  deadline: number;
  lat: { read: number[]; write: number[] };
  counts: { read: number; write: number; errors: number; verifyErrors: number; issued: number };
  seq: number;
}

// Word i/4 of a block holds (block * 2654435761 + i + pass) mod 2^32, little-endian. Filled
// through a Uint32Array view of uninitialised memory (writeUInt32LE per word, and zeroing a new
// array first, were a fifth of the catalogue's wall time in a --cpu-prof profile), into the
// worker's own buffer.
function pattern(b: Buffer, block: number, pass: number): Buffer {
  const base = (block * 2654435761 + pass) >>> 0;
  if (b.byteOffset % 4 === 0) {
    const words = new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
    for (let k = 0; k < words.length; k++) words[k] = base + 4 * k;
    if (BIG_ENDIAN) b.swap32();
  } else {
    for (let i = 0; i < b.length; i += 4) b.writeUInt32LE((base + i) >>> 0, i);
  }
  return b;
}

/** A completed read or write counted with its latency (scaled back by the dilation); an error counted. */
function count(run: DiskspdRun, op: 'read' | 'write', r: { status: number; latencyUs: number }): boolean {
  if (r.status !== BLKIF_RSP_OKAY) {
    run.counts.errors++;
    return false;
  }
  run.counts[op]++;
  run.lat[op].push(r.latencyUs / run.dilation / 1000);
  return true;
}

/** The block worker k uses next. With verification each worker owns every outstanding-th block, so
 *  no two workers ever race on one block between its write and its read-back. */
function nextBlock(run: DiskspdRun, k: number, own: number): number {
  const { w, ctx: { rng } } = run;
  return w.verify
    ? k + run.outstanding * (w.pattern === 'sequential' ? run.seq++ % own : rng.int(0, own - 1))
    : w.pattern === 'sequential' ? run.seq++ % run.span : rng.int(0, run.span - 1);
}

// Each worker has one request in flight and reuses its two block buffers: the frontend copies a
// write's data into granted pages before the request is pushed and a read's data out of them just
// before it completes, and keeps neither buffer. A fresh block-sized buffer per I/O (up to 1 MiB,
// zero-filled for reads) was most of the run's garbage-collector time (issue 20 profile).
async function ioWorker(run: DiskspdRun, k: number): Promise<void> {
  const { w, ctx: { sched, rng, fe }, nsect, counts } = run;
  const own = Math.max(1, Math.floor(run.span / run.outstanding));
  let writeBuf: Buffer | undefined;
  let readBuf: Buffer | undefined;
  const forWrite = () => (writeBuf ??= Buffer.allocUnsafe(w.blockSize));
  const forRead = () => (readBuf ??= Buffer.allocUnsafe(w.blockSize));
  while (sched.nowMicros() < run.deadline && counts.issued < run.budget) {
    counts.issued++;
    const n = counts.issued;
    const block = nextBlock(run, k, own);
    const sector = block * nsect;
    const special = w.flush && n % 16 === 0 ? { op: 'flush' as const, sector: 0, nsect: 0 } : w.discard && n % 16 === 8 ? { op: 'discard' as const, sector, nsect } : undefined;
    if (special) {
      const r = await fe.submit(special);
      if (r.status !== BLKIF_RSP_OKAY) counts.errors++;
      continue;
    }
    const isWrite = w.verify ? true : rng.int(0, 99) < w.writePercent;
    if (!isWrite) {
      count(run, 'read', await fe.submit({ op: 'read', sector, nsect, data: forRead() }));
      continue;
    }
    const data = pattern(forWrite(), block, n);
    const written = count(run, 'write', await fe.submit({ op: 'write', sector, nsect, data }));
    if (w.verify && written) {
      // Read the block back and compare (diskspd's pattern verification, one pass per write).
      const back = forRead().fill(0);
      if (count(run, 'read', await fe.submit({ op: 'read', sector, nsect, data: back })) && !back.equals(data)) counts.verifyErrors++;
    }
  }
}

export async function runDiskspd(w: BlockWorkloadStep, ctx: BlockRunContext): Promise<{ result: BlockResult; raw: string }> {
  const { sched, fe, disk } = ctx;
  const scale = scaleOf(w, fe, disk);
  const saved = disk.dilation;
  disk.dilation = scale.dilation;
  fe.timeDilation = scale.dilation;
  const sectors = Math.max(scale.nsect, fe.sectors || 2048 * 1024);
  const start = sched.nowMicros();
  const run: DiskspdRun = {
    ...scale, w, ctx, span: Math.max(1, Math.floor(sectors / scale.nsect) - 1), deadline: start + w.durationMs * 1000,
    lat: { read: [], write: [] }, counts: { read: 0, write: 0, errors: 0, verifyErrors: 0, issued: 0 }, seq: 0,
  };
  try {
    await Promise.all(Array.from({ length: scale.outstanding }, (_, k) => ioWorker(run, k)));
    // diskspd runs for its duration even when the I/O finished early.
    if (sched.nowMicros() < run.deadline) await sched.sleep((run.deadline - sched.nowMicros()) / 1000);
  } finally {
    disk.dilation = saved;
    fe.timeDilation = 1;
  }
  const raw = diskspdXml(run, sectors, Math.max(scale.seconds, (sched.nowMicros() - start) / 1e6));
  const result = parseDiskspdXml(raw, `diskspd on ${ctx.computerName}`);
  result.errors = run.counts.errors;
  result.verifyErrors = run.counts.verifyErrors;
  return { result, raw };
}

/** The run as diskspd's XML result, counts scaled up by the dilation. */
function diskspdXml(run: DiskspdRun, sectors: number, testTimeSeconds: number): string {
  const { w, counts, lat } = run;
  const scale = (n: number) => Math.round(n * run.dilation);
  return renderDiskspdXml({
    computerName: run.ctx.computerName,
    toolVersion: '2.1.0.0',
    profile: {
      durationSeconds: run.seconds, warmupSeconds: 0, blockSize: w.blockSize, queueDepth: w.queueDepth, threadsPerTarget: w.threads,
      writePercent: w.writePercent, random: w.pattern === 'random', measureLatency: true, disableOsCache: true,
    },
    testTimeSeconds,
    cpus: [{ userPercent: 1, kernelPercent: 4, idlePercent: 95 }],
    threads: [{
      targets: [{
        path: '#1', fileSize: sectors * SECTOR_SIZE,
        readBytes: scale(counts.read) * w.blockSize, readCount: scale(counts.read),
        writeBytes: scale(counts.write) * w.blockSize, writeCount: scale(counts.write),
        readLatencyMs: lat.read, writeLatencyMs: lat.write,
      }],
    }],
  });
}
