// xen/include/public/io/netif.h: tx/rx requests and responses, extra-info slots and the control
// ring, byte-exact (x86_64 layout).
import { struct, type StructLayout } from './layout';

// netif.h tx flags (NETTXF_*)
export const NETTXF_csum_blank = 1 << 0;
export const NETTXF_data_validated = 1 << 1;
export const NETTXF_more_data = 1 << 2;
export const NETTXF_extra_info = 1 << 3;
// netif.h rx flags (NETRXF_*)
export const NETRXF_data_validated = 1 << 0;
export const NETRXF_csum_blank = 1 << 1;
export const NETRXF_more_data = 1 << 2;
export const NETRXF_extra_info = 1 << 3;
export const NETRXF_gso_prefix = 1 << 4;
// netif.h status codes
export const NETIF_RSP_DROPPED = -2;
export const NETIF_RSP_ERROR = -1;
export const NETIF_RSP_OKAY = 0;
export const NETIF_RSP_NULL = 1;
// netif.h extra info types and flags
export const XEN_NETIF_EXTRA_TYPE_NONE = 0;
export const XEN_NETIF_EXTRA_TYPE_GSO = 1;
export const XEN_NETIF_EXTRA_TYPE_MCAST_ADD = 2;
export const XEN_NETIF_EXTRA_TYPE_MCAST_DEL = 3;
export const XEN_NETIF_EXTRA_TYPE_HASH = 4;
export const XEN_NETIF_EXTRA_FLAG_MORE = 1;
export const XEN_NETIF_GSO_TYPE_TCPV4 = 1;
export const XEN_NETIF_GSO_TYPE_TCPV6 = 2;
/** netif.h XEN_NETIF_MAX_TX_SIZE: largest packet a tx request chain describes. */
export const XEN_NETIF_MAX_TX_SIZE = 0xffff;
// netif.h control ring
export const XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS = 1;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM = 7;
export const XEN_NETIF_CTRL_STATUS_SUCCESS = 0;
export const XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED = 1;

const NETIF_TX_REQUEST = struct('io/netif.h', 'struct netif_tx_request', 12, [
  ['gref', 0, 4],
  ['offset', 4, 2],
  ['flags', 6, 2],
  ['id', 8, 2],
  ['size', 10, 2],
]);
const NETIF_TX_RESPONSE = struct('io/netif.h', 'struct netif_tx_response', 4, [
  ['id', 0, 2],
  ['status', 2, 2],
]);
const NETIF_RX_REQUEST = struct('io/netif.h', 'struct netif_rx_request', 8, [
  ['id', 0, 2],
  ['pad', 2, 2],
  ['gref', 4, 4],
]);
const NETIF_RX_RESPONSE = struct('io/netif.h', 'struct netif_rx_response', 8, [
  ['id', 0, 2],
  ['offset', 2, 2],
  ['flags', 4, 2],
  ['status', 6, 2],
]);
const NETIF_EXTRA_INFO = struct('io/netif.h', 'struct netif_extra_info', 8, [
  ['type', 0, 1],
  ['flags', 1, 1],
  ['u', 2, 6],
  ['u.gso.size', 2, 2],
  ['u.gso.type', 4, 1],
  ['u.gso.pad', 5, 1],
  ['u.gso.features', 6, 2],
  ['u.mcast.addr', 2, 6],
  ['u.hash.type', 2, 1],
  ['u.hash.algorithm', 3, 1],
  ['u.hash.value', 4, 4],
]);
const XEN_NETIF_CTRL_REQUEST = struct('io/netif.h', 'struct xen_netif_ctrl_request', 16, [
  ['id', 0, 2],
  ['type', 2, 2],
  ['data', 4, 12],
]);
const XEN_NETIF_CTRL_RESPONSE = struct('io/netif.h', 'struct xen_netif_ctrl_response', 12, [
  ['id', 0, 2],
  ['type', 2, 2],
  ['status', 4, 4],
  ['data', 8, 4],
]);

/** union netif_tx_sring_entry = max(12, 4); rx = max(8, 8); ctrl = max(16, 12). */
export const NETIF_TX_ENTRY_SIZE = 12;
export const NETIF_RX_ENTRY_SIZE = 8;
export const NETIF_CTRL_ENTRY_SIZE = 16;

export interface NetifTxRequest { gref: number; offset: number; flags: number; id: number; size: number }
export interface NetifTxResponse { id: number; status: number }
export interface NetifRxRequest { id: number; gref: number }
export interface NetifRxResponse { id: number; offset: number; flags: number; status: number }
export interface NetifExtraInfo {
  type: number;
  flags: number;
  /** The 6-byte union `u`, raw. */
  u: Buffer;
}
export interface NetifCtrlRequest { id: number; type: number; data: [number, number, number] }
export interface NetifCtrlResponse { id: number; type: number; status: number; data: number }

