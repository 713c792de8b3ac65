// Grant tables, version 1 (xen/include/public/grant_table.h), in real memory: each domain's table
// is a Buffer of 8-byte grant_entry_v1 {flags, domid, frame}, written by the granting guest and
// read by the hypervisor on map/copy, which checks the type, the grantee domid and read-only, and
// sets GTF_reading/GTF_writing while the frame is mapped. A holder record (who mapped which ref,
// for which device) makes leaks and grants ended while still mapped visible to the audit.
import {
  decodeGrantEntry, encodeGrantEntry, GNTTAB_NR_RESERVED_ENTRIES, GRANT_ENTRIES_PER_PAGE_V1,
  GTF_permit_access, GTF_reading, GTF_readonly, GTF_type_mask, GTF_writing,
} from '../abi/grant-table';
import { PAGE_SIZE } from '../abi/ring';
import { HypercallError } from './errors';
import type { GuestMemory } from './memory';

/** The most frames a table may grow to (Xen's default max_grant_frames is 64; 32 is plenty here). */
const DEFAULT_MAX_GRANT_FRAMES = 32;

export interface GrantAudit {
  active: number[];
  mapped: number[];
  revokedWhileMapped: number[];
}

/** The guest side: the granting domain writes entries in its own table (gnttab_grant_foreign_access). */
export class GrantTable {
  /** The table's frames in use. A table starts with one frame and grows by one when every ref of the
   *  frames it has is granted, as the guests' drivers ask Xen for more (Linux grant-table.c
   *  gnttab_expand; win-pv xenbus gnttab.c GnttabExpand, one frame at a time through
   *  XENMAPSPACE_grant_table; Xen's gnttab_grow_table), up to the most the domain may have. A ref
   *  beyond the frames the table has is GNTST_bad_gntref, as Xen judges it against
   *  nr_grant_entries. (Every frame up front cost each domain 128 KiB zeroed and a 16,384-slot array:
   *  2 % of the catalogue's CPU in the profile, docs/performance.md.) */
  private frames: Buffer;
  /** Refs given back, reused last-freed first; below them the never-used refs from `fresh` up
   *  (the same order as one stack of every ref, lowest on top, without building it per domain). */
  private freeRefs: number[] = [];
  private fresh = GNTTAB_NR_RESERVED_ENTRIES;
  /** Which device granted each ref (not part of the ABI: the simulator's bookkeeping for audits). */
  readonly tags: (string | undefined)[] = [];
  /** Set by the hypervisor: refs mapped right now (ref -> map count). */
  readonly mapCount = new Map<number, number>();
  /** Refs the guest ended while they were mapped (a use-after-free in waiting). */
  readonly revokedWhileMapped = new Map<number, string | undefined>();
  /** The most refs the table can hold once grown to its last frame. */
  readonly maxSize: number;

  constructor(readonly domid: number, maxFrames = DEFAULT_MAX_GRANT_FRAMES) {
    this.maxSize = maxFrames * GRANT_ENTRIES_PER_PAGE_V1;
    this.frames = Buffer.alloc(PAGE_SIZE);
  }

  /** The table's memory: the entries of every frame it has now. */
  get mem(): Buffer {
    return this.frames;
  }

  /** Refs the table holds now (nr_grant_entries). */
  get size(): number {
    return this.frames.length / 8;
  }

  private grow(): void {
    const grown = Buffer.alloc(this.frames.length + PAGE_SIZE);
    this.frames.copy(grown);
    this.frames = grown;
  }

  /** Grants `remoteDom` access to frame `gfn`: frame and domid first, then the flags (as Linux orders it). */
  grantAccess(remoteDom: number, gfn: number, readonly: boolean, tag?: string): number {
    let ref = this.freeRefs.pop();
    if (ref === undefined) {
      if (this.fresh >= this.maxSize) throw new HypercallError('ENOSPC', `d${this.domid}: grant table full`);
      if (this.fresh >= this.size) this.grow();
      ref = this.fresh++;
    }
    const o = ref * 8;
    this.mem.writeUInt16LE(remoteDom, o + 2);
    this.mem.writeUInt32LE(gfn >>> 0, o + 4);
    this.mem.writeUInt16LE(GTF_permit_access | (readonly ? GTF_readonly : 0), o);
    this.tags[ref] = tag;
    return ref;
  }

