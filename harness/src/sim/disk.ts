// A sparse in-memory disk: 4 KiB chunks allocated on first write, zero elsewhere, discard frees
// chunks. Sector addressing is in 512-byte units as blkif uses.
import { SECTOR_SIZE } from '../abi/blkif';

const CHUNK = 4096;
const SECTORS_PER_CHUNK = CHUNK / SECTOR_SIZE;

export class SparseDisk {
  private chunks = new Map<number, Buffer>();
  constructor(readonly sectors: number) {}

  read(sector: number, dst: Buffer, dstOff: number, nsect: number): void {
    for (let s = 0; s < nsect; s++) {
      const abs = sector + s;
      const c = this.chunks.get(Math.floor(abs / SECTORS_PER_CHUNK));
      const o = dstOff + s * SECTOR_SIZE;
      if (c) c.copy(dst, o, (abs % SECTORS_PER_CHUNK) * SECTOR_SIZE, (abs % SECTORS_PER_CHUNK + 1) * SECTOR_SIZE);
      else dst.fill(0, o, o + SECTOR_SIZE);
    }
  }

  write(sector: number, src: Buffer, srcOff: number, nsect: number): void {
    for (let s = 0; s < nsect; s++) {
      const abs = sector + s;
      const idx = Math.floor(abs / SECTORS_PER_CHUNK);
      let c = this.chunks.get(idx);
      if (!c) this.chunks.set(idx, (c = Buffer.alloc(CHUNK)));
      src.copy(c, (abs % SECTORS_PER_CHUNK) * SECTOR_SIZE, srcOff + s * SECTOR_SIZE, srcOff + (s + 1) * SECTOR_SIZE);
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

  /** Bytes actually allocated (sparse usage). */
  allocatedBytes(): number {
    return this.chunks.size * CHUNK;
  }
}
