// xen/include/public/io/blkif.h: block requests and responses, byte-exact (x86_64 layout).
import { struct, type StructLayout } from './layout';
import { ringEntries } from './ring';
import { readU64, writeU64 } from './u64';

// blkif.h operation codes
export const BLKIF_OP_READ = 0;
export const BLKIF_OP_WRITE = 1;
export const BLKIF_OP_WRITE_BARRIER = 2;
export const BLKIF_OP_FLUSH_DISKCACHE = 3;
export const BLKIF_OP_DISCARD = 5;
export const BLKIF_OP_INDIRECT = 6;
// blkif.h limits
export const BLKIF_MAX_SEGMENTS_PER_REQUEST = 11;
export const BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST = 8;
/** blkif.h: segments per indirect page = XEN_PAGE_SIZE / sizeof(struct blkif_request_segment). */
export const BLKIF_SEGS_PER_INDIRECT_FRAME = 4096 / 8;
// blkif.h status codes
export const BLKIF_RSP_EOPNOTSUPP = -2;
export const BLKIF_RSP_ERROR = -1;
export const BLKIF_RSP_OKAY = 0;
export const BLKIF_DISCARD_SECURE = 1;
/** blkif.h: sector_number and first/last_sect are in 512-byte units whatever the sector-size. */
export const SECTOR_SIZE = 512;
/** 4096-byte page holds 8 sectors; last_sect <= 7. */
export const SECTORS_PER_PAGE = 8;

const BLKIF_SEGMENT = struct('io/blkif.h', 'struct blkif_request_segment', 8, [
  ['gref', 0, 4],
  ['first_sect', 4, 1],
  ['last_sect', 5, 1],
]);
const BLKIF_REQUEST = struct('io/blkif.h', 'struct blkif_request', 112, [
  ['operation', 0, 1],
  ['nr_segments', 1, 1],
  ['handle', 2, 2],
  ['id', 8, 8],
  ['sector_number', 16, 8],
  ['seg', 24, 88],
]);
const BLKIF_REQUEST_DISCARD = struct('io/blkif.h', 'struct blkif_request_discard', 32, [
  ['operation', 0, 1],
  ['flag', 1, 1],
  ['handle', 2, 2],
  ['id', 8, 8],
  ['sector_number', 16, 8],
  ['nr_sectors', 24, 8],
]);
const BLKIF_REQUEST_INDIRECT = struct('io/blkif.h', 'struct blkif_request_indirect', 64, [
  ['operation', 0, 1],
  ['indirect_op', 1, 1],
  ['nr_segments', 2, 2],
  ['id', 8, 8],
  ['sector_number', 16, 8],
  ['handle', 24, 2],
  ['indirect_grefs', 28, 32],
]);
const BLKIF_RESPONSE = struct('io/blkif.h', 'struct blkif_response', 16, [
  ['id', 0, 8],
  ['operation', 8, 1],
  ['status', 10, 2],
]);
/** union blkif_sring_entry: max(sizeof request, sizeof response). */
export const BLKIF_ENTRY_SIZE = 112;
export const blkifRingEntries = (order: number) => ringEntries(BLKIF_ENTRY_SIZE, order);

export interface BlkifSegment {
  gref: number;
  firstSect: number;
  lastSect: number;
}

export type BlkifRequest =
  | { operation: 0 | 1 | 2 | 3; handle: number; id: number; sector: number; segments: BlkifSegment[] }
  | { operation: 5; handle: number; id: number; sector: number; nrSectors: number; secure: boolean }
  | { operation: 6; indirectOp: number; handle: number; id: number; sector: number; nrSegments: number; indirectGrefs: number[] };

export interface BlkifResponse {
  id: number;
  operation: number;
  status: number;
}

export function encodeSegment(buf: Buffer, off: number, s: BlkifSegment): void {
  buf.writeUInt32LE(s.gref >>> 0, off);
  buf.writeUInt8(s.firstSect, off + 4);
  buf.writeUInt8(s.lastSect, off + 5);
  buf.writeUInt16LE(0, off + 6);
}

export function decodeSegment(buf: Buffer, off: number): BlkifSegment {
  return { gref: buf.readUInt32LE(off), firstSect: buf[off + 4], lastSect: buf[off + 5] };
}

