// xen/include/public/grant_table.h: version 1 grant entries (8 bytes each, 512 per page).
import { struct } from './layout';

export const GRANT_ENTRY_V1 = struct('grant_table.h', 'struct grant_entry_v1', 8, [
  ['flags', 0, 2],
  ['domid', 2, 2],
  ['frame', 4, 4],
]);
/** Entries per 4 KiB grant-table frame. */
export const GRANT_ENTRIES_PER_PAGE_V1 = 4096 / 8;
// grant_table.h GTF_* type field (bits 0-1)
export const GTF_invalid = 0;
export const GTF_permit_access = 1;
export const GTF_accept_transfer = 2;
export const GTF_transitive = 3;
export const GTF_type_mask = 3;
// grant_table.h flag bits
export const GTF_readonly = 1 << 2;
export const GTF_reading = 1 << 3;
export const GTF_writing = 1 << 4;
export const GTF_sub_page = 1 << 8;
/** grant_table.h: the first refs are reserved for the toolstack (GNTTAB_NR_RESERVED_ENTRIES). */
export const GNTTAB_NR_RESERVED_ENTRIES = 8;
/** DOMID_SELF etc. from xen.h, used by GNTTABOP_copy. */
export const DOMID_SELF = 0x7ff0;

export interface GrantEntryV1 {
  flags: number;
  domid: number;
  frame: number;
}

export function encodeGrantEntry(b: Buffer, o: number, e: GrantEntryV1): void {
  b.writeUInt16LE(e.flags, o);
  b.writeUInt16LE(e.domid, o + 2);
  b.writeUInt32LE(e.frame >>> 0, o + 4);
}
export const decodeGrantEntry = (b: Buffer, o: number): GrantEntryV1 => ({ flags: b.readUInt16LE(o), domid: b.readUInt16LE(o + 2), frame: b.readUInt32LE(o + 4) });
