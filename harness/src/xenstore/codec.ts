// The xenstore wire format (Xen's xen/include/public/io/xs_wire.h): a 16-byte header of four
// little-endian u32 {type, req_id, tx_id, len} followed by `len` payload bytes. The decoder is
// incremental: a socket read may hold half a packet or several packets at once.

/** enum xsd_sockmsg_type (xs_wire.h). 20 was XS_RESTRICT, removed from the daemon. */
export const XsType = {
  CONTROL: 0, // XS_DEBUG in older headers; XS_CONTROL since 4.9
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
  IS_DOMAIN_INTRODUCED: 17,
  RESUME: 18,
  SET_TARGET: 19,
  RESTRICT: 20,
  RESET_WATCHES: 21,
  DIRECTORY_PART: 22,
} as const;
/** Number of message types the daemon knows (XS_TYPE_COUNT in xenstored). */
export const XS_TYPE_COUNT = 23;

const TYPE_NAMES: string[] = [];
for (const [name, code] of Object.entries(XsType)) TYPE_NAMES[code] = name;
export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE_${type}`;
}

/** sizeof(struct xsd_sockmsg) (xs_wire.h). */
const XS_HEADER_SIZE = 16;
/** XENSTORE_PAYLOAD_MAX (xs_wire.h): "Violating this is very bad"; the daemon drops the connection. */
export const XENSTORE_PAYLOAD_MAX = 4096;
/** XENSTORE_ABS_PATH_MAX and XENSTORE_REL_PATH_MAX (xs_wire.h): longer paths get EINVAL. */
export const XENSTORE_ABS_PATH_MAX = 3072;
export const XENSTORE_REL_PATH_MAX = 2048;

/** The xsd_errors table of xs_wire.h, in its order, with Linux errno numbers. The daemon translates
 *  any error outside this table to EINVAL (the table's first entry). */
export const XS_ERRNO = {
  EINVAL: 22,
  EACCES: 13,
  EEXIST: 17,
  EISDIR: 21,
  ENOENT: 2,
  ENOMEM: 12,
  ENOSPC: 28,
  EIO: 5,
  ENOTEMPTY: 39,
  ENOSYS: 38,
  EROFS: 30,
  EBUSY: 16,
  EAGAIN: 11,
  EISCONN: 106,
  E2BIG: 7,
} as const;
export type XsErrno = keyof typeof XS_ERRNO;
export function isXsErrno(s: string): s is XsErrno {
  return Object.prototype.hasOwnProperty.call(XS_ERRNO, s);
}

export interface XsMessage {
  type: number;
  reqId: number;
  txId: number;
  payload: Buffer;
}

function checkPayloadSize(len: number, allowOversize: boolean): void {
  if (len > XENSTORE_PAYLOAD_MAX && !allowOversize) {
    throw new RangeError(`xenstore payload of ${len} bytes exceeds XENSTORE_PAYLOAD_MAX (${XENSTORE_PAYLOAD_MAX})`);
  }
}

/** A packet buffer with its header written and room for `len` payload bytes. */
function packetWithHeader(type: number, reqId: number, txId: number, len: number): Buffer {
  const out = Buffer.allocUnsafe(XS_HEADER_SIZE + len);
  out.writeUInt32LE(type >>> 0, 0);
  out.writeUInt32LE(reqId >>> 0, 4);
  out.writeUInt32LE(txId >>> 0, 8);
  out.writeUInt32LE(len, 12);
  return out;
}

/** One packet: header and payload in a single buffer. Throws on a payload over XENSTORE_PAYLOAD_MAX
 *  unless `allowOversize` (the fuzzer sends such packets on purpose). */
export function encodeMessage(msg: XsMessage, allowOversize = false): Buffer {
  checkPayloadSize(msg.payload.length, allowOversize);
  const out = packetWithHeader(msg.type, msg.reqId, msg.txId, msg.payload.length);
  msg.payload.copy(out, XS_HEADER_SIZE);
  return out;
}

/** Encodes a packet whose payload is a string (encoded as UTF-8 straight into the packet, no
 *  intermediate buffer: the daemon builds every watch event this way). */
export function encodePacket(type: number, reqId: number, txId: number, payload: Buffer | string): Buffer {
  if (typeof payload !== 'string') return encodeMessage({ type, reqId, txId, payload });
  const len = Buffer.byteLength(payload, 'utf8');
  checkPayloadSize(len, false);
  const out = packetWithHeader(type, reqId, txId, len);
  out.write(payload, XS_HEADER_SIZE, 'utf8');
  return out;
}

/** Result of feeding bytes to the decoder: whole messages, and `oversize` once a header announced a
 *  payload over the limit (the stream is then unusable; the daemon closes the connection). */
export interface DecodeResult {
  messages: XsMessage[];
  oversize?: { type: number; len: number };
}

/** Incremental decoder. Keeps at most one partial packet; never copies a complete packet that
 *  arrived in one chunk (payloads are views into the chunk). */
export class XsDecoder {
  private pending: Buffer | null = null;
  private broken: { type: number; len: number } | undefined;
  constructor(private readonly maxPayload = XENSTORE_PAYLOAD_MAX) {}

  /** Bytes held for a packet not yet complete. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  push(chunk: Buffer): DecodeResult {
    const messages: XsMessage[] = [];
    if (this.broken) return { messages, oversize: this.broken };
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let off = 0;
    while (buf.length - off >= XS_HEADER_SIZE) {
      const len = buf.readUInt32LE(off + 12);
      if (len > this.maxPayload) {
        this.broken = { type: buf.readUInt32LE(off), len };
        return { messages, oversize: this.broken };
      }
      if (buf.length - off < XS_HEADER_SIZE + len) break;
      messages.push({
        type: buf.readUInt32LE(off),
        reqId: buf.readUInt32LE(off + 4),
        txId: buf.readUInt32LE(off + 8),
        payload: buf.subarray(off + XS_HEADER_SIZE, off + XS_HEADER_SIZE + len),
      });
      off += XS_HEADER_SIZE + len;
    }
    if (off < buf.length) this.pending = Buffer.from(buf.subarray(off)); // own copy: the chunk may be reused
    return { messages };
  }
}

/** Splits a payload into its NUL-terminated strings. A final part without NUL is returned too
 *  (WRITE's value has none). Strings are decoded as UTF-8. */
export function splitStrings(payload: Buffer): string[] {
  const parts: string[] = [];
  let start = 0;
  for (;;) {
    const nul = payload.indexOf(0, start);
    if (nul < 0) break;
    parts.push(payload.toString('utf8', start, nul));
    start = nul + 1;
  }
  if (start < payload.length) parts.push(payload.toString('utf8', start));
  return parts;
}

/** Counts NUL bytes: xs_count_strings() in the daemon, which decides argument-count errors. */
export function countStrings(payload: Buffer): number {
  let n = 0;
  for (let i = payload.indexOf(0); i >= 0; i = payload.indexOf(0, i + 1)) n++;
  return n;
}

/** The XS_ERROR payload: the errno name and a NUL. */
export function errorPayload(errno: XsErrno): Buffer {
  return Buffer.from(errno + '\0', 'latin1');
}

/** Parses an XS_ERROR payload back to its errno name ("ENOENT\0" -> "ENOENT"). */
export function parseErrorPayload(payload: Buffer): string {
  const nul = payload.indexOf(0);
  return payload.toString('latin1', 0, nul < 0 ? payload.length : nul);
}

export const OK_PAYLOAD = Buffer.from('OK\0', 'latin1');

