// The ABI table `winpv abi` prints: every struct layout, ring geometry and constant the simulator
// uses, keyed by the names in Xen's public headers. The ABI test compiles the same names with gcc
// against the installed headers and compares every number.
import * as blk from './blkif';
import * as net from './netif';
import * as gnt from './grant-table';
import * as xs from './xs-wire';
import { MAX_RING_PAGE_ORDER, ringEntries, SRING_LAYOUT } from './ring';
import type { ConstantLayout, RingLayout, StructLayout } from './layout';

export interface AbiTable {
  /** Pointer size and byte order the layouts are for. */
  target: { arch: 'x86_64'; endian: 'little' };
  structs: Record<string, StructLayout>;
  rings: Record<string, RingLayout>;
  constants: Record<string, ConstantLayout>;
}

function ring(header: string, name: string, entrySize: number): RingLayout {
  const entriesPerOrder: Record<string, number> = {};
  for (let o = 0; o <= MAX_RING_PAGE_ORDER; o++) entriesPerOrder[String(o)] = ringEntries(entrySize, o);
  return { header, name, entrySize, entriesPerOrder };
}

const c = (header: string, value: number): ConstantLayout => ({ header, value });

/** Every layout and constant the harness encodes, as Xen's public headers define them (`winpv abi`). */
export function abiTable(): AbiTable {
  const constants: Record<string, ConstantLayout> = { ...blkifConstants(), ...netifConstants(), ...grantConstants(), ...xenstoreConstants() };
  return { target: { arch: 'x86_64', endian: 'little' }, structs: abiStructs(), rings: abiRings(), constants };
}

/** The shared structures, keyed by their C name without `struct `. */
function abiStructs(): Record<string, StructLayout> {
  const structs: Record<string, StructLayout> = {};
  const add = (s: StructLayout, key = s.ctype.replace(/^struct /, '')) => (structs[key] = s);
  add(SRING_LAYOUT);
  for (const s of blk.BLKIF_STRUCTS) add(s);
  for (const s of net.NETIF_STRUCTS) add(s);
  add(gnt.GRANT_ENTRY_V1);
  add(xs.XSD_SOCKMSG);
  add(xs.XENSTORE_DOMAIN_INTERFACE);
  return structs;
}

function abiRings(): Record<string, RingLayout> {
  return {
    blkif: ring('io/blkif.h', 'blkif', blk.BLKIF_ENTRY_SIZE),
    netif_tx: ring('io/netif.h', 'netif_tx', net.NETIF_TX_ENTRY_SIZE),
    netif_rx: ring('io/netif.h', 'netif_rx', net.NETIF_RX_ENTRY_SIZE),
    xen_netif_ctrl: ring('io/netif.h', 'xen_netif_ctrl', net.NETIF_CTRL_ENTRY_SIZE),
  };
}

/** io/blkif.h: operations, limits, response codes. */
function blkifConstants(): Record<string, ConstantLayout> {
  const B = 'io/blkif.h';
  return {
    BLKIF_OP_READ: c(B, blk.BLKIF_OP_READ),
    BLKIF_OP_WRITE: c(B, blk.BLKIF_OP_WRITE),
    BLKIF_OP_WRITE_BARRIER: c(B, blk.BLKIF_OP_WRITE_BARRIER),
    BLKIF_OP_FLUSH_DISKCACHE: c(B, blk.BLKIF_OP_FLUSH_DISKCACHE),
    BLKIF_OP_DISCARD: c(B, blk.BLKIF_OP_DISCARD),
    BLKIF_OP_INDIRECT: c(B, blk.BLKIF_OP_INDIRECT),
    BLKIF_MAX_SEGMENTS_PER_REQUEST: c(B, blk.BLKIF_MAX_SEGMENTS_PER_REQUEST),
    BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST: c(B, blk.BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST),
    BLKIF_RSP_EOPNOTSUPP: c(B, blk.BLKIF_RSP_EOPNOTSUPP),
    BLKIF_RSP_ERROR: c(B, blk.BLKIF_RSP_ERROR),
    BLKIF_RSP_OKAY: c(B, blk.BLKIF_RSP_OKAY),
    BLKIF_DISCARD_SECURE: c(B, blk.BLKIF_DISCARD_SECURE),
  };
}