/** Encodes a request into the 112-byte slot at `off`; unused bytes of the slot are zeroed. */
export function encodeBlkifRequest(buf: Buffer, off: number, r: BlkifRequest): void {
  buf.fill(0, off, off + BLKIF_ENTRY_SIZE);
  buf.writeUInt8(r.operation, off);
  writeU64(buf, r.id, off + 8);
  writeU64(buf, r.sector, off + 16);
  if (r.operation === BLKIF_OP_DISCARD) {
    buf.writeUInt8(r.secure ? BLKIF_DISCARD_SECURE : 0, off + 1);
    buf.writeUInt16LE(r.handle, off + 2);
    writeU64(buf, r.nrSectors, off + 24);
  } else if (r.operation === BLKIF_OP_INDIRECT) {
    if (r.indirectGrefs.length > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST) throw new RangeError('too many indirect pages');
    buf.writeUInt8(r.indirectOp, off + 1);
    buf.writeUInt16LE(r.nrSegments, off + 2);
    buf.writeUInt16LE(r.handle, off + 24);
    r.indirectGrefs.forEach((g, i) => buf.writeUInt32LE(g >>> 0, off + 28 + 4 * i));
  } else {
    if (r.segments.length > BLKIF_MAX_SEGMENTS_PER_REQUEST) throw new RangeError('too many segments for a direct request');
    buf.writeUInt8(r.segments.length, off + 1);
    buf.writeUInt16LE(r.handle, off + 2);
    r.segments.forEach((s, i) => encodeSegment(buf, off + 24 + 8 * i, s));
  }
}

export function decodeBlkifRequest(buf: Buffer, off: number): BlkifRequest {
  const operation = buf[off];
  const id = readU64(buf, off + 8);
  const sector = readU64(buf, off + 16);
  if (operation === BLKIF_OP_DISCARD) {
    return { operation, handle: buf.readUInt16LE(off + 2), id, sector, nrSectors: readU64(buf, off + 24), secure: (buf[off + 1] & BLKIF_DISCARD_SECURE) !== 0 };
  }
  if (operation === BLKIF_OP_INDIRECT) {
    const nrSegments = buf.readUInt16LE(off + 2);
    const pages = Math.min(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST, Math.ceil(nrSegments / BLKIF_SEGS_PER_INDIRECT_FRAME));
    const indirectGrefs: number[] = [];
    for (let i = 0; i < pages; i++) indirectGrefs.push(buf.readUInt32LE(off + 28 + 4 * i));
    return { operation, indirectOp: buf[off + 1], handle: buf.readUInt16LE(off + 24), id, sector, nrSegments, indirectGrefs };
  }
  const n = buf[off + 1];
  const segments: BlkifSegment[] = [];
  // A corrupt nr_segments is reported by the backend (status ERROR); decode only what fits.
  for (let i = 0; i < Math.min(n, BLKIF_MAX_SEGMENTS_PER_REQUEST); i++) segments.push(decodeSegment(buf, off + 24 + 8 * i));
  return { operation: operation as 0 | 1 | 2 | 3, handle: buf.readUInt16LE(off + 2), id, sector, segments };
}

/** Raw nr_segments byte of a direct request (a backend validates it against the limit). */
export const blkifRequestNrSegments = (buf: Buffer, off: number): number => buf[off + 1];

export function encodeBlkifResponse(buf: Buffer, off: number, r: BlkifResponse): void {
  buf.fill(0, off, off + BLKIF_RESPONSE.size);
  writeU64(buf, r.id, off);
  buf.writeUInt8(r.operation, off + 8);
  buf.writeInt16LE(r.status, off + 10);
}

export function decodeBlkifResponse(buf: Buffer, off: number): BlkifResponse {
  return { id: readU64(buf, off), operation: buf[off + 8], status: buf.readInt16LE(off + 10) };
}

export const BLKIF_STRUCTS: StructLayout[] = [BLKIF_SEGMENT, BLKIF_REQUEST, BLKIF_REQUEST_DISCARD, BLKIF_REQUEST_INDIRECT, BLKIF_RESPONSE];
