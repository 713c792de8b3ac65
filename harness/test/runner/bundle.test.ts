import t from 'tap';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBundle } from '../../src/runner/bundle';

t.test('builtin bundles carry their version', async (t) => {
  const r = await resolveBundle('builtin:9.1.0', ['xenbus'], 'scenarios/x.xml');
  t.same(r.bundle, { location: 'builtin:9.1.0', version: '9.1.0', drivers: ['xenbus'] });
  await t.rejects(resolveBundle('builtin:latest', ['xenbus'], 'scenarios/x.xml'), { code: 'BUNDLE_INVALID' });
  const four = await resolveBundle('builtin:9.1.0.42', ['xenbus'], 'scenarios/x.xml');
  t.equal(four.bundle.version, '9.1.0.42', 'a DriverVer version has four parts');
  await t.rejects(resolveBundle('builtin:9.1.0.70000', ['xenbus'], 'scenarios/x.xml'), { code: 'BUNDLE_INVALID' }, 'a part above 65535 is no driver version');
  await t.rejects(resolveBundle('builtin:9.1.0.0.1', ['xenbus'], 'scenarios/x.xml'), { code: 'BUNDLE_INVALID' }, 'five parts');
});

t.test('iso:<name>: an ISO on the host, its version from its name until its disc says it', async (t) => {
  t.same((await resolveBundle('iso:winpv-9.1.0.42.iso', ['xenbus'], 'scenarios/x.xml')).bundle, { location: 'iso:winpv-9.1.0.42.iso', version: '9.1.0.42', drivers: ['xenbus'] });
  t.equal((await resolveBundle('iso:guest-tools.iso', ['xenbus'], 'scenarios/x.xml')).bundle.version, '', 'the pool\'s tools ISO names no version');
  await t.rejects(resolveBundle('iso:', ['xenbus'], 'scenarios/x.xml'), { code: 'BUNDLE_INVALID' });
  await t.rejects(resolveBundle('iso:../x.iso', ['xenbus'], 'scenarios/x.xml'), { code: 'BUNDLE_INVALID' }, 'a name, not a path');
});

t.test('a bundle directory is read through its manifest, relative to the scenario file', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'winpv-bundle-'));
  const dir = join(root, 'drivers');
  mkdirSync(join(dir, 'xenbus'), { recursive: true });
  writeFileSync(join(dir, 'xenbus', 'xenbus.inf'), '[Version]\n');
  const manifest = {
    schema: 'winpv-bundle/1', version: '9.2.0.7', signMode: 'TestSign', createdAt: '2026-01-01T00:00:00Z',
    drivers: [{ name: 'xenbus', version: '9.2.0.7', dir: 'xenbus', inf: 'xenbus/xenbus.inf' }],
    files: [{ path: 'xenbus/xenbus.inf', size: 10, sha256: '0'.repeat(64) }],
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  const r = await resolveBundle('drivers', ['xenbus'], join(root, 'scenario.xml'));
  t.same(r.bundle, { location: dir, version: '9.2.0.7', drivers: ['xenbus'], source: { path: dir, kind: 'dir' } }, 'what it was opened from goes along (an ISO is handed to a guest as it is)');
  await r.cleanup();
  await t.rejects(resolveBundle('drivers', ['xenbus', 'xenvbd'], join(root, 'scenario.xml')), { code: 'BUNDLE_INCOMPLETE' });
  mkdirSync(join(root, 'bare'));
  await t.rejects(resolveBundle('bare', ['xenbus'], join(root, 'scenario.xml')), { code: 'BUNDLE_NO_MANIFEST' });
  await t.rejects(resolveBundle('nothing-here', ['xenbus'], join(root, 'scenario.xml')), { code: 'BUNDLE_NOT_FOUND' });
});

t.test('a builtin on a real host: the artefact its config names stands in for it; one it lacks is unsupported', async (t) => {
  const artefacts = { named: { '9.0.0@XS': 'iso:XenServer-VM-Tools-9.0.0.iso', '8.2.0': 'relative/bundle' }, ownByConvention: true, where: 'the "bundles" of pool' };
  const named = await resolveBundle('builtin:9.0.0@XS', ['xenbus'], 'scenarios/x.xml', undefined, artefacts);
  t.same(named.bundle, { location: 'iso:XenServer-VM-Tools-9.0.0.iso', version: '9.0.0', drivers: ['xenbus'] });
  t.equal(named.via, 'iso:XenServer-VM-Tools-9.0.0.iso');
  t.same((await resolveBundle('builtin:9.1.0', ['xenbus'], 'scenarios/x.xml', undefined, artefacts)).bundle.location, 'builtin:9.1.0', 'our release stays builtin: the host maps it (winpv-9.1.0.iso)');
  await t.rejects(resolveBundle('builtin:9.1.0@XS', ['xenbus'], 'scenarios/x.xml', undefined, artefacts), { code: 'UNSUPPORTED', message: /builtin:9\.1\.0@XS .*name the real one in the "bundles" of pool/ });
  await t.rejects(resolveBundle('builtin:8.2.0', ['xenbus'], 'scenarios/x.xml', undefined, artefacts), { code: 'BUNDLE_INVALID', message: /must be absolute/ });
});
