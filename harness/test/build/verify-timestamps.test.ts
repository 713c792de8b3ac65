// Issue 22, point 5: a signature made while its certificate was valid and countersigned by a trusted
// timestamp authority verifies after the certificate has expired (how every production-signed
// driver ages), and says when it was countersigned; without a timestamp, or with one whose
// authority's root was not given (--tsa-ca-file), the expired certificate is a `not ok` with
// osslsigncode's own reason. Fixtures: throwaway certificates from openssl (timestamp-pki.ts).
import t from 'tap';
import { join } from 'node:path';
import { verifyPackageSet, type VerifyPoint, type VerifyReport } from '../../src/build/verify';
import { makePackageSet } from '../fixtures/build/package-set';
import { testSpecs } from '../fixtures/build/specs';
import { makeTimestampPki, signInThePast, type TimestampPki } from '../fixtures/build/timestamp-pki';
import { captureOutput, parseTap, signingWorkspace } from '../fixtures/build/workspace';
import { packageTable } from '../../src/cli/commands/package';
import type { CommandContext } from '../../src/cli/command';

const ws = signingWorkspace(t, 'winpv-tsa-');
const { skip, work } = ws;
const specs = testSpecs();
let pki: TimestampPki;
t.before(() => {
  if (!skip) pki = makeTimestampPki(join(work, 'pki'));
});
let n = 0;
const newSet = (timestamp: boolean) => {
  const root = join(work, `set${n++}`);
  makePackageSet(root, [specs.get('xenbus')!], pki.expiredSigner, { signFile: (f) => signInThePast(f, pki, { timestamp }) });
  return root;
};
const signature = (r: VerifyReport): VerifyPoint => r.points.find((p) => p.driver === 'xenbus' && p.check === 'signature')!;
const TIME = /May 20 18:40:00 2020 GMT/;

async function verifyCommand(argv: string[]) {
  const io = captureOutput();
  const ctx: CommandContext = { argv, env: {}, cwd: work, out: io.out, err: io.err, verbose: false, signal: new AbortController().signal };
  const code = await packageTable(async () => specs).verify(ctx);
  return { code, text: io.text() };
}

t.test('expired but timestamped by a trusted authority: ok, with the timestamp time', { skip }, async (t) => {
  const root = newSet(true);
  const report = await verifyPackageSet(root, { specs, caFile: pki.ca, tsaCaFile: pki.tsaRoot });
  const p = signature(report);
  t.equal(p.ok, true, p.message);
  t.match(p.message, /signed by \/CN=winpv expired signer; 3 timestamped \(May 20 18:40:00 2020 GMT\)/);
  t.match(p.diagnostics?.timestamps, [/xenbus\/x64\/xenbus\.cat: countersigned at May 20 18:40:00 2020 GMT by a trusted timestamp authority/, TIME, TIME]);
  // Through the command: --tsa-ca-file reaches osslsigncode, exit 0, and the TAP point carries the time.
  const r = await verifyCommand([root, '--ca-file', pki.ca, '--tsa-ca-file', pki.tsaRoot]);
  t.equal(r.code, 0, r.text);
  t.match(r.text, /ok \d+ - xenbus\/x64 signature: .*timestamped/);
  t.match(r.text, /timestamps: \[".*countersigned at May 20 18:40:00 2020 GMT/);
  t.equal((await parseTap(r.text)).fail, 0);
});

t.test('expired and not timestamped: not ok, with osslsigncode\'s reason', { skip }, async (t) => {
  const report = await verifyPackageSet(newSet(false), { specs, caFile: pki.ca, tsaCaFile: pki.tsaRoot });
  const p = signature(report);
  t.equal(p.ok, false);
  t.match(p.message, /xenbus\/x64\/xenbus\.cat: signed by \/CN=winpv expired signer, whose certificate has expired \(osslsigncode: certificate has expired\) and no timestamp countersignature/);
  t.equal((p.diagnostics?.problems as string[]).length, 3, 'the catalog and both drivers');
  t.notOk(p.diagnostics?.timestamps);
});

t.test('timestamped, but the timestamp authority\'s root not given: not ok, naming the timestamp\'s failure', { skip }, async (t) => {
  const root = newSet(true);
  const report = await verifyPackageSet(root, { specs, caFile: pki.ca });
  const p = signature(report);
  t.equal(p.ok, false);
  t.match(p.message, /whose certificate has expired \(osslsigncode: certificate has expired\); its timestamp \(May 20 18:40:00 2020 GMT\) does not verify: unable to get local issuer certificate \(give the timestamp authority roots with --tsa-ca-file\)/);
  // A root that is not the authority's is no better than none.
  const wrong = await verifyPackageSet(root, { specs, caFile: pki.ca, tsaCaFile: pki.ca });
  t.match(signature(wrong), { ok: false, message: /its timestamp \(May 20 18:40:00 2020 GMT\) does not verify: unable to get local issuer certificate$/ });
  const r = await verifyCommand([root, '--ca-file', pki.ca]);
  t.equal(r.code, 1);
  t.match(r.text, /not ok \d+ - xenbus\/x64 signature: 3 of 3 signature\(s\) fail/);
});
