// Guest memory: pages of 4 KiB identified by guest frame numbers, allocated in contiguous slabs so a
// multi-page ring granted page by page can be mapped back as one contiguous area (as a backend's
// vmap of the granted frames is).
import { PAGE_SIZE } from '../abi/ring';
import { HypercallError } from './errors';

interface Slab {
  base: number; // first gfn
  buf: Buffer;
}

export class GuestMemory {
  private byGfn = new Map<number, { slab: Slab; index: number }>();
  private nextGfn: number;
  /** Freed slabs by page count, oldest first (reused before new frames are taken). */
  private freed = new Map<number, Slab[]>();

  constructor(readonly domid: number, firstGfn = 0x1000) {
    this.nextGfn = firstGfn;
  }

  /** Allocates `n` contiguous zeroed pages; returns the first gfn and the memory. */
  alloc(n: number): { gfn: number; buf: Buffer } {
    const reused = this.freed.get(n)?.shift();
    const slab = reused ?? { base: this.nextGfn, buf: Buffer.alloc(n * PAGE_SIZE) };
    if (!reused) this.nextGfn += n;
    else slab.buf.fill(0);
    for (let i = 0; i < n; i++) this.byGfn.set(slab.base + i, { slab, index: i });
    return { gfn: slab.base, buf: slab.buf };
  }

  /** Returns a slab to the allocator (its gfns become invalid until reused). */
  free(gfn: number): void {
    const at = this.byGfn.get(gfn);
    if (!at) return;
    const slab = at.slab;
    const n = slab.buf.length / PAGE_SIZE;
    for (let i = 0; i < n; i++) this.byGfn.delete(slab.base + i);
    const same = this.freed.get(n);
    if (same) same.push(slab);
    else this.freed.set(n, [slab]);
  }

  /** The 4 KiB page of a gfn. */
  page(gfn: number): Buffer {
    const at = this.byGfn.get(gfn);
    if (!at) throw new HypercallError('GNTST_general_error', `d${this.domid}: gfn ${gfn.toString(16)} is not populated`);
    return at.slab.buf.subarray(at.index * PAGE_SIZE, (at.index + 1) * PAGE_SIZE);
  }

  /** Consecutive gfns of one slab as one contiguous Buffer (a vmap of the frames). */
  contiguous(gfns: readonly number[]): Buffer {
    const first = this.byGfn.get(gfns[0]);
    if (!first) throw new HypercallError('GNTST_general_error', `d${this.domid}: gfn ${gfns[0]} is not populated`);
    gfns.forEach((g, i) => {
      const at = this.byGfn.get(g);
      if (!at || at.slab !== first.slab || at.index !== first.index + i) {
        throw new HypercallError('GNTST_general_error', `d${this.domid}: frames ${gfns.join(',')} are not contiguous`);
      }
    });
    return first.slab.buf.subarray(first.index * PAGE_SIZE, (first.index + gfns.length) * PAGE_SIZE);
  }

  /** Pages in use (for the leak audit and the bench). */
  pagesInUse(): number {
    return this.byGfn.size;
  }
}
