// The package gate on real signed PE files (issue 22): Debian's Secure Boot binaries, signed by
// Debian (mmx64.efi.signed, shim-helpers-amd64-signed) and trusted through the Debian UEFI CA that
// shim-unsigned ships, and twice-signed by Microsoft (shimx64.efi.signed, shim-signed: a certificate
// table of two entries, the 2011 and the 2023 Microsoft UEFI CAs). Each signature of a multi-entry
// table is verified and reported on its own. Without the packages the tests skip naming them
// (and fail under CI=true).
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyPackageSet, type VerifyPoint, type VerifyReport } from '../../src/build/verify';
import { peLayout } from '../../src/build/authenticode';
import { runProcess } from '../../src/util/process';
import { certificateEntries, certificateTableProblems } from '../../src/build/cert-table';
import { makePackageSet, makeTestSigner, sign } from '../fixtures/build/package-set';
import { makePe } from '../fixtures/build/pe';
import { testSpecs } from '../fixtures/build/specs';
import { signingWorkspace } from '../fixtures/build/workspace';
import { hasTool, missing, missingReason } from '../support/tools';

const ws = signingWorkspace(t, 'winpv-realpe-');
const { skip, work } = ws;
const specs = testSpecs();
// Debian's paths (the packages' file lists), not this machine's.
const MMX64 = { path: '/usr/lib/shim/mmx64.efi.signed', pkg: 'shim-helpers-amd64-signed' };
const SHIMX64 = { path: '/usr/lib/shim/shimx64.efi.signed', pkg: 'shim-signed' };
const DEBIAN_CA = { path: '/usr/share/shim/debian-uefi-ca.der', pkg: 'shim-unsigned' };
/** True when every file is installed; else skips the test naming each missing package (fails in CI). */
function need(tt: Test, ...files: { path: string; pkg: string }[]): boolean {
  const absent = files.filter((f) => !hasTool(f.path));
  if (absent.length) missing(tt, missingReason(absent.map((f) => f.path), Object.fromEntries(absent.map((f) => [f.path, f.pkg]))));
  return absent.length === 0;
}

let n = 0;
const signature = (r: VerifyReport): VerifyPoint => r.points.find((p) => p.driver === 'xenbus' && p.check === 'signature')!;
const failedChecks = (r: VerifyReport) => r.points.filter((p) => !p.ok && !p.skip).map((p) => `${p.driver}:${p.check}`);

/** The Debian UEFI CA (DER in the package) as PEM, bundled with the test signer that signs the catalog. */
function roots(): string {
  const file = join(work, `roots${n++}.pem`);
  writeFileSync(file, new X509Certificate(readFileSync(DEBIAN_CA.path)).toString() + readFileSync(ws.signer.cert, 'utf8'));
  return file;
}

/** A xenbus set whose drivers are the given real signed images (their signatures untouched), with a
 * catalog over them signed by the test signer. */
function setOf(images: { 'xenbus.sys': string; 'xenfilt.sys': string }): string {
  const root = join(work, `set${n++}`);
  makePackageSet(root, [specs.get('xenbus')!], ws.signer, {
    signFile: (f) => {
      const name = f.split('/').pop() as keyof typeof images;
      if (images[name]) copyFileSync(images[name], f);
      else sign(f, ws.signer);
    },
  });
  return root;
}