  /**
   * gnttab_end_foreign_access_ref: clears the entry unless the remote domain still has it mapped
   * (GTF_reading/GTF_writing set), in which case it fails and the caller must retry later.
   */
  endAccess(ref: number): boolean {
    const flags = this.mem.readUInt16LE(ref * 8);
    if (flags & (GTF_reading | GTF_writing)) return false;
    this.release(ref);
    return true;
  }

  /** Ends access even though the frame is mapped (the bug the grant-revoke-mapped fault models). */
  forceEnd(ref: number): void {
    if ((this.mapCount.get(ref) ?? 0) > 0) this.revokedWhileMapped.set(ref, this.tags[ref]);
    this.release(ref);
  }

  entry(ref: number) {
    if (ref < 0 || ref >= this.size) throw new HypercallError('GNTST_bad_gntref', `d${this.domid}: grant ref ${ref} out of range`);
    return decodeGrantEntry(this.mem, ref * 8);
  }

  /** Refs currently granted (type permit_access), optionally only those of one device. */
  activeRefs(tag?: string): number[] {
    const out: number[] = [];
    for (let r = GNTTAB_NR_RESERVED_ENTRIES; r < this.fresh; r++) { // refs from `fresh` up were never granted
      if ((this.mem.readUInt16LE(r * 8) & GTF_type_mask) === GTF_permit_access && (tag === undefined || this.tags[r] === tag)) out.push(r);
    }
    return out;
  }

  private release(ref: number): void {
    const o = ref * 8;
    if ((this.mem.readUInt16LE(o) & GTF_type_mask) === 0) return; // already free
    encodeGrantEntry(this.mem, o, { flags: 0, domid: 0, frame: 0 });
    this.tags[ref] = undefined;
    this.freeRefs.push(ref);
  }
}

interface Mapping {
  handle: number;
  grantee: number;
  granter: number;
  ref: number;
  readonly: boolean;
  /** The granting device, captured at map time (survives a premature end of the grant). */
  tag?: string;
}

/** The hypervisor side: GNTTABOP_map_grant_ref, unmap_grant_ref and copy. */
export class GrantOps {
  private maps = new Map<number, Mapping>();
  private nextHandle = 1;
  /** Statistics for the bench and backend.stats. */
  mapOps = 0;
  copyOps = 0;

  constructor(private readonly domain: (domid: number) => { grants: GrantTable; memory: GuestMemory } | undefined) {}

  /** Validates an entry for access by `grantee` and returns its frame. */
  private check(grantee: number, granter: number, ref: number, write: boolean): { table: GrantTable; frame: number } {
    const d = this.domain(granter);
    if (!d) throw new HypercallError('GNTST_bad_domain', `no domain ${granter}`);
    const e = d.grants.entry(ref);
    if ((e.flags & GTF_type_mask) !== GTF_permit_access) {
      throw new HypercallError('GNTST_bad_gntref', `d${granter} ref ${ref} is not granted (flags ${e.flags})`);
    }
    if (e.domid !== grantee) throw new HypercallError('GNTST_permission_denied', `d${granter} ref ${ref} is granted to d${e.domid}, not d${grantee}`);
    if (write && e.flags & GTF_readonly) throw new HypercallError('GNTST_permission_denied', `d${granter} ref ${ref} is read-only`);
    return { table: d.grants, frame: e.frame };
  }

  /** Maps one granted frame; returns the handle and the page (shared memory, not a copy). */
  map(grantee: number, granter: number, ref: number, readonly: boolean): { handle: number; page: Buffer } {
    const { table, frame } = this.check(grantee, granter, ref, !readonly);
    const page = this.domain(granter)!.memory.page(frame);
    return { handle: this.record(grantee, granter, table, ref, readonly), page };
  }

