// The structure of a PE image's attribute certificate table, checked before its signature is
// trusted. Per Microsoft's PE/COFF specification ("The Attribute Certificate Table"), the table is
// a run of WIN_CERTIFICATE entries (dwLength u32 including the 8-byte header, wRevision u16,
// wCertificateType u16, then the PKCS#7 SignedData), each starting on an 8-byte boundary. Bytes
// after the PKCS#7 blob are not covered by the signature: an image grown there after signing still
// verifies with a lenient verifier (CVE-2013-3900; Windows refuses it with EnableCertPaddingCheck).
// A release check is strict: nothing but the alignment padding (fewer than 8 zero bytes) may follow.
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
  let entries = 0;
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
    entries++;
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
  if (entries > 1) problems.push(`${entries} certificate entries: multiple signatures, and only the first would be verified`);
  return problems;
}
