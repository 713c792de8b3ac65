// A sparse in-memory disk: 4 KiB chunks allocated on first write, zero elsewhere, discard frees
// chunks. Sector addressing is in 512-byte units as blkif uses.
import { SECTOR_SIZE } from '../abi/blkif';

const CHUNK = 4096;
const SECTORS_PER_CHUNK = CHUNK / SECTOR_SIZE;

/** Chunks are cut from zeroed slabs of this many: one allocation (and one memset) per 256 chunks
 * instead of one each, which was a twentieth of the catalogue's wall time. */
const CHUNKS_PER_SLAB = 256;
const SLAB_BYTES = CHUNKS_PER_SLAB * CHUNK;

/**
 * Slabs of released disks (their host closed), kept for the next disks of this process. Memory the
 * process has never touched costs a page fault per 4 KiB at its first write (about 3 ms of CPU per
 * MiB measured here, against 0.1 ms to rewrite it): most of what the simulator's block path cost
 * when every instance's disks were fresh memory. A reused slab is zeroed again before it is cut.
 */
const spareSlabs: Buffer[] = [];
/** At most this many spare slabs (MiB) are kept. */
const SPARE_SLABS_MAX = 128;

function takeSlab(): Buffer {
  const s = spareSlabs.pop();
  return s ? s.fill(0) : Buffer.alloc(SLAB_BYTES);
}

export class SparseDisk {
  private chunks = new Map<number, Buffer>();
  private slab: Buffer = Buffer.alloc(0);
  private slabUsed = 0;
  /** Slabs this disk cut its chunks from (given back by release()). */
  private slabs: Buffer[] = [];
  constructor(readonly sectors: number) {}

  private newChunk(): Buffer {
    if (this.slabUsed === this.slab.length) {
      this.slab = takeSlab();
      this.slabs.push(this.slab);
      this.slabUsed = 0;
    }
    this.slabUsed += CHUNK;
    return this.slab.subarray(this.slabUsed - CHUNK, this.slabUsed);
  }

  // Reads and writes go a chunk at a time (one copy per run of sectors inside a chunk, not one per
  // sector): block I/O is most of the simulator's memory traffic.
  read(sector: number, dst: Buffer, dstOff: number, nsect: number): void {
    for (let s = 0; s < nsect; ) {
      const abs = sector + s;
      const within = abs % SECTORS_PER_CHUNK;
      const run = Math.min(nsect - s, SECTORS_PER_CHUNK - within);
      const c = this.chunks.get((abs - within) / SECTORS_PER_CHUNK);
      const o = dstOff + s * SECTOR_SIZE;
      if (c) c.copy(dst, o, within * SECTOR_SIZE, (within + run) * SECTOR_SIZE);
      else dst.fill(0, o, o + run * SECTOR_SIZE);
      s += run;
    }
  }

  write(sector: number, src: Buffer, srcOff: number, nsect: number): void {
    for (let s = 0; s < nsect; ) {
      const abs = sector + s;
      const within = abs % SECTORS_PER_CHUNK;
      const run = Math.min(nsect - s, SECTORS_PER_CHUNK - within);
      const idx = (abs - within) / SECTORS_PER_CHUNK;
      let c = this.chunks.get(idx);
      if (!c) this.chunks.set(idx, (c = this.newChunk()));
      src.copy(c, within * SECTOR_SIZE, srcOff + s * SECTOR_SIZE, srcOff + (s + run) * SECTOR_SIZE);
      s += run;
    }
  }

  /** Discard: whole chunks inside the range are freed, partial ones zeroed (reads return zeros). */
  discard(sector: number, nsect: number): void {
    const zero = Buffer.alloc(SECTOR_SIZE);
    for (let s = sector; s < sector + nsect; ) {
      const idx = Math.floor(s / SECTORS_PER_CHUNK);
      if (s % SECTORS_PER_CHUNK === 0 && s + SECTORS_PER_CHUNK <= sector + nsect) {
        this.chunks.delete(idx);
        s += SECTORS_PER_CHUNK;
      } else {
        if (this.chunks.has(idx)) this.write(s, zero, 0, 1);
        s++;
      }
    }
  }

  /** A copy (snapshots). */
  clone(): SparseDisk {
    const d = new SparseDisk(this.sectors);
    for (const [k, v] of this.chunks) d.chunks.set(k, Buffer.from(v));
    return d;
  }

  /** Takes over another disk's contents (revert to a snapshot). */
  replaceWith(other: SparseDisk): void {
    this.chunks = other.chunks;
  }

  /** The disk is gone with its host: its contents are dropped and its slabs go to the next disks
   *  (nothing else holds them: clone() and snapshots copy). */
  release(): void {
    this.chunks = new Map();
    for (const s of this.slabs) if (spareSlabs.length < SPARE_SLABS_MAX) spareSlabs.push(s);
    this.slabs = [];
    this.slab = Buffer.alloc(0);
    this.slabUsed = 0;
  }

  /** Bytes actually allocated (sparse usage). */
  allocatedBytes(): number {
    return this.chunks.size * CHUNK;
  }
}