  /** Maps the frames of a multi-page ring and returns them as one contiguous area. */
  mapRing(grantee: number, granter: number, refs: readonly number[]): { handles: number[]; mem: Buffer } {
    const frames = refs.map((r) => this.check(grantee, granter, r, true).frame);
    const mem = this.domain(granter)!.memory.contiguous(frames);
    const table = this.domain(granter)!.grants;
    return { handles: refs.map((r) => this.record(grantee, granter, table, r, false)), mem };
  }

  unmap(handle: number): void {
    const m = this.maps.get(handle);
    if (!m) throw new HypercallError('GNTST_bad_handle', `no grant mapping ${handle}`);
    this.maps.delete(handle);
    const table = this.domain(m.granter)?.grants;
    if (!table) return;
    const n = (table.mapCount.get(m.ref) ?? 1) - 1;
    if (n > 0) table.mapCount.set(m.ref, n);
    else {
      table.mapCount.delete(m.ref);
      // Xen clears the in-use bits of a v1 entry when its last mapping goes.
      const o = m.ref * 8;
      table.mem.writeUInt16LE(table.mem.readUInt16LE(o) & ~(GTF_reading | GTF_writing), o);
    }
  }

  /** GNTTABOP_copy from a foreign grant into `dst`. */
  copyFrom(caller: number, granter: number, ref: number, offset: number, dst: Buffer, dstOff: number, len: number): void {
    const { frame } = this.check(caller, granter, ref, false);
    if (offset + len > PAGE_SIZE) throw new HypercallError('GNTST_general_error', `copy crosses the page (offset ${offset} len ${len})`);
    this.domain(granter)!.memory.page(frame).copy(dst, dstOff, offset, offset + len);
    this.copyOps++;
  }

  /** GNTTABOP_copy from `src` into a foreign writable grant. */
  copyTo(caller: number, granter: number, ref: number, offset: number, src: Buffer, srcOff: number, len: number): void {
    const { frame } = this.check(caller, granter, ref, true);
    if (offset + len > PAGE_SIZE) throw new HypercallError('GNTST_general_error', `copy crosses the page (offset ${offset} len ${len})`);
    src.copy(this.domain(granter)!.memory.page(frame), offset, srcOff, srcOff + len);
    this.copyOps++;
  }

  /** Mappings held by `grantee` of `granter`'s grants. */
  mappedRefs(granter: number, tag?: string): number[] {
    const out: number[] = [];
    for (const m of this.maps.values()) if (m.granter === granter && (tag === undefined || m.tag === tag)) out.push(m.ref);
    return out.sort((a, b) => a - b);
  }

  /** Handles of every mapping a domain holds (a dying backend domain unmaps them). */
  handlesHeldBy(grantee: number): number[] {
    return [...this.maps.values()].filter((m) => m.grantee === grantee).map((m) => m.handle);
  }

  audit(granter: number, tag?: string): GrantAudit {
    const table = this.domain(granter)?.grants;
    if (!table) return { active: [], mapped: [], revokedWhileMapped: [] };
    const revoked = [...table.revokedWhileMapped].filter(([, t]) => tag === undefined || t === tag).map(([r]) => r);
    return { active: table.activeRefs(tag), mapped: this.mappedRefs(granter, tag), revokedWhileMapped: revoked.sort((a, b) => a - b) };
  }

  private record(grantee: number, granter: number, table: GrantTable, ref: number, readonly: boolean): number {
    const handle = this.nextHandle++;
    this.maps.set(handle, { handle, grantee, granter, ref, readonly, tag: table.tags[ref] });
    table.mapCount.set(ref, (table.mapCount.get(ref) ?? 0) + 1);
    const o = ref * 8;
    table.mem.writeUInt16LE(table.mem.readUInt16LE(o) | GTF_reading | (readonly ? 0 : GTF_writing), o);
    this.mapOps++;
    return handle;
  }
}