t.test('Debian-signed images: the good set verifies, a flipped byte is caught', { skip }, async (t) => {
  if (!need(t, MMX64, DEBIAN_CA)) return;
  const root = setOf({ 'xenbus.sys': MMX64.path, 'xenfilt.sys': MMX64.path });
  const caFile = roots();
  const good = await verifyPackageSet(root, { specs, caFile });
  t.same(failedChecks(good), [], JSON.stringify(good.points.filter((p) => !p.ok), null, 1));
  t.same([...good.signers].sort(), ['/CN=Debian Secure Boot Signer 2022 - shim', ws.signer.subject].sort());
  // Without the Debian CA the same images are untrusted, with OpenSSL's reason.
  const noCa = await verifyPackageSet(root, { specs, caFile: ws.signer.cert });
  t.match(signature(noCa).diagnostics?.problems, [/xenbus\.sys: signed by \/CN=Debian Secure Boot Signer 2022 - shim, but the chain is not trusted: unable to get local issuer certificate/, /xenfilt\.sys/]);

  const sys = join(root, 'xenbus', 'x64', 'xenbus.sys');
  const bytes = readFileSync(sys);
  bytes[0x1000] ^= 0x01; // inside the first section, covered by the Authenticode digest
  writeFileSync(sys, bytes);
  const flipped = await verifyPackageSet(root, { specs, caFile });
  t.same(failedChecks(flipped), ['xenbus:catalog', 'xenbus:signature']);
  t.match(signature(flipped), { ok: false, message: /1 of 3 signature\(s\) fail; xenbus\/x64\/xenbus\.sys: modified after signing \(.*MISMATCH/ });
});

t.test('shimx64.efi.signed: each of its two Microsoft signatures is verified and reported', { skip }, async (t) => {
  if (!need(t, SHIMX64, MMX64, DEBIAN_CA)) return;
  const shim = readFileSync(SHIMX64.path);
  t.equal(certificateEntries(shim).length, 2, 'two certificate entries');
  t.same(certificateTableProblems(shim), [], 'a well-formed table of two entries');
  const root = setOf({ 'xenbus.sys': MMX64.path, 'xenfilt.sys': SHIMX64.path });
  const report = await verifyPackageSet(root, { specs, caFile: roots() });
  const p = signature(report);
  t.equal(p.ok, false, 'the Microsoft roots were not given');
  t.match(p.message, /2 of 4 signature\(s\) fail; xenbus\/x64\/xenfilt\.sys \(signature 1 of 2\): signed by .*CN=Microsoft Windows UEFI Driver Publisher, but the chain is not trusted/);
  t.match(p.diagnostics?.signatures, [
    /xenfilt\.sys \(signature 1 of 2\): signed by .*CN=Microsoft Windows UEFI Driver Publisher, but the chain is not trusted: unable to get local issuer certificate/,
    /xenfilt\.sys \(signature 2 of 2\): signed by .*CN=Microsoft UEFI CA 2023 signer, but the chain is not trusted: unable to get local issuer certificate/,
  ]);
  t.notMatch(p.message, /Corrupted|Unable to extract/, 'not osslsigncode\'s message about the whole table');
});

/** One image carrying both signatures: the certificate table of `a` followed by `b`'s entry (the
 * shape of shimx64.efi.signed, made from the same unsigned image signed twice). */
function twoEntries(a: Buffer, b: Buffer): Buffer {
  const la = peLayout(a)!;
  const [eb] = certificateEntries(b);
  const out = Buffer.concat([a.subarray(0, la.certTableOffset + la.certTableSize), b.subarray(eb.offset, eb.offset + eb.length)]);
  out.writeUInt32LE(la.certTableSize + eb.length, la.certDirOffset + 4);
  return out;
}

t.test('two signatures of our own: both verify (ok, counted); one from an untrusted root fails naming which', { skip }, async (t) => {
  const other = makeTestSigner(join(work, 'second'), 'winpv second signer');
  const image = join(work, 'twice.sys');
  const signedBy = (s: typeof other) => {
    writeFileSync(image, makePe('a driver signed twice', { subsystem: 1 }));
    sign(image, s);
    return readFileSync(image);
  };
  writeFileSync(image, twoEntries(signedBy(ws.signer), signedBy(other)));
  const both = join(work, `both${n++}.pem`);
  writeFileSync(both, readFileSync(ws.signer.cert, 'utf8') + readFileSync(other.cert, 'utf8'));
  const root = setOf({ 'xenbus.sys': image, 'xenfilt.sys': image });
  const good = await verifyPackageSet(root, { specs, caFile: both });
  t.match(signature(good), { ok: true, message: /signed by .*\(5 signatures\)/, diagnostics: { signatures: [/signature 1 of 2\): verified, signed by \/CN=winpv test signing/, /signature 2 of 2\): verified, signed by \/CN=winpv second signer/, /xenfilt/, /xenfilt/] } });
  const oneTrusted = await verifyPackageSet(root, { specs, caFile: ws.signer.cert });
  t.match(signature(oneTrusted), { ok: false, message: /2 of 5 signature\(s\) fail; xenbus\/x64\/xenbus\.sys \(signature 2 of 2\): signed by \/CN=winpv second signer\/O=winpv tests, but the chain is not trusted/ });
});

t.test('nested signatures (osslsigncode -nest): each is judged, though osslsigncode exits 0 when any one verifies', { skip }, async (t) => {
  const other = makeTestSigner(join(work, 'nested'), 'winpv nested signer');
  const image = join(work, 'nested.sys');
  writeFileSync(image, makePe('a driver with a nested signature', { subsystem: 1 }));
  sign(image, ws.signer);
  execFileSync('osslsigncode', ['sign', '-nest', '-certs', other.cert, '-key', other.key, '-h', 'sha256', '-in', image, '-out', `${image}.nested`], { stdio: 'ignore', timeout: 60_000 });
  const root = setOf({ 'xenbus.sys': `${image}.nested`, 'xenfilt.sys': `${image}.nested` });
  const only = (...certs: string[]) => {
    const file = join(work, `nested-roots${n++}.pem`);
    writeFileSync(file, certs.map((c) => readFileSync(c, 'utf8')).join(''));
    return file;
  };
  // The primary (test signer) fails, the nested one verifies: osslsigncode alone says Succeeded.
  const caFile = only(other.cert);
  const alone = await runProcess(['osslsigncode', 'verify', '-CAfile', caFile, '-in', `${image}.nested`]);
  t.equal(alone.code, 0, 'osslsigncode exits 0 on the nested signature alone');
  const hidden = await verifyPackageSet(root, { specs, caFile });
  t.match(signature(hidden).diagnostics?.problems, [/xenbus\.cat: signed by \/CN=winpv test signing/, /xenbus\/x64\/xenbus\.sys \(signature 1 of 2\): signed by \/CN=winpv test signing\/O=winpv tests, but the chain is not trusted/, /xenfilt\.sys \(signature 1 of 2\)/]);
  const both = await verifyPackageSet(root, { specs, caFile: only(ws.signer.cert, other.cert) });
  t.match(signature(both), { ok: true, message: /\(5 signatures\)/, diagnostics: { signatures: [/xenbus\.sys \(signature 1 of 2\): verified, signed by \/CN=winpv test signing/, /xenbus\.sys \(signature 2 of 2\): verified, signed by \/CN=winpv nested signer/, /xenfilt/, /xenfilt/] } });
});
