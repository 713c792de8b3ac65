// The simulated Windows guest installs real INF packages: from a bundle directory it binds only
// where the INF's hardware IDs (with their revision) match what xenbus enumerates, as PnP does.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderInf } from '../../src/inf';
import type { DriverName } from '../../src/model/spec';
import { SimHost } from '../../src/hosts/sim';
import { specs, MemorySink, shape, untilConnected } from './sim-fixture';

function bundleDir(version: string, revisions: Partial<Record<DriverName, string[]>> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-bundle-'));
  for (const d of ['xenbus', 'xenvbd', 'xenvif', 'xennet'] as DriverName[]) {
    const spec = specs.get(d)!;
    mkdirSync(join(dir, d, 'x64'), { recursive: true });
    writeFileSync(join(dir, d, 'x64', spec.identity.inf), renderInf(spec, { version, vendorPrefix: 'XP', archs: ['x64'], revisions: revisions[d] }));
  }
  return dir;
}

async function guest() {
  const host = new SimHost({ specs });
  await host.open(new MemorySink(() => host.clock.now()), { seed: 2 });
  const g = await host.createGuest(shape(), 'install');
  await host.startGuest(g);
  return { host, g };
}

t.test('install from a bundle directory, then upgrade over it', async (t) => {
  const { host, g } = await guest();
  const old = bundleDir('9.0.0.7');
  const neu = bundleDir('9.1.0.12');
  t.teardown(() => [old, neu].forEach((d) => rmSync(d, { recursive: true, force: true })));
  const none = await host.agent(g).driverStatus();
  t.same(none.bound, [], 'nothing bound before the install');
  await host.agent(g).installDrivers({ location: old, version: '9.0.0.7', drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'] });
  await host.rebootGuest(g);
  let st = await host.agent(g).driverStatus();
  t.same(st.bound.map((b) => `${b.driver} ${b.version}`), ['xenbus 9.0.0.7', 'xenvbd 9.0.0.7', 'xenvif 9.0.0.7', 'xennet 9.0.0.7']);
  await host.agent(g).installDrivers({ location: neu, version: '9.1.0.12', drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'] });
  await host.rebootGuest(g);
  await untilConnected(host, g);
  st = await host.agent(g).driverStatus();
  t.same(st.bound.map((b) => `${b.driver} ${b.version}`), ['xenbus 9.1.0.12', 'xenvbd 9.1.0.12', 'xenvif 9.1.0.12', 'xennet 9.1.0.12'], 'the newer packages bound');
  t.equal(await host.xenstore.read(`/local/domain/${g.domid}/drivers/0`), 'Xen_Project XENBUS 9.1.0.12');
  t.equal(await host.xenstore.read(`/local/domain/${g.domid}/device/vbd/51712/state`), '4');
  await host.close();
});

t.test('a child INF built for a revision xenbus does not advertise stays unbound', async (t) => {
  const { host, g } = await guest();
  const dir = bundleDir('9.1.0.12', { xenvbd: ['0900FFFF'] });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await host.agent(g).installDrivers({ location: dir, version: '9.1.0.12', drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'] });
  await host.rebootGuest(g);
  const st = await host.agent(g).driverStatus();
  t.notOk(st.bound.some((b) => b.driver === 'xenvbd'), 'xenvbd not bound');
  t.match(st.unbound, [{ hardwareId: /DEV_VBD&REV_/, reason: /xenvbd 9\.1\.0\.12 binds .*REV_0900FFFF/ }]);
  t.ok(st.bound.some((b) => b.driver === 'xenvif'), 'the others bind');
  await host.close();
});

t.test('a bundle without the driver asked for is a located input error', async (t) => {
  const { host, g } = await guest();
  const dir = mkdtempSync(join(tmpdir(), 'winpv-empty-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(host.agent(g).installDrivers({ location: dir, version: '1', drivers: ['xenbus'] }), { code: 'BUNDLE_DRIVER_MISSING' });
  await host.close();
});
