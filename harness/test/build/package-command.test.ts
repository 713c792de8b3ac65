import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageTable } from '../../src/cli/commands/package';
import type { CommandContext } from '../../src/cli/command';
import { devicesFor, openBundle, readPackageSet } from '../../src/inf';
import { makePackageSet } from '../fixtures/build/package-set';
import { testSpecs } from '../fixtures/build/specs';
import { signingWorkspace, captureOutput, parseTap } from '../fixtures/build/workspace';

const ws = signingWorkspace(t, 'winpv-pkgcmd-', 'xorriso');
const { skip, work } = ws;
const specs = testSpecs();
const table = packageTable(async () => specs);

async function run(sub: 'verify' | 'bundle', argv: string[]) {
  const io = captureOutput();
  const ctx: CommandContext = { argv, env: {}, cwd: work, out: io.out, err: io.err, verbose: false, signal: new AbortController().signal };
  const code = await table[sub](ctx);
  return { code, text: io.text(), ...(await parseTap(io.text())) };
}

t.test('verify prints valid TAP 14, one point per check per driver', { skip }, async (t) => {
  makePackageSet(join(work, 'good'), specs.values(), ws.signer);
  const r = await run('verify', ['good', '--ca-file', ws.signer.cert]);
  t.equal(r.code, 0, r.text);
  t.match(r.text, /^TAP version 14\n/);
  t.equal(r.count, 45);
  t.ok(r.ok);
  t.match(r.text, /ok \d+ - xenvif\/x64 revisions: binds xenbus revision\(s\) 09000009/);
  t.match(r.text, /# signed by \/CN=winpv test signing/);
});

t.test('a failed check: exit 1, not ok with YAML diagnostics located by file:line', { skip }, async (t) => {
  makePackageSet(join(work, 'badrev'), [specs.get('xenbus')!, specs.get('xennet')!, specs.get('xenvif')!], ws.signer, { revisions: { xennet: ['0900000D'] } });
  const r = await run('verify', ['badrev', '--ca-file', ws.signer.cert]);
  t.equal(r.code, 1);
  t.equal(r.fail, 1);
  t.match(r.failures[0], { name: /xennet\/x64 revisions: revision mismatch with xenvif/, diag: { check: 'revisions', driver: 'xennet', at: /^xennet\/x64\/xennet\.inf:\d+ \[Inst\.NTamd64\]/ } });
});

t.test('unusable input and usage errors', { skip }, async (t) => {
  await t.rejects(run('verify', ['nothing-here']), { code: 'BUNDLE_NOT_FOUND', exitCode: 2 });
  await t.rejects(run('verify', []), { code: 'USAGE' });
  await t.rejects(run('verify', ['good', '--out', 'x']), { code: 'USAGE' });
  await t.rejects(run('verify', ['good', '--arch', 'arm']), { code: 'USAGE' });
});

t.test('bundle writes an ISO and a zip that open as the same verified set', { skip }, async (t) => {
  const set = join(work, 'ship', '9.1.0.42');
  makePackageSet(set, specs.values(), ws.signer);
  const r = await run('bundle', [set, '--ca-file', ws.signer.cert, '--out', join(work, 'out')]);
  t.equal(r.code, 0, r.text);
  t.match(r.text, /ok 46 - bundle iso: .*winpv-drivers-9\.1\.0\.42\.iso \(\d+ files \+ manifest\.json, read back and matching the manifest\)/);
  t.match(r.text, /ok 47 - bundle zip: .*winpv-drivers-9\.1\.0\.42\.zip/);
  for (const ext of ['iso', 'zip']) {
    const b = await openBundle(join(work, 'out', `winpv-drivers-9.1.0.42.${ext}`));
    t.teardown(() => b.cleanup());
    t.match(b.manifest, { schema: 'winpv-bundle/1', version: '9.1.0.42', vendorPrefix: 'XN', arch: 'x64', signer: ws.signer.subject });
    t.same(b.manifest!.drivers.map((d) => d.name).sort(), ['xenbus', 'xenvbd', 'xeniface', 'xennet', 'xenvif'].sort());
    // What a guest does with it: find the INFs and the devices each would bind on x64.
    const pkgs = await readPackageSet(b.dir);
    const vif = pkgs.find((p) => p.path === 'xenvif/x64/xenvif.inf')!;
    t.ok(devicesFor(vif.inf, 'x64').some((d) => d.hardwareId === 'XENBUS\\VEN_XN0001&DEV_VIF&REV_09000009'), `${ext}: xenvif binds XENBUS\\VEN_XN0001&DEV_VIF&REV_09000009`);
  }
  t.notOk(existsSync(join(set, 'manifest.json')), 'the source directory is left as it was');
  const iso = await run('verify', [join(work, 'out', 'winpv-drivers-9.1.0.42.iso'), '--ca-file', ws.signer.cert]);
  t.equal(iso.code, 0, 'the shipped ISO verifies as it is');
  t.match(iso.text, /ok 1 - set manifest: manifest\.json lists all \d+ files with matching sizes and sha256/);
});

t.test('bundle refuses a set that fails verification', { skip }, async (t) => {
  const set = join(work, 'tampered');
  makePackageSet(set, [specs.get('xenbus')!], ws.signer);
  const sys = join(set, 'xenbus', 'x64', 'xenfilt.sys');
  const b = readFileSync(sys);
  b[0x210] ^= 1;
  writeFileSync(sys, b);
  const r = await run('bundle', [set, '--ca-file', ws.signer.cert, '--out', join(work, 'out2')]);
  t.equal(r.code, 1);
  t.match(r.text, /not ok \d+ - bundle: not written, 2 check\(s\) failed/);
  t.notOk(existsSync(join(work, 'out2')), 'nothing written');
});