export function encodeTxRequest(b: Buffer, o: number, r: NetifTxRequest): void {
  b.writeUInt32LE(r.gref >>> 0, o);
  b.writeUInt16LE(r.offset, o + 4);
  b.writeUInt16LE(r.flags, o + 6);
  b.writeUInt16LE(r.id, o + 8);
  b.writeUInt16LE(r.size, o + 10);
}
export const decodeTxRequest = (b: Buffer, o: number): NetifTxRequest => ({
  gref: b.readUInt32LE(o), offset: b.readUInt16LE(o + 4), flags: b.readUInt16LE(o + 6), id: b.readUInt16LE(o + 8), size: b.readUInt16LE(o + 10),
});
export function encodeTxResponse(b: Buffer, o: number, r: NetifTxResponse): void {
  b.writeUInt16LE(r.id, o);
  b.writeInt16LE(r.status, o + 2);
}
export const decodeTxResponse = (b: Buffer, o: number): NetifTxResponse => ({ id: b.readUInt16LE(o), status: b.readInt16LE(o + 2) });
export function encodeRxRequest(b: Buffer, o: number, r: NetifRxRequest): void {
  b.writeUInt16LE(r.id, o);
  b.writeUInt16LE(0, o + 2);
  b.writeUInt32LE(r.gref >>> 0, o + 4);
}
export const decodeRxRequest = (b: Buffer, o: number): NetifRxRequest => ({ id: b.readUInt16LE(o), gref: b.readUInt32LE(o + 4) });
export function encodeRxResponse(b: Buffer, o: number, r: NetifRxResponse): void {
  b.writeUInt16LE(r.id, o);
  b.writeUInt16LE(r.offset, o + 2);
  b.writeUInt16LE(r.flags, o + 4);
  b.writeInt16LE(r.status, o + 6);
}
export const decodeRxResponse = (b: Buffer, o: number): NetifRxResponse => ({
  id: b.readUInt16LE(o), offset: b.readUInt16LE(o + 2), flags: b.readUInt16LE(o + 4), status: b.readInt16LE(o + 6),
});
export function encodeExtraInfo(b: Buffer, o: number, e: NetifExtraInfo): void {
  b.writeUInt8(e.type, o);
  b.writeUInt8(e.flags, o + 1);
  b.fill(0, o + 2, o + 8);
  e.u.copy(b, o + 2, 0, 6);
}
export const decodeExtraInfo = (b: Buffer, o: number): NetifExtraInfo => ({ type: b[o], flags: b[o + 1], u: Buffer.from(b.subarray(o + 2, o + 8)) });
/** The GSO member of the extra-info union (u.gso). */
export function gsoExtra(size: number, type: number, more = false): NetifExtraInfo {
  const u = Buffer.alloc(6);
  u.writeUInt16LE(size, 0);
  u.writeUInt8(type, 2);
  return { type: XEN_NETIF_EXTRA_TYPE_GSO, flags: more ? XEN_NETIF_EXTRA_FLAG_MORE : 0, u };
}
export function encodeCtrlRequest(b: Buffer, o: number, r: NetifCtrlRequest): void {
  b.writeUInt16LE(r.id, o);
  b.writeUInt16LE(r.type, o + 2);
  r.data.forEach((d, i) => b.writeUInt32LE(d >>> 0, o + 4 + 4 * i));
}
export const decodeCtrlRequest = (b: Buffer, o: number): NetifCtrlRequest => ({
  id: b.readUInt16LE(o), type: b.readUInt16LE(o + 2), data: [b.readUInt32LE(o + 4), b.readUInt32LE(o + 8), b.readUInt32LE(o + 12)],
});
export function encodeCtrlResponse(b: Buffer, o: number, r: NetifCtrlResponse): void {
  b.writeUInt16LE(r.id, o);
  b.writeUInt16LE(r.type, o + 2);
  b.writeUInt32LE(r.status >>> 0, o + 4);
  b.writeUInt32LE(r.data >>> 0, o + 8);
}
export const decodeCtrlResponse = (b: Buffer, o: number): NetifCtrlResponse => ({
  id: b.readUInt16LE(o), type: b.readUInt16LE(o + 2), status: b.readUInt32LE(o + 4), data: b.readUInt32LE(o + 8),
});

export const NETIF_STRUCTS: StructLayout[] = [
  NETIF_TX_REQUEST, NETIF_TX_RESPONSE, NETIF_RX_REQUEST, NETIF_RX_RESPONSE, NETIF_EXTRA_INFO, XEN_NETIF_CTRL_REQUEST, XEN_NETIF_CTRL_RESPONSE,
];

/** Requests available to a consumer: `prod - cons` in RING_IDX arithmetic. */
export const idxAvail = (prod: number, cons: number): number => (prod - cons) >>> 0;
