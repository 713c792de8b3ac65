// The keys the simulated Windows drivers write beside their devices (sim/windows/guest-keys.ts):
// drivers/<N> at the first free index, and guest keys only where the driver's spec lists them.
import t from 'tap';
import { GuestKeys } from '../../src/sim/windows/guest-keys';
import { loadSpecs } from '../../src/spec/load';
import type { Domain } from '../../src/sim/hypervisor';

const specs = loadSpecs();

/** A domain whose xenstore is a map (what GuestKeys reads and writes of it). */
function fakeDomain(): { dom: Domain; store: Map<string, string> } {
  const store = new Map<string, string>();
  const home = '/local/domain/7';
  const xs = {
    write: async (p: string, v: string) => void store.set(p, v),
    rm: async (p: string) => void store.delete(p),
    directory: async (p: string) => [...store.keys()].filter((k) => k.startsWith(`${p}/`)).map((k) => k.slice(p.length + 1).split('/')[0]!),
  };
  return { dom: { home, xs } as unknown as Domain, store };
}

t.test('drivers/<N>: the first index no one holds, kept by each driver, removed at shutdown', async (t) => {
  const { dom, store } = fakeDomain();
  store.set('/local/domain/7/drivers/0', 'another vendor\'s record');
  const keys = new GuestKeys(() => dom, specs);
  await keys.writeDriverKey('xenbus', '9.1.0.0');
  await keys.writeDriverKey('xeniface', '9.1.0.0');
  await keys.writeDriverKey('xenvbd', '9.1.0.0'); // its spec lists no drivers/<N> record: nothing
  t.match(store.get('/local/domain/7/drivers/1'), / XENBUS 9\.1\.0\.0$/);
  t.match(store.get('/local/domain/7/drivers/2'), / XENIFACE 9\.1\.0\.0$/);
  t.notOk([...store.values()].some((v) => v.includes('XENVBD')), 'no record for a driver whose spec lists none');
  await keys.writeDriverKey('xenbus', '9.1.0.1');
  t.match(store.get('/local/domain/7/drivers/1'), / XENBUS 9\.1\.0\.1$/, 'a driver rewrites its own index');
  await keys.removeDriverKeys();
  t.same([...store.keys()], ['/local/domain/7/drivers/0'], 'only the other record is left');
});

t.test('a guest key the spec does not list is not written', async (t) => {
  const { dom, store } = fakeDomain();
  const keys = new GuestKeys(() => dom, specs);
  await keys.writeGuestKey('xenbus', 'control/feature-suspend', '1');
  t.equal(store.get('/local/domain/7/control/feature-suspend'), '1', 'listed by the xenbus spec');
  await keys.writeGuestKey('xenbus', 'control/not-a-key-of-xenbus', '1');
  t.notOk(store.has('/local/domain/7/control/not-a-key-of-xenbus'), 'refused: the spec decides what a driver writes');
});
