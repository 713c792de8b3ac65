// The signature check of `winpv package verify`: every .sys, .cat, .dll and .exe of a package
// verified by osslsigncode under the enforced sign mode, certificate tables checked first.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { certificateEntries, certificateTableProblems, imageWithOnlyEntry } from './cert-table';
import { verifySignatures, type SignatureResult } from './signature';
import { packageFiles, type CheckOutcome, type PackageContext, type SignMode } from './verify-context';

/** Files whose Authenticode signature is checked: drivers, catalogs, and the package's own programs. */
const SIGNED_FILE = /\.(sys|cat|dll|exe)$/i;

export async function checkSignatures({ root, pkg, spec, signMode, caFile, tsaCaFile }: PackageContext): Promise<CheckOutcome> {
  if (signMode === 'NoSign') return { ok: true, skip: `sign mode ${signMode}`, message: `${spec.name}: signatures not expected` };
  const files = [...(await packageFiles(root, pkg.dir)).values()].filter((f) => SIGNED_FILE.test(f)).sort();
  if (files.length === 0) return { ok: false, skip: 'no .sys or .cat files (see the files check)', message: `${spec.name}: signatures` };
  const results: { file: string; label: string; r: SignatureResult }[] = [];
  for (const f of files) {
    const path = posix.join(pkg.dir, f);
    const each = await judgeFile(join(root, pkg.dir, f), signMode, { caFile, tsaCaFile });
    each.forEach((r, i) => results.push({ file: path, label: each.length > 1 ? `${path} (signature ${i + 1} of ${each.length})` : path, r }));
  }
  const signers = [...new Set(results.map(({ r }) => r.signer).filter((s): s is string => !!s))];
  const bad = results.filter(({ r }) => r.status !== 'ok');
  const describe = ({ label, r }: (typeof results)[number]) => `${label}: ${why(r, signMode, { caFile, tsaCaFile })}`;
  // Signatures that hold only thanks to their timestamp say so, with the time vouched for.
  const timestamped = results.filter(({ r }) => r.status === 'ok' && r.timestamp?.verified).map(({ label, r }) => `${label}: countersigned at ${r.timestamp!.time} by a trusted timestamp authority`);
  const multiple = results.filter(({ label, file }) => label !== file).map(({ label, r }) => `${label}: ${r.status === 'ok' ? `verified, signed by ${r.signer}` : why(r, signMode, { caFile, tsaCaFile })}`);
  if (bad.length) {
    const problems = bad.map(describe);
    return {
      ok: false,
      message: `${spec.name}: ${bad.length} of ${results.length} signature(s) fail; ${problems[0]}`,
      diagnostics: { at: bad[0].file, problems, signers, ...(timestamped.length ? { timestamps: timestamped } : {}), ...(multiple.length ? { signatures: multiple } : {}) },
      signers,
    };
  }
  const stamp = timestamped.length ? `; ${timestamped.length} timestamped (${[...new Set(results.map(({ r }) => r.timestamp?.time).filter(Boolean))].join(', ')})` : '';
  return {
    ok: true,
    message: `${spec.name}: ${files.join(', ')} signed by ${signers.join('; ')}${results.length > files.length ? ` (${results.length} signatures)` : ''}${stamp}`,
    ...(timestamped.length || multiple.length ? { diagnostics: { ...(timestamped.length ? { timestamps: timestamped } : {}), ...(multiple.length ? { signatures: multiple } : {}) } } : {}),
    signers,
  };
}

/** Why one signature is not ok, in the release manager's terms, with osslsigncode's own reason. */
function why(r: SignatureResult, signMode: SignMode, roots: SignatureRoots): string {
  const ts = r.timestamp;
  const stamp = !ts
    ? ' and no timestamp countersignature proves it was made while the certificate was valid'
    : ts.verified
      ? `; its timestamp (${ts.time}) verifies`
      : `; its timestamp (${ts.time}) does not verify: ${ts.error}${roots.tsaCaFile ? '' : ' (give the timestamp authority roots with --tsa-ca-file)'}`;
  switch (r.status) {
    case 'ok':
      return 'ok';
    case 'expired':
      return `signed by ${r.signer}, whose certificate has expired (osslsigncode: ${r.chainError})${stamp}`;
    case 'untrusted':
      return signMode === 'ProductionSign'
        ? `signed by ${r.signer}, which does not chain to the production roots${r.detail ? ` (${r.detail})` : ''}`
        : `signed by ${r.signer}, but the chain is not trusted${r.chainError ? `: ${r.chainError}` : ''}${roots.caFile ? '' : ' (give the test certificate with --ca-file)'}`;
    case 'tampered':
      return `modified after signing (${r.detail})`;
    case 'unsigned':
      return 'not signed';
    case 'malformed':
      return `signature block malformed: ${r.detail}`;
    case 'error':
      return `cannot be verified: ${r.detail}`;
  }
}

interface SignatureRoots {
  caFile?: string | undefined;
  tsaCaFile?: string | undefined;
}

/** Every signature of one file under the enforced mode: the certificate table's structure first
 * (PE files), then osslsigncode on each certificate entry (a table of several is split into one
 * copy per entry, since osslsigncode verifies only single-entry tables), each nested signature
 * judged on its own; ProductionSign never accepts a self-signed signer. */
async function judgeFile(file: string, signMode: SignMode, roots: SignatureRoots): Promise<SignatureResult[]> {
  const opts = { ...(roots.caFile ? { caFile: roots.caFile } : {}), ...(roots.tsaCaFile ? { tsaCaFile: roots.tsaCaFile } : {}) };
  const production = (r: SignatureResult): SignatureResult =>
    r.status === 'ok' && signMode === 'ProductionSign' && r.signer && r.signer === r.issuer ? { ...r, status: 'untrusted', detail: 'a self-signed certificate is a test certificate, never a production signature' } : r;
  if (/\.cat$/i.test(file)) return (await verifySignatures(file, opts)).map(production);
  const bytes = await readFile(file);
  const problems = certificateTableProblems(bytes);
  if (problems.length) return [{ status: 'malformed', detail: problems.join('; ') }];
  const entries = certificateEntries(bytes);
  if (entries.length <= 1) return (await verifySignatures(file, opts)).map(production);
  const dir = await mkdtemp(join(tmpdir(), 'winpv-sig-'));
  try {
    const results: SignatureResult[] = [];
    for (let i = 0; i < entries.length; i++) {
      const one = join(dir, `${i}-${basename(file)}`);
      await writeFile(one, imageWithOnlyEntry(bytes, i));
      results.push(...(await verifySignatures(one, opts)).map(production));
    }
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