/** io/netif.h: tx/rx flags, response codes, extra-info and control-ring values. */
function netifConstants(): Record<string, ConstantLayout> {
  const N = 'io/netif.h';
  return {
    NETTXF_csum_blank: c(N, net.NETTXF_csum_blank),
    NETTXF_data_validated: c(N, net.NETTXF_data_validated),
    NETTXF_more_data: c(N, net.NETTXF_more_data),
    NETTXF_extra_info: c(N, net.NETTXF_extra_info),
    NETRXF_data_validated: c(N, net.NETRXF_data_validated),
    NETRXF_csum_blank: c(N, net.NETRXF_csum_blank),
    NETRXF_more_data: c(N, net.NETRXF_more_data),
    NETRXF_extra_info: c(N, net.NETRXF_extra_info),
    NETRXF_gso_prefix: c(N, net.NETRXF_gso_prefix),
    NETIF_RSP_DROPPED: c(N, net.NETIF_RSP_DROPPED),
    NETIF_RSP_ERROR: c(N, net.NETIF_RSP_ERROR),
    NETIF_RSP_OKAY: c(N, net.NETIF_RSP_OKAY),
    NETIF_RSP_NULL: c(N, net.NETIF_RSP_NULL),
    XEN_NETIF_EXTRA_TYPE_NONE: c(N, net.XEN_NETIF_EXTRA_TYPE_NONE),
    XEN_NETIF_EXTRA_TYPE_GSO: c(N, net.XEN_NETIF_EXTRA_TYPE_GSO),
    XEN_NETIF_EXTRA_TYPE_MCAST_ADD: c(N, net.XEN_NETIF_EXTRA_TYPE_MCAST_ADD),
    XEN_NETIF_EXTRA_TYPE_MCAST_DEL: c(N, net.XEN_NETIF_EXTRA_TYPE_MCAST_DEL),
    XEN_NETIF_EXTRA_TYPE_HASH: c(N, net.XEN_NETIF_EXTRA_TYPE_HASH),
    XEN_NETIF_EXTRA_FLAG_MORE: c(N, net.XEN_NETIF_EXTRA_FLAG_MORE),
    XEN_NETIF_GSO_TYPE_TCPV4: c(N, net.XEN_NETIF_GSO_TYPE_TCPV4),
    XEN_NETIF_GSO_TYPE_TCPV6: c(N, net.XEN_NETIF_GSO_TYPE_TCPV6),
    XEN_NETIF_MAX_TX_SIZE: c(N, net.XEN_NETIF_MAX_TX_SIZE),
    XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS: c(N, net.XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS),
    XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM: c(N, net.XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM),
    XEN_NETIF_CTRL_STATUS_SUCCESS: c(N, net.XEN_NETIF_CTRL_STATUS_SUCCESS),
    XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED: c(N, net.XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED),
  };
}

/** grant_table.h: grant entry flags. */
function grantConstants(): Record<string, ConstantLayout> {
  const G = 'grant_table.h';
  return {
    GTF_invalid: c(G, gnt.GTF_invalid),
    GTF_permit_access: c(G, gnt.GTF_permit_access),
    GTF_accept_transfer: c(G, gnt.GTF_accept_transfer),
    GTF_transitive: c(G, gnt.GTF_transitive),
    GTF_type_mask: c(G, gnt.GTF_type_mask),
    GTF_readonly: c(G, gnt.GTF_readonly),
    GTF_reading: c(G, gnt.GTF_reading),
    GTF_writing: c(G, gnt.GTF_writing),
    GTF_sub_page: c(G, gnt.GTF_sub_page),
    GNTTAB_NR_RESERVED_ENTRIES: c(G, gnt.GNTTAB_NR_RESERVED_ENTRIES),
  };
}

/** io/xs_wire.h: limits and the message types. */
function xenstoreConstants(): Record<string, ConstantLayout> {
  const X = 'io/xs_wire.h';
  const constants: Record<string, ConstantLayout> = {
    XENSTORE_PAYLOAD_MAX: c(X, xs.XENSTORE_PAYLOAD_MAX),
    XENSTORE_ABS_PATH_MAX: c(X, xs.XENSTORE_ABS_PATH_MAX),
    XENSTORE_REL_PATH_MAX: c(X, xs.XENSTORE_REL_PATH_MAX),
    XENSTORE_RING_SIZE: c(X, xs.XENSTORE_RING_SIZE),
  };
  for (const [k, v] of Object.entries(xs.XsType)) constants[k] = c(X, v);
  return constants;
}

/** Plain-text rendering for the terminal. */
export function renderAbiTable(t: AbiTable): string {
  const out: string[] = [`ABI (${t.target.arch}, ${t.target.endian}-endian), from Xen's public headers`, ''];
  for (const [name, s] of Object.entries(t.structs)) {
    out.push(`${s.ctype}  size ${s.size}  (${s.header})`);
    for (const [f, l] of Object.entries(s.fields)) out.push(`  ${f.padEnd(18)} offset ${String(l.offset).padStart(4)}  size ${String(l.size).padStart(4)}`);
    void name;
  }
  out.push('', 'rings: entries per ring-page-order 0..4');
  for (const [name, r] of Object.entries(t.rings)) {
    const per = Object.entries(r.entriesPerOrder).map(([o, n]) => `${o}:${n}`).join(' ');
    out.push(`  ${name.padEnd(15)} entry ${String(r.entrySize).padStart(3)} B  ${per}  (${r.header})`);
  }
  out.push('', 'constants:');
  for (const [name, k] of Object.entries(t.constants)) out.push(`  ${name.padEnd(40)} ${k.value}  (${k.header})`);
  return out.join('\n') + '\n';
}
