// The shared ring of xen/include/public/io/ring.h, over real memory.
//
// A shared ring is one or more contiguous 4 KiB pages: the sring header (four free-running u32
// indices, a 4-byte private union, 44 bytes of padding) and then an array of entries starting at
// byte 64. Front and back keep private copies (req_prod_pvt/rsp_cons, rsp_prod_pvt/req_cons) as
// the FRONT_RING/BACK_RING macros do; only the header lives in shared memory.
import { struct, type StructLayout } from './layout';

export const PAGE_SIZE = 4096; // XEN_PAGE_SIZE (x86)
/** ring.h: struct __name##_sring offsets. */
const SRING_REQ_PROD = 0;
const SRING_REQ_EVENT = 4;
const SRING_RSP_PROD = 8;
const SRING_RSP_EVENT = 12;
const SRING_PVT = 16; // union { netif.smartpoll_active; tapif_user.msg; pvt_pad[4] } pvt
const SRING_PAD = 20; // uint8_t __pad[44]
/** Offset of `ring[]` (the entries) in every sring. */
const SRING_HEADER_SIZE = 64;
/** Largest ring-page-order a Windows frontend (xenvbd) uses and the simulator supports. */
export const MAX_RING_PAGE_ORDER = 4;

/** Layout of the sring header, identical for every DEFINE_RING_TYPES instance (checked on blkif_sring). */
export const SRING_LAYOUT: StructLayout = struct('io/blkif.h', 'struct blkif_sring', 64 + 112, [
  ['req_prod', SRING_REQ_PROD, 4],
  ['req_event', SRING_REQ_EVENT, 4],
  ['rsp_prod', SRING_RSP_PROD, 4],
  ['rsp_event', SRING_RSP_EVENT, 4],
  ['pvt', SRING_PVT, 4],
  ['__pad', SRING_PAD, 44],
  ['ring', SRING_HEADER_SIZE, 112],
]);

/** Rounds down to a power of two (ring.h `__RD32`). */
function rounddownPow2(x: number): number {
  if (x <= 0) return 0;
  return 2 ** Math.floor(Math.log2(x));
}

/** ring.h `__RING_SIZE`: entries that fit in `4096 << order` bytes after the 64-byte header. */
export function ringEntries(entrySize: number, order: number): number {
  const bytes = PAGE_SIZE << order;
  return rounddownPow2(Math.floor((bytes - SRING_HEADER_SIZE) / entrySize));
}

/** u32 difference `a - b` as ring.h computes it with RING_IDX arithmetic. */
const idxSub = (a: number, b: number): number => (a - b) >>> 0;
export const idxAdd = (a: number, n: number): number => (a + n) >>> 0;
/** How far index `a` is ahead of `b`, signed (negative: behind), in RING_IDX's wrapping arithmetic. */
export const idxAhead = (a: number, b: number): number => (a - b) | 0;

/** The shared part of a ring: the sring header and entry slots in a Buffer of `4096 << order` bytes. */
export class SharedRing {
  readonly nrEnts: number;
  constructor(
    readonly mem: Buffer,
    readonly entrySize: number,
  ) {
    if (mem.length < PAGE_SIZE || (mem.length & (PAGE_SIZE - 1)) !== 0) {
      throw new RangeError(`shared ring memory must be whole pages, got ${mem.length} bytes`);
    }
    this.nrEnts = rounddownPow2(Math.floor((mem.length - SRING_HEADER_SIZE) / entrySize));
  }

  get reqProd(): number { return this.mem.readUInt32LE(SRING_REQ_PROD); }
  set reqProd(v: number) { this.mem.writeUInt32LE(v >>> 0, SRING_REQ_PROD); }
  get reqEvent(): number { return this.mem.readUInt32LE(SRING_REQ_EVENT); }
  set reqEvent(v: number) { this.mem.writeUInt32LE(v >>> 0, SRING_REQ_EVENT); }
  get rspProd(): number { return this.mem.readUInt32LE(SRING_RSP_PROD); }
  set rspProd(v: number) { this.mem.writeUInt32LE(v >>> 0, SRING_RSP_PROD); }
  get rspEvent(): number { return this.mem.readUInt32LE(SRING_RSP_EVENT); }
  set rspEvent(v: number) { this.mem.writeUInt32LE(v >>> 0, SRING_RSP_EVENT); }

  /** ring.h SHARED_RING_INIT: producers 0, event thresholds 1, private area and padding zeroed. */
  init(): void {
    this.mem.fill(0, 0, SRING_HEADER_SIZE);
    this.reqEvent = 1;
    this.rspEvent = 1;
  }

