// Staging a local bundle follows its manifest (nested package folders such as xenbus/x64), or the
// flat <driver>/ folders of a bundle without one; and a host that can take the bundle as a disc gets it so.
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WindowsGuestLink } from '../../../src/guests/windows/agent';
import { bundleLayout } from '../../../src/guests/windows/bundle-layout';
import type { WindowsDouble } from '../../support/windows-double';
import { agentOnDouble } from '../../support/windows-agent';
import { skipUnlessTool } from '../../fixtures/build/tools';
import { discFiles, makeBundle, nestedBundle, rejects } from '../../support/xapi-pool';

const PW = 'planted-Layout-pw-5d2';

t.test('bundleLayout: the manifest says where each package is; without one, a folder per driver', async (t) => {
  const nested = await nestedBundle('9.1.0.3');
  const l = await bundleLayout(nested, ['xenbus', 'xenvbd']);
  t.same([...l.infs], [['xenbus', 'xenbus/x64/xenbus.inf'], ['xenvbd', 'xenvbd/x64/xenvbd.inf']]);
  t.same(l.files, ['xenbus/x64/xenbus.cat', 'xenbus/x64/xenbus.cer', 'xenbus/x64/xenbus.inf', 'xenbus/x64/xenbus.sys', 'xenvbd/x64/xenvbd.cat', 'xenvbd/x64/xenvbd.cer', 'xenvbd/x64/xenvbd.inf', 'xenvbd/x64/xenvbd.sys'], 'only the named drivers\' packages and the test certificates, nothing else of the bundle');
  t.same(l.traits.testCerts, ['xenbus/x64/xenbus.cer', 'xenvbd/x64/xenvbd.cer'], 'the test certificates of the packages installed (each win-pv package carries its own)');
  const flat = await bundleLayout(makeBundle('9.1.0', 3, ['xenbus']), ['xenbus']);
  t.same([...flat.infs], [['xenbus', 'xenbus/xenbus.inf']]);

  t.equal((await rejects(bundleLayout(nested, ['xeniface']))).code, 'BUNDLE_DRIVER_MISSING', 'a driver the manifest does not list');
  const m = JSON.parse(readFileSync(join(nested, 'manifest.json'), 'utf8'));
  m.drivers[0].inf = 'xenbus/x64/other.inf';
  writeFileSync(join(nested, 'manifest.json'), JSON.stringify(m));
  const e = await rejects(bundleLayout(nested, ['xenbus']));
  t.equal(e.code, 'BUNDLE_NO_INF', 'an INF the manifest does not list among its files');
  t.equal(e.location?.path, '$.drivers[0].inf', 'located in the manifest');
  m.drivers[0].inf = 'xenbus/x64/xenbus.inf';
  m.files[0].path = 'C:/Windows/xenbus.sys';
  writeFileSync(join(nested, 'manifest.json'), JSON.stringify(m));
  t.equal((await rejects(bundleLayout(nested, ['xenbus']))).code, 'BUNDLE_PATH', 'a file path that is no relative Windows path');
});

const guest = (t: Test, link: Partial<WindowsGuestLink> = {}) => agentOnDouble(t, PW, link);

t.test('SFTP staging keeps the manifest\'s folders and copies only the drivers\' files', async (t) => {
  const { d, agent } = await guest(t);
  await agent.installDrivers({ location: await nestedBundle('9.1.0.3'), version: '9.1.0.3', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'] });
  const staged = [...d.state.files.keys()].filter((k) => k.startsWith('C:\\winpv\\bundle\\')).sort();
  t.equal(staged.length, 16, 'four packages of four files (.inf, .sys, .cat, the test .cer)');
  t.ok(staged.includes('C:\\winpv\\bundle\\9.1.0.3\\xenbus\\x64\\xenbus.sys'), 'in the package folder the manifest names');
  t.notOk(staged.some((k) => /README|manifest/.test(k)), 'nothing outside the packages');
  t.equal(d.state.store.get('xenbus')?.version, '9.1.0.3', 'pnputil installed from the nested INF');
});

t.test('a host that takes discs gets the bundle as one; it is removed after the install when nobody else will', { skip: skipUnlessTool('xorriso') }, async (t) => {
  const removed: string[] = [];
  let d!: WindowsDouble;
  const g = await guest(t, {
    deliverIso: async (iso, version) => {
      d.insertDisc(discFiles(readFileSync(iso)));
      return { name: `disc-${version}`, remove: async () => void (removed.push(version), d.insertDisc(null)) };
    },
  });
  d = g.d;
  await g.agent.installDrivers({ location: await nestedBundle('9.1.0.4'), version: '9.1.0.4', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'] });
  t.equal(d.state.store.get('xenvbd')?.version, '9.1.0.4', 'installed from D:\\xenvbd\\x64\\xenvbd.inf');
  t.same(removed, ['9.1.0.4'], 'the disc was removed at the end of the install');
  t.notOk(d.state.cdLoaded);

  // a failing install still removes it
  const broken = await nestedBundle('9.1.0.5', ['xenbus']);
  writeFileSync(join(broken, 'xenbus', 'x64', 'xenbus.inf'), '[Version]\r\nSignature="$Windows NT$"\r\n');
  await rejects(g.agent.installDrivers({ location: broken, version: '9.1.0.5', drivers: ['xenbus'] }));
  t.same(removed, ['9.1.0.4', '9.1.0.5'], 'a failed install removes its disc too');

  // with an onCleanup, the removal is the caller's
  const later: (() => Promise<void>)[] = [];
  await g.agent.installDrivers({ location: await nestedBundle('9.1.0.6'), version: '9.1.0.6', drivers: ['xenbus'], onCleanup: (_l, undo) => void later.push(undo) });
  t.equal(removed.length, 2, 'kept until the step\'s bundle is cleaned up');
  await later[0]!();
  t.same(removed.at(-1), '9.1.0.6');
});

t.test('a host with no place for a disc: the bundle goes over SFTP, and the log says why', { skip: skipUnlessTool('xorriso') }, async (t) => {
  const { d, agent, logs } = await guest(t, { deliverIso: async () => undefined });
  await agent.installDrivers({ location: makeBundle('9.1.0', 8, ['xenbus']), version: '9.1.0.8', drivers: ['xenbus'] });
  t.ok(d.state.files.has('C:\\winpv\\bundle\\9.1.0.8\\xenbus\\xenbus.inf'));
  t.ok(logs.some((l) => /no place for a bundle disc/.test(l)));
});
