// PnP of the simulated Windows guest (sim/windows/pnp.ts): the child hardware IDs a bus advertises,
// newest revision first, and binding to the first installed package that lists one of a device's IDs.
import t from 'tap';
import { bindDevice, childHwids } from '../../src/sim/windows/pnp';
import { builtinPackages } from '../../src/sim/windows/packages';
import { loadSpecs } from '../../src/spec/load';
import type { DriverName } from '../../src/model/spec';
import type { DriverStatus } from '../../src/model/host';

const specs = loadSpecs();
const installed = (names: DriverName[]) => new Map(builtinPackages(specs, names, '9.1.0.0').map((p) => [p.driver, p]));

t.test('child IDs: XENBUS\\VEN_<prefix><device>&DEV_<class>&REV_<rev>, newest revision first', async (t) => {
  const ids = childHwids(specs.get('xenbus')!, 'VBD', 'XP', '0001');
  const revs = [...specs.get('xenbus')!.revisions].map((r) => r.id.toUpperCase());
  t.equal(ids.length, revs.length);
  t.equal(ids[0], `XENBUS\\VEN_XP0001&DEV_VBD&REV_${revs.at(-1)}`);
  t.match(childHwids(specs.get('xenvif')!, 'NET', 'XP', '0002')[0], /^XENVIF\\VEN_XP0002&DEV_NET&REV_/);
});

t.test('a child binds to the installed package listing its ID; with revision-mismatch it stays unbound, said why', async (t) => {
  const pkgs = installed(['xenbus', 'xenvbd']);
  const ids = childHwids(specs.get('xenbus')!, 'VBD', 'XP', '0001');
  const unbound: DriverStatus['unbound'] = [];
  const ok = bindDevice({ installed: pkgs, specs, revisionMismatch: false }, ids, ['xenvbd'], 'REV_', unbound);
  t.equal(ok?.driver, 'xenvbd');
  t.ok(ok && ids.includes(ok.hardwareId), 'bound by one of the device\'s IDs');
  t.same(unbound, []);
  // the fault: the child was built for a revision the bus does not advertise
  const bad = bindDevice({ installed: pkgs, specs, revisionMismatch: true }, ids, ['xenvbd'], 'REV_', unbound);
  t.equal(bad, undefined, 'not bound');
  t.equal(unbound.length, 1);
  t.match(unbound[0], { hardwareId: ids[0], reason: /^no installed driver matches \(xenvbd 9\.1\.0\.0 binds XENBUS\\VEN_/ });
});

t.test('a device with no driver installed for it is unbound with that reason', async (t) => {
  const unbound: DriverStatus['unbound'] = [];
  t.equal(bindDevice({ installed: installed(['xenbus']), specs, revisionMismatch: false }, ['XENBUS\\VEN_XP0001&DEV_VIF&REV_1'], ['xenvif'], 'REV_', unbound), undefined);
  t.same(unbound, [{ hardwareId: 'XENBUS\\VEN_XP0001&DEV_VIF&REV_1', reason: 'no driver installed for this device' }]);
});
