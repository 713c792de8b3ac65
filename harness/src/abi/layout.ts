// Struct layout descriptions: the single source of every offset the codecs use and of the table
// `winpv abi` prints. Each layout names the Xen public header it comes from so the ABI test can
// compile the same names against the real headers and compare every number.

export interface FieldLayout {
  /** Byte offset from the start of the struct (x86_64). */
  offset: number;
  /** Size in bytes of the member (the whole array for arrays). */
  size: number;
}

export interface StructLayout {
  /** Header under include/xen/ (public) that defines the struct, e.g. `io/blkif.h`. */
  header: string;
  /** C type as the header spells it (`struct blkif_request`). */
  ctype: string;
  size: number;
  /** Member designators as in the struct (`seg`, `u.gso.size`). */
  fields: Record<string, FieldLayout>;
}

export interface RingLayout {
  header: string;
  /** Prefix given to DEFINE_RING_TYPES (`blkif`, `netif_tx`), so the sring is `struct <name>_sring`. */
  name: string;
  /** sizeof(union <name>_sring_entry): the larger of request and response. */
  entrySize: number;
  /** nr_ents for ring-page-order 0..4 (`__RING_SIZE` over 4096 << order bytes). */
  entriesPerOrder: Record<string, number>;
}

export interface ConstantLayout {
  header: string;
  value: number;
}

/** Builds a struct layout from [name, offset, size] rows. */
export function struct(header: string, ctype: string, size: number, rows: [string, number, number][]): StructLayout {
  const fields: Record<string, FieldLayout> = {};
  for (const [name, offset, sz] of rows) fields[name] = { offset, size: sz };
  return { header, ctype, size, fields };
}
