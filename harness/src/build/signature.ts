// Authenticode verification of .sys and .cat files with osslsigncode (Debian package), reduced
// to what a release decision needs: is there a signature, does the digest still match the bytes,
// does the chain verify against the trusted CAs, and who signed it.
import { runProcess } from '../util/process';

export type SignatureStatus =
  /** Signature present, digest matches, chain verifies. */
  | 'ok'
  /** Signature and digest fine, but the certificate chain is not trusted (a test certificate without --ca-file). */
  | 'untrusted'
  /** Signature and digest fine, but the signer's certificate has expired and no trusted timestamp
   * countersignature proves the signature was made while it was valid. */
  | 'expired'
  /** The file changed after signing (message digest mismatch, or a PKCS#7 digest failure). */
  | 'tampered'
  | 'unsigned'
  /** The signature's container is malformed (junk after the PKCS#7 blob, a truncated table). */
  | 'malformed'
  /** osslsigncode could not read the file or failed otherwise. */
  | 'error';

export interface SignatureResult {
  status: SignatureStatus;
  /** Subject of the signer's certificate (`/CN=...`), as osslsigncode prints it. */
  signer?: string;
  issuer?: string;
  digestAlgorithm?: string;
  /** The lines of osslsigncode's output that explain the verdict. */
  detail: string;
  /** Why the signer's chain failed, as OpenSSL words it (`certificate has expired`). */
  chainError?: string;
  /** The timestamp countersignature, when the signature carries one. */
  timestamp?: TimestampResult;
}

export interface TimestampResult {
  /** The time the timestamp authority vouches for, as osslsigncode prints it (`May 20 18:40:00 2020 GMT`). */
  time: string;
  /** The timestamp's own signature and chain verified against the timestamp roots. */
  verified: boolean;
  /** Why it did not (`unable to get local issuer certificate`). */
  error?: string;
}

export interface VerifyOptions {
  /** PEM file of trusted roots (a TestSign certificate); default: the system bundle. */
  caFile?: string;
  /** PEM file of trusted timestamp authority roots (`-TSA-CAfile`); default: the system bundle. A
   * signature countersigned by a trusted timestamp is verified at the timestamp's time, so it
   * outlives its signer certificate. */
  tsaCaFile?: string;
}

/** One result per signature of the file: the primary and each nested one (signtool /as,
 * osslsigncode -nest). */
export async function verifySignatures(file: string, opts: VerifyOptions = {}): Promise<SignatureResult[]> {
  const args = ['verify', ...(opts.caFile ? ['-CAfile', opts.caFile] : []), ...(opts.tsaCaFile ? ['-TSA-CAfile', opts.tsaCaFile] : []), '-in', file];
  const r = await runProcess(['osslsigncode', ...args], { timeoutMs: 120_000 });
  return judgeEachSignature(r.code, `${r.stdout}\n${r.stderr}`);
}

/** osslsigncode prints one "Signature Index: N" block per signature, primary and nested, and exits 0
 * ("Succeeded") when ANY of them verifies: a trusted nested signature would hide a failing primary.
 * Each block is judged on its own ("Signature verification: ok" inside it) so every one must verify. */
function judgeEachSignature(code: number, output: string): SignatureResult[] {
  const starts = [...output.matchAll(/^Signature Index:/gm)].map((m) => m.index!);
  if (starts.length <= 1) return [judgeOsslsigncode(code, output)];
  const head = output.slice(0, starts[0]);
  return starts.map((start, i) => {
    const block = head + output.slice(start, starts[i + 1] ?? output.length);
    return judgeOsslsigncode(/Signature verification: ok/i.test(block) ? 0 : 1, block);
  });
}

