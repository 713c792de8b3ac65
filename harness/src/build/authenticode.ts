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

/** Locates the fields the Authenticode hash skips; undefined when the bytes are not a PE image. */
export function peLayout(buf: Buffer): PeLayout | undefined {
  if (buf.length < 0x40 || buf.toString('latin1', 0, 2) !== 'MZ') return undefined;
  const lfanew = buf.readUInt32LE(0x3c);
  if (lfanew + 24 + 2 > buf.length || buf.toString('latin1', lfanew, lfanew + 4) !== 'PE\0\0') return undefined;
  const opt = lfanew + 24;
  const magic = buf.readUInt16LE(opt);
  const dirs = magic === 0x20b ? opt + 112 : magic === 0x10b ? opt + 96 : -1;
  if (dirs < 0) return undefined;
  const numberOfDirs = buf.readUInt32LE(dirs - 4);
  if (numberOfDirs < 5 || dirs + 5 * 8 > buf.length) return undefined;
  const certDirOffset = dirs + 4 * 8; // IMAGE_DIRECTORY_ENTRY_SECURITY
  const certTableOffset = buf.readUInt32LE(certDirOffset);
  const certTableSize = buf.readUInt32LE(certDirOffset + 4);
  if (certTableSize > 0 && certTableOffset + certTableSize > buf.length) return undefined;
  return { checksumOffset: opt + 64, certDirOffset, certTableOffset, certTableSize };
}

/** Authenticode digest of a PE image; undefined when it is not one. */
export function authenticodeDigest(buf: Buffer, alg: DigestAlgorithm): Buffer | undefined {
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