  /** Byte offset of the entry for free-running index `idx` (ring.h RING_GET_REQUEST/RESPONSE). */
  slotOffset(idx: number): number {
    return SRING_HEADER_SIZE + (idx & (this.nrEnts - 1)) * this.entrySize;
  }
}

/** FRONT_RING: the frontend's private producer of requests and consumer of responses. */
export class FrontRing {
  reqProdPvt = 0;
  rspCons = 0;
  constructor(readonly sring: SharedRing) {}

  get nrEnts(): number { return this.sring.nrEnts; }
  /** RING_FREE_REQUESTS */
  freeRequests(): number { return this.nrEnts - idxSub(this.reqProdPvt, this.rspCons); }
  /** RING_FULL */
  full(): boolean { return this.freeRequests() === 0; }
  /** Offset of the next request slot (RING_GET_REQUEST(r, req_prod_pvt)); the caller then advances reqProdPvt. */
  nextRequestOffset(): number { return this.sring.slotOffset(this.reqProdPvt); }
  /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: publishes req_prod_pvt; true when the backend must be notified. */
  pushRequests(): boolean {
    const old = this.sring.reqProd;
    const neu = this.reqProdPvt;
    this.sring.reqProd = neu; // wmb() before, mb() after: JS memory here is sequentially consistent
    return idxSub(neu, this.sring.reqEvent) < idxSub(neu, old);
  }
  /** RING_HAS_UNCONSUMED_RESPONSES */
  unconsumedResponses(): number { return idxSub(this.sring.rspProd, this.rspCons); }
  /** RING_FINAL_CHECK_FOR_RESPONSES: re-arms rsp_event and re-reads rsp_prod so no wake-up is lost. */
  finalCheckForResponses(): boolean {
    if (this.unconsumedResponses() > 0) return true;
    this.sring.rspEvent = idxAdd(this.rspCons, 1);
    return this.unconsumedResponses() > 0;
  }
  /** A frontend's interrupt handler: every response decoded (before its slot is given back) and taken,
   *  oldest first, then RING_FINAL_CHECK_FOR_RESPONSES, again while more arrived (ring.h's consumer loop). */
  consumeResponses<R>(decode: (offset: number) => R, take: (r: R) => void): void {
    do {
      while (this.rspCons !== this.sring.rspProd) {
        const r = decode(this.sring.slotOffset(this.rspCons));
        this.rspCons = idxAdd(this.rspCons, 1);
        take(r);
      }
    } while (this.finalCheckForResponses());
  }
}

/** BACK_RING: the backend's private consumer of requests and producer of responses. */
export class BackRing {
  rspProdPvt = 0;
  reqCons = 0;
  constructor(readonly sring: SharedRing) {}

  get nrEnts(): number { return this.sring.nrEnts; }
  /** RING_HAS_UNCONSUMED_REQUESTS: bounded by the free response slots as in ring.h. */
  unconsumedRequests(): number {
    const req = idxSub(this.sring.reqProd, this.reqCons);
    const rsp = this.nrEnts - idxSub(this.reqCons, this.rspProdPvt);
    return req < rsp ? req : rsp;
  }
  /** RING_REQUEST_CONS_OVERFLOW: the frontend produced more than the ring holds. */
  requestConsOverflow(cons: number): boolean { return idxSub(cons, this.rspProdPvt) >= this.nrEnts; }
  /** RING_REQUEST_PROD_OVERFLOW: req_prod claims more outstanding requests than nr_ents. */
  requestProdOverflow(prod: number): boolean { return idxSub(prod, this.rspProdPvt) > this.nrEnts; }
  nextResponseOffset(): number { return this.sring.slotOffset(this.rspProdPvt); }
  /** RING_PUSH_RESPONSES_AND_CHECK_NOTIFY */
  pushResponses(): boolean {
    const old = this.sring.rspProd;
    const neu = this.rspProdPvt;
    this.sring.rspProd = neu;
    return idxSub(neu, this.sring.rspEvent) < idxSub(neu, old);
  }
  /** RING_FINAL_CHECK_FOR_REQUESTS: re-arms req_event = req_cons + 1 and re-reads req_prod. */
  finalCheckForRequests(): boolean {
    if (this.unconsumedRequests() > 0) return true;
    this.sring.reqEvent = idxAdd(this.reqCons, 1);
    return this.unconsumedRequests() > 0;
  }
}
