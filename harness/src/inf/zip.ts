// Zip archives (PKWARE APPNOTE 6.3): a writer for bundles and a reader for openBundle.
// Stored or deflated entries, CRC-32 checked on read, no zip64 (driver bundles are megabytes),
// entry names with forward slashes and no `..` (a hostile archive cannot write outside the target).
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const END_SIG = 0x06054b50;
const UTF8_FLAG = 0x0800;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipInput {
  /** Name inside the archive, forward slashes. */
  name: string;
  data: Uint8Array;
  /** Modification time (default 1980-01-01, the DOS epoch, so archives are reproducible). */
  mtime?: Date;
}

/** DOS date/time fields of a Date (local-time-free: UTC, 2-second resolution). */
function dosTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getUTCFullYear());
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

/** The fields a local file header and its central directory entry share, in the same order. */
interface EntryFields {
  method: number;
  time: number;
  date: number;
  crc: number;
  compressed: number;
  size: number;
  nameLength: number;
}

/** Writes the shared fields from "version needed to extract" to "extra field length" (APPNOTE.TXT
 *  4.3.7 and 4.3.12: offset 4 in a local header, 6 in a central directory entry); no extra field. */
function writeEntryFields(buf: Buffer, at: number, f: EntryFields): void {
  buf.writeUInt16LE(20, at); // version needed: 2.0 (deflate)
  buf.writeUInt16LE(UTF8_FLAG, at + 2);
  buf.writeUInt16LE(f.method, at + 4);
  buf.writeUInt16LE(f.time, at + 6);
  buf.writeUInt16LE(f.date, at + 8);
  buf.writeUInt32LE(f.crc, at + 10);
  buf.writeUInt32LE(f.compressed, at + 14);
  buf.writeUInt32LE(f.size, at + 18);
  buf.writeUInt16LE(f.nameLength, at + 22);
  buf.writeUInt16LE(0, at + 24); // extra field length
}

export function writeZip(entries: readonly ZipInput[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    checkName(e.name);
    const name = Buffer.from(e.name, 'utf8');
    const deflated = deflateRawSync(e.data, { level: 9 });
    // Store when deflate does not help (already-compressed or tiny files).
    const method = deflated.length < e.data.length ? 8 : 0;
    const body = method === 8 ? deflated : Buffer.from(e.data);
    const crc = crc32(e.data);
    const { time, date } = dosTime(e.mtime ?? new Date(Date.UTC(1980, 0, 1)));
    const entry: EntryFields = { method, time, date, crc, compressed: body.length, size: e.data.length, nameLength: name.length };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL_SIG, 0);
    writeEntryFields(local, 4, entry);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(CENTRAL_SIG, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0 (so external attrs carry a mode)
    writeEntryFields(central, 6, entry);
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attrs
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // regular file, rw-r--r--
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END_SIG, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([...locals, cd, end]);
}

export interface ZipEntry {
  name: string;
  data: Buffer;
}

export class ZipFormatError extends Error {}

function checkName(name: string): void {
  if (name === '' || name.startsWith('/') || name.includes('\\') || name.split('/').includes('..') || /^[a-z]:/i.test(name)) {
    throw new ZipFormatError(`unsafe entry name '${name}'`);
  }
}

/** Reads every file entry (directories skipped); throws ZipFormatError on a corrupt archive. */
export function readZip(buf: Buffer): ZipEntry[] {
  // The end-of-central-directory record is in the last 22 + 65535 bytes (after an optional comment).
  let end = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === END_SIG) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new ZipFormatError('no end of central directory record (not a zip, or truncated)');
  const count = buf.readUInt16LE(end + 10);
  const cdSize = buf.readUInt32LE(end + 12);
  const cdOffset = buf.readUInt32LE(end + 16);
  if (cdOffset + cdSize > end) throw new ZipFormatError('central directory lies outside the archive');
  const out: ZipEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > end || buf.readUInt32LE(p) !== CENTRAL_SIG) throw new ZipFormatError(`central directory entry ${i} is corrupt`);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const compSize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const localOffset = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith('/')) continue;
    checkName(name);
    if (localOffset + 30 > buf.length || buf.readUInt32LE(localOffset) !== LOCAL_SIG) throw new ZipFormatError(`${name}: local header is corrupt`);
    const dataStart = localOffset + 30 + buf.readUInt16LE(localOffset + 26) + buf.readUInt16LE(localOffset + 28);
    if (dataStart + compSize > buf.length) throw new ZipFormatError(`${name}: data runs past the end of the archive`);
    const raw = buf.subarray(dataStart, dataStart + compSize);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) {
      try {
        data = inflateRawSync(raw);
      } catch (e) {
        throw new ZipFormatError(`${name}: deflate data is corrupt (${(e as Error).message})`);
      }
    } else throw new ZipFormatError(`${name}: compression method ${method} is not supported`);
    if (data.length !== size) throw new ZipFormatError(`${name}: size ${data.length} differs from the recorded ${size}`);
    if (crc32(data) !== crc) throw new ZipFormatError(`${name}: CRC-32 mismatch`);
    out.push({ name, data });
  }
  return out;
}

/** Extracts a zip into dir (which must exist); names were checked by readZip. */
export function extractZip(buf: Buffer, dir: string): string[] {
  const root = resolve(dir);
  const names: string[] = [];
  for (const e of readZip(buf)) {
    const target = resolve(join(root, e.name));
    if (!target.startsWith(root + sep)) throw new ZipFormatError(`entry '${e.name}' escapes the target directory`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, e.data);
    names.push(e.name);
  }
  return names;
}
