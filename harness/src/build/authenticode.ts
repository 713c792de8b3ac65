// The Authenticode digest of a PE image: the hash a signature (and a catalog member entry) is over.
// Per Microsoft's "Windows Authenticode Portable Executable Signature Format": every byte of the
// file except the optional header's CheckSum, the Certificate Table data directory entry, and the
// attribute certificate table itself (which sits at the end of a signed file). Like osslsigncode,
// the bytes between the headers and the certificate table are hashed in file order.
import { createHash } from 'node:crypto';

export type DigestAlgorithm = 'sha1' | 'sha256';

export interface PeLayout {
  checksumOffset: number;
  certDirOffset: number;
  certTableOffset: number;
  certTableSize: number;
}

/** Why bytes are not a PE image whose Authenticode fields can be located (truncated, bad magic...). */
export class PeFormatError extends Error {}

/** Locates the fields the Authenticode hash skips; undefined when the bytes are not a PE image
 * (no MZ / PE signature). Bytes that claim to be one but are cut short or point outside the file
 * throw PeFormatError with the reason: every read is bounds-checked before it is made. */
export function peLayout(buf: Buffer): PeLayout | undefined {
  if (buf.length < 2 || buf.toString('latin1', 0, 2) !== 'MZ') return undefined;
  const need = (end: number, what: string) => {
    if (end > buf.length) throw new PeFormatError(`truncated: ${what} ends at byte ${end}, the file has ${buf.length}`);
  };
  need(0x40, 'the DOS header');
  const lfanew = buf.readUInt32LE(0x3c);
  need(lfanew + 4, 'the PE signature (e_lfanew ' + lfanew + ')');
  if (buf.toString('latin1', lfanew, lfanew + 4) !== 'PE\0\0') return undefined;
  const opt = lfanew + 24; // signature (4) + COFF file header (20)
  need(opt + 2, 'the optional header magic');
  const magic = buf.readUInt16LE(opt);
  // IMAGE_OPTIONAL_HEADER64 / 32: NumberOfRvaAndSizes at 108 / 92, the data directories after it.
  const dirs = magic === 0x20b ? opt + 112 : magic === 0x10b ? opt + 96 : -1;
  if (dirs < 0) throw new PeFormatError(`optional header magic 0x${magic.toString(16)} is neither PE32 (0x10b) nor PE32+ (0x20b)`);
  need(dirs, 'the optional header');
  const numberOfDirs = buf.readUInt32LE(dirs - 4);
  if (numberOfDirs < 5) throw new PeFormatError(`${numberOfDirs} data directories: no Certificate Table entry`);
  need(dirs + 5 * 8, 'the data directories');
  const certDirOffset = dirs + 4 * 8; // IMAGE_DIRECTORY_ENTRY_SECURITY
  const certTableOffset = buf.readUInt32LE(certDirOffset);
  const certTableSize = buf.readUInt32LE(certDirOffset + 4);
  if (certTableSize > 0 && certTableOffset + certTableSize > buf.length) {
    throw new PeFormatError(`truncated: the certificate table (offset ${certTableOffset}, ${certTableSize} bytes) ends past the file's ${buf.length} bytes`);
  }
  return { checksumOffset: opt + 64, certDirOffset, certTableOffset, certTableSize };
}

/** Authenticode digest of a PE image; undefined when it is not one. */
function authenticodeDigest(buf: Buffer, alg: DigestAlgorithm): Buffer | undefined {
  const l = peLayout(buf);
  if (!l) return undefined;
  const end = l.certTableSize > 0 ? l.certTableOffset : buf.length;
  const h = createHash(alg);
  h.update(buf.subarray(0, l.checksumOffset));
  h.update(buf.subarray(l.checksumOffset + 4, l.certDirOffset));
  h.update(buf.subarray(l.certDirOffset + 8, end));
  return h.digest();
}

/** The digest a catalog records for a file: Authenticode for PE images, a flat hash otherwise. */
export function catalogDigest(buf: Buffer, alg: DigestAlgorithm): { digest: Buffer; pe: boolean } {
  const pe = authenticodeDigest(buf, alg);
  return pe ? { digest: pe, pe: true } : { digest: createHash(alg).update(buf).digest(), pe: false };
}
