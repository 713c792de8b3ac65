// The structure of a PE image's attribute certificate table, checked before its signature is
// trusted. Per Microsoft's PE/COFF specification ("The Attribute Certificate Table"), the table is
// a run of WIN_CERTIFICATE entries (dwLength u32 including the 8-byte header, wRevision u16,
// wCertificateType u16, then the PKCS#7 SignedData), each starting on an 8-byte boundary. Bytes
// after the PKCS#7 blob are not covered by the signature: an image grown there after signing still
// verifies with a lenient verifier (CVE-2013-3900; Windows refuses it with EnableCertPaddingCheck).
// A release check is strict: nothing but the alignment padding (fewer than 8 zero bytes) may follow.
// A table of several entries (several signatures) is well-formed; each entry is verified on its own.
import { peLayout, PeFormatError } from './authenticode';

const WIN_CERT_HEADER = 8;
const align8 = (n: number) => (n + 7) & ~7;

/** Length of a DER element (tag, length, content) starting at `at`; undefined when cut short. */
function derLength(buf: Buffer, at: number, end: number): number | undefined {
  if (at + 2 > end) return undefined;
  const first = buf[at + 1];
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || at + 2 + n > end) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i];
  return 2 + n + len;
}

/** What is wrong with an image's certificate table; [] for a well-formed one or an unsigned image
 * (whose missing signature osslsigncode reports). */
export function certificateTableProblems(buf: Buffer): string[] {
  let layout;
  try {
    layout = peLayout(buf);
  } catch (e) {
    if (e instanceof PeFormatError) return [`not a valid PE image: ${e.message}`];
    throw e;
  }
  if (!layout) return ['not a PE image (no MZ and PE signatures)'];
  const { certTableOffset: start, certTableSize: size } = layout;
  if (size === 0) return [];
  const end = start + size;
  const problems: string[] = [];
  let at = start;
  while (at < end) {
    if (at + WIN_CERT_HEADER > end) {
      problems.push(`${end - at} byte(s) after the last certificate entry`);
      break;
    }
    const dwLength = buf.readUInt32LE(at);
    if (dwLength < WIN_CERT_HEADER || at + dwLength > end) {
      problems.push(`certificate entry at offset ${at} claims ${dwLength} bytes; the table has ${end - at} left`);
      break;
    }
    const blob = at + WIN_CERT_HEADER;
    const der = buf[blob] === 0x30 ? derLength(buf, blob, at + dwLength) : undefined;
    if (der === undefined || blob + der > at + dwLength) {
      problems.push(`certificate entry at offset ${at} does not hold a whole PKCS#7 SignedData`);
      break;
    }
    const after = blob + der;
    const next = align8(at + dwLength);
    const tail = buf.subarray(after, Math.min(next, end));
    if (tail.length >= 8 || tail.some((b) => b !== 0)) {
      problems.push(`${tail.length} byte(s) after the PKCS#7 signature in the certificate entry at offset ${at} (only fewer than 8 zero bytes of alignment may follow; CVE-2013-3900)`);
    }
    at = next;
  }
  return problems;
}

/** The certificate table's entries (offset and 8-byte-aligned length each), for a table that
 * certificateTableProblems found well-formed. UEFI images signed for both the 2011 and the 2023
 * Microsoft UEFI CAs carry two entries (Debian's shimx64.efi.signed does). */
export function certificateEntries(buf: Buffer): { offset: number; length: number }[] {
  const layout = peLayout(buf);
  if (!layout || layout.certTableSize === 0) return [];
  const end = layout.certTableOffset + layout.certTableSize;
  const entries: { offset: number; length: number }[] = [];
  for (let at = layout.certTableOffset; at + WIN_CERT_HEADER <= end; ) {
    const next = Math.min(align8(at + buf.readUInt32LE(at)), end);
    entries.push({ offset: at, length: next - at });
    at = next;
  }
  return entries;
}

/** The image with only its i-th certificate entry in the table, so each signature can be verified
 * on its own (osslsigncode reads a table of several entries as corrupt). The Authenticode digest
 * skips the table, so every copy has the original's digest; only the table and its directory's
 * size change (the PE checksum is left as it was: osslsigncode only warns about it). */
export function imageWithOnlyEntry(buf: Buffer, i: number): Buffer {
  const layout = peLayout(buf)!;
  const entry = certificateEntries(buf)[i];
  const copy = Buffer.concat([buf.subarray(0, layout.certTableOffset), buf.subarray(entry.offset, entry.offset + entry.length), buf.subarray(layout.certTableOffset + layout.certTableSize)]);
  copy.writeUInt32LE(entry.length, layout.certDirOffset + 4);
  return copy;
}