/** Interprets osslsigncode verify's exit status and output (pure: tested on recorded outputs). */
function judgeOsslsigncode(code: number, output: string): SignatureResult {
  const first = (re: RegExp) => re.exec(output)?.[1]?.trim();
  const signerBlock = /Signer's certificate:[\s\S]*?Subject:\s*(.+)\n\s*Issuer\s*:\s*(.+)/.exec(output);
  const signer = signerBlock && decodeEscapedUtf8(signerBlock[1].trim());
  const issuer = signerBlock && decodeEscapedUtf8(signerBlock[2].trim());
  const digestAlgorithm = first(/Message digest algorithm\s*:\s*(\S+)/);
  const current = first(/Current message digest\s*:\s*([0-9A-F]+)/i);
  const calculated = first(/Calculated message digest\s*:\s*([0-9A-F]+)/i);
  const interesting = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /MISMATCH|digest failure|signature failure|No signature found|verify error|Signature verification|unsupported input|Failed to open/i.test(l));
  const detail = [...new Set(interesting)].join('; ');
  const timestamp = timestampOf(output);
  // osslsigncode prints the signer chain after "Signing certificate chain verified using:", with
  // "Error: <OpenSSL's reason>" under it when the chain does not verify.
  const chainError = errorIn(/Signing certificate chain verified using:([\s\S]*?)(?:Signature verification:|$)/.exec(output)?.[1]);
  const base = {
    ...(signer ? { signer } : {}),
    ...(issuer ? { issuer } : {}),
    ...(digestAlgorithm ? { digestAlgorithm } : {}),
    ...(chainError ? { chainError } : {}),
    ...(timestamp ? { timestamp } : {}),
  };
  if (/No signature found/i.test(output)) return { status: 'unsigned', ...base, detail: detail || 'no signature found' };
  if ((current && calculated && current !== calculated) || /MISMATCH|digest failure|signature failure/i.test(output)) {
    return { status: 'tampered', ...base, detail };
  }
  if (code === 0 && /Signature verification: ok/i.test(output)) return { status: 'ok', ...base, detail };
  if (chainError && /certificate has expired/i.test(chainError) && signer) return { status: 'expired', ...base, detail };
  if (/self.signed certificate|unable to get local issuer|certificate verify error|unable to get issuer/i.test(output) && signer) {
    return { status: 'untrusted', ...base, detail };
  }
  return { status: 'error', ...base, detail: detail || output.trim().split('\n').slice(-3).join('; ') };
}

/** The reason on an "Error: ..." line of one section of the output. */
const errorIn = (section: string | undefined) => (section ? /\n\s*Error:\s*(.+)/.exec(section)?.[1]?.trim() : undefined);

/** The countersignature's time and verdict: osslsigncode prints "Timestamp time: ..." under
 * "Countersignatures:", then the TSA chain and "Timestamp Server Signature verification: ok|failed"
 * (with "Error: <reason>" before it when the TSA chain fails); "Timestamp is not available" when none. */
function timestampOf(output: string): TimestampResult | undefined {
  const time = /Timestamp time:\s*(.+)/.exec(output)?.[1]?.trim();
  if (!time) return undefined;
  const verdict = /Timestamp verified using:([\s\S]*?)Timestamp Server Signature verification:\s*(\S+)/.exec(output);
  const verified = verdict?.[2] === 'ok';
  const error = errorIn(verdict?.[1]);
  return { time, verified, ...(!verified ? { error: error ?? 'the timestamp was not verified' } : {}) };
}

/** osslsigncode prints a name's non-ASCII bytes as `\xC3\xBC`; the bytes are UTF-8 (X.509
 * UTF8String), so they are read back as such: `Pr\xC3\xBCfzertifikat` is `Prüfzertifikat`. */
export function decodeEscapedUtf8(text: string): string {
  if (!/\\x[0-9A-Fa-f]{2}/.test(text)) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; ) {
    const m = /^\\x([0-9A-Fa-f]{2})/.exec(text.slice(i, i + 4));
    if (m) {
      bytes.push(parseInt(m[1], 16));
      i += 4;
    } else {
      bytes.push(...Buffer.from(text[i], 'utf8'));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
