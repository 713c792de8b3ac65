import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkManifestFiles, describeFiles, extractZip, openBundle, readPackageSet, readZip, writeZip, crc32 } from '../../src/inf';
import { BUNDLE_MANIFEST_SCHEMA, type BundleManifest } from '../../src/model/bundle';
import { isWinpvError } from '../../src/model/errors';
import { skipUnlessTool } from '../fixtures/build/tools';

function makeSet(root: string): BundleManifest {
  mkdirSync(join(root, 'xenbus', 'x64'), { recursive: true });
  writeFileSync(join(root, 'xenbus', 'x64', 'xenbus.inf'), '[Version]\nSignature="$Windows NT$"\nDriverVer=01/01/2026,9.1.0.1\n[Manufacturer]\n');
  writeFileSync(join(root, 'xenbus', 'x64', 'xenbus.sys'), Buffer.alloc(5000, 7));
  return {
    schema: BUNDLE_MANIFEST_SCHEMA,
    version: '9.1.0.1',
    signMode: 'TestSign',
    createdAt: '2026-01-01T00:00:00Z',
    drivers: [{ name: 'xenbus', version: '9.1.0.1', dir: 'xenbus/x64', inf: 'xenbus/x64/xenbus.inf' }],
    files: [],
  };
}

t.test('zip: crc32 known value, round trip, corrupt archives are errors', async (t) => {
  t.equal(crc32(Buffer.from('123456789')), 0xcbf43926, 'CRC-32 check value');
  const zip = writeZip([
    { name: 'a/b.txt', data: Buffer.from('hello '.repeat(100)) },
    { name: 'c.bin', data: Buffer.from([1, 2, 3]) },
  ]);
  t.same(readZip(zip).map((e) => [e.name, e.data.length]), [['a/b.txt', 600], ['c.bin', 3]]);
  const flipped = Buffer.from(zip);
  flipped[40] ^= 0xff; // inside the first entry's data
  t.throws(() => readZip(flipped), /CRC-32|corrupt/);
  t.throws(() => readZip(zip.subarray(0, zip.length - 10)), /end of central directory/);
  t.throws(() => writeZip([{ name: '../evil', data: Buffer.alloc(1) }]), /unsafe entry name/);
});

t.test('zip written by winpv is read by Info-ZIP unzip', { skip: skipUnlessTool('unzip') }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-zip-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'x.zip'), writeZip([{ name: 'd/x.inf', data: Buffer.from('[Version]\n'.repeat(50)) }]));
  execFileSync('unzip', ['-q', '-t', join(dir, 'x.zip')]);
  execFileSync('unzip', ['-q', join(dir, 'x.zip'), '-d', join(dir, 'out')]);
  t.equal(readFileSync(join(dir, 'out', 'd', 'x.inf'), 'utf8'), '[Version]\n'.repeat(50));
});

t.test('openBundle: directory and zip give the same files and manifest', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'winpv-bundle-test-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const set = join(root, 'set');
  const manifest = makeSet(set);
  manifest.files = await describeFiles(set);
  writeFileSync(join(set, 'manifest.json'), JSON.stringify(manifest));

  const d = await openBundle(set);
  t.equal(d.source.kind, 'dir');
  t.same(d.manifest, manifest);
  t.same(await checkManifestFiles(d.dir, d.manifest!), []);
  await d.cleanup();
  t.ok(existsSync(set), 'cleanup of a directory bundle removes nothing');

  const zipPath = join(root, 'set.zip');
  writeFileSync(zipPath, writeZip([...manifest.files.map((f) => ({ name: f.path, data: readFileSync(join(set, f.path)) })), { name: 'manifest.json', data: readFileSync(join(set, 'manifest.json')) }]));
  const z = await openBundle(zipPath);
  t.equal(z.source.kind, 'zip');
  t.same(await checkManifestFiles(z.dir, z.manifest!), [], 'zip contents match the manifest');
  const pkgs = await readPackageSet(z.dir);
  t.same(pkgs.map((p) => [p.path, p.dir]), [['xenbus/x64/xenbus.inf', 'xenbus/x64']]);
  await z.cleanup();
  t.notOk(existsSync(z.dir), 'zip extraction removed');
});

t.test('openBundle reads an ISO made by xorriso', { skip: skipUnlessTool('xorriso') }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'winpv-bundle-iso-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const set = join(root, 'set');
  const manifest = makeSet(set);
  manifest.files = await describeFiles(set);
  writeFileSync(join(set, 'manifest.json'), JSON.stringify(manifest));
  {
    const iso = join(root, 'set.iso');
    execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-J', '-R', '-V', 'WINPV', '-o', iso, set], { stdio: 'ignore' });
    const i = await openBundle(iso);
    t.equal(i.source.kind, 'iso');
    t.same(i.manifest, manifest);
    t.same(await checkManifestFiles(i.dir, i.manifest!), [], 'ISO contents match the manifest');
    await i.cleanup();
    t.notOk(existsSync(i.dir), 'ISO extraction removed');
  }
});

t.test('openBundle: bad inputs are located input errors', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'winpv-bundle-bad-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  await t.rejects(openBundle(join(root, 'nope')), { code: 'BUNDLE_NOT_FOUND' });
  writeFileSync(join(root, 'junk.bin'), 'not a bundle at all');
  await t.rejects(openBundle(join(root, 'junk.bin')), { code: 'BUNDLE_FORMAT' });
  writeFileSync(join(root, 'bad.zip'), writeZip([{ name: 'a', data: Buffer.alloc(100) }]).subarray(0, 60));
  await t.rejects(openBundle(join(root, 'bad.zip')), { code: 'BUNDLE_FORMAT' });

  const set = join(root, 'set');
  const manifest = makeSet(set);
  writeFileSync(join(set, 'manifest.json'), JSON.stringify({ ...manifest, schema: 'other', files: [{ path: '../x', size: -1, sha256: 'zz' }] }));
  const err = await openBundle(set).catch((e: unknown) => e);
  t.ok(isWinpvError(err) && err.code === 'BUNDLE_MANIFEST');
  if (isWinpvError(err)) {
    t.same(err.problems.map((p) => p.location.path), ['$.schema', '$.files[0].path', '$.files[0].size', '$.files[0].sha256']);
  }
});

t.test('checkManifestFiles catches changed, missing and extra files', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'winpv-bundle-chk-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const manifest = makeSet(root);
  manifest.files = await describeFiles(root);
  writeFileSync(join(root, 'xenbus', 'x64', 'xenbus.sys'), Buffer.alloc(5000, 8));
  writeFileSync(join(root, 'extra.txt'), 'x');
  const problems = await checkManifestFiles(root, manifest);
  t.match(problems.map((p) => p.message), [/xenbus\.sys sha256 .* differs/, /extra\.txt is in the bundle but not in the manifest/]);
  rmSync(join(root, 'xenbus', 'x64', 'xenbus.inf'));
  t.match((await checkManifestFiles(root, manifest)).map((p) => p.message), [/xenbus\.inf is listed but missing/, /differs/, /extra/]);
  const dir = mkdtempSync(join(tmpdir(), 'winpv-zip-x-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.same(extractZip(writeZip([{ name: 'q/r', data: Buffer.from('1') }]), dir), ['q/r']);
});
