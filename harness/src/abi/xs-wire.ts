// xen/include/public/io/xs_wire.h: the xenstore message header and the shared ring page layout.
import { struct } from './layout';

export const XSD_SOCKMSG = struct('io/xs_wire.h', 'struct xsd_sockmsg', 16, [
  ['type', 0, 4],
  ['req_id', 4, 4],
  ['tx_id', 8, 4],
  ['len', 12, 4],
]);
/** xs_wire.h XENSTORE_RING_SIZE and struct xenstore_domain_interface (the guest's store page). */
export const XENSTORE_RING_SIZE = 1024;
export const XENSTORE_DOMAIN_INTERFACE = struct('io/xs_wire.h', 'struct xenstore_domain_interface', 2076, [
  ['req', 0, 1024],
  ['rsp', 1024, 1024],
  ['req_cons', 2048, 4],
  ['req_prod', 2052, 4],
  ['rsp_cons', 2056, 4],
  ['rsp_prod', 2060, 4],
  ['server_features', 2064, 4],
  ['connection', 2068, 4],
  ['error', 2072, 4],
]);
export const XENSTORE_PAYLOAD_MAX = 4096;
export const XENSTORE_ABS_PATH_MAX = 3072;
export const XENSTORE_REL_PATH_MAX = 2048;

/** enum xsd_sockmsg_type (xs_wire.h); 20 was XS_RESTRICT, removed. */
export const XsType = {
  XS_CONTROL: 0,
  XS_DIRECTORY: 1,
  XS_READ: 2,
  XS_GET_PERMS: 3,
  XS_WATCH: 4,
  XS_UNWATCH: 5,
  XS_TRANSACTION_START: 6,
  XS_TRANSACTION_END: 7,
  XS_INTRODUCE: 8,
  XS_RELEASE: 9,
  XS_GET_DOMAIN_PATH: 10,
  XS_WRITE: 11,
  XS_MKDIR: 12,
  XS_RM: 13,
  XS_SET_PERMS: 14,
  XS_WATCH_EVENT: 15,
  XS_ERROR: 16,
  XS_IS_DOMAIN_INTRODUCED: 17,
  XS_RESUME: 18,
  XS_SET_TARGET: 19,
  XS_RESET_WATCHES: 21,
  XS_DIRECTORY_PART: 22,
} as const;

export interface XsdSockmsg {
  type: number;
  reqId: number;
  txId: number;
  len: number;
}

export function encodeSockmsg(b: Buffer, o: number, h: XsdSockmsg): void {
  b.writeUInt32LE(h.type >>> 0, o);
  b.writeUInt32LE(h.reqId >>> 0, o + 4);
  b.writeUInt32LE(h.txId >>> 0, o + 8);
  b.writeUInt32LE(h.len >>> 0, o + 12);
}
export const decodeSockmsg = (b: Buffer, o: number): XsdSockmsg => ({
  type: b.readUInt32LE(o), reqId: b.readUInt32LE(o + 4), txId: b.readUInt32LE(o + 8), len: b.readUInt32LE(o + 12),
});
