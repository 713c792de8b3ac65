// 64-bit little-endian fields (blkif ids and sectors) as JS numbers. Values are kept below 2^53,
// which every id and sector the simulator produces is; larger values on decode lose low bits,
// so the codecs reject them rather than round silently.

export function writeU64(buf: Buffer, value: number, off: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`u64 field out of range: ${value}`);
  buf.writeUInt32LE(value % 0x100000000, off);
  buf.writeUInt32LE(Math.floor(value / 0x100000000), off + 4);
}

export function readU64(buf: Buffer, off: number): number {
  const hi = buf.readUInt32LE(off + 4);
  if (hi >= 0x200000) throw new RangeError(`u64 field at ${off} exceeds 2^53`);
  return hi * 0x100000000 + buf.readUInt32LE(off);
}
