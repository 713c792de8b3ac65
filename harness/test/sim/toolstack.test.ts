// The simulated toolstack (sim/toolstack.ts) on an open simulator: a domain's own keys with libxl's
// permissions, a device's two directories written in one transaction and its backend probed, removal
// graceful or by surprise, a backend reset, a domain's devices destroyed; a vdev without a devid and a
// device the domain lacks refused.
import t from 'tap';
import { XenbusState } from '../../src/model/xenbus';
import { openSimState } from '../hosts/sim-fixture';

async function domain(t: Parameters<typeof openSimState>[0]) {
  const o = await openSimState(t);
  const ts = o.st.ts();
  const d = await o.st.hv.createDomain('g');
  await ts.createDomainKeys(d, 'g', 4096, 2048);
  const read = (p: string) => o.st.dom0.xs.read(p);
  return { ...o, ts, d, read };
}

t.test('domain keys: name, domid, memory; the guest writes its own subtrees only', async (t) => {
  const { d, read } = await domain(t);
  t.equal(await read(`${d.home}/name`), 'g');
  t.equal(await read(`${d.home}/domid`), String(d.domid));
  t.equal(await read(`${d.home}/memory/target`), '2048');
  t.equal(await read(`${d.home}/memory/static-max`), '4096');
  await t.resolves(d.xs.write(`${d.home}/data/x`, '1'), 'data/ is the guest\'s');
  await t.resolves(d.xs.write(`${d.home}/control/shutdown`, ''), 'so is control/shutdown, to clear it');
  await t.rejects(d.xs.write(`${d.home}/name`, 'evil'), /EACCES/, 'its name is not');
});

t.test('a vbd: both directories, the backend probed to InitWait; a vdev without a devid refused', async (t) => {
  const { ts, d, read } = await domain(t);
  const rec = await ts.addVbd(d, { vdev: 'xvdb', sizeMiB: 8, mode: 'r', backend: {} });
  t.equal(rec.dev, 'vbd/51728');
  const fe = `${d.home}/device/vbd/51728`;
  const be = `/local/domain/0/backend/vbd/${d.domid}/51728`;
  t.equal(await read(`${fe}/backend`), be);
  t.equal(await read(`${fe}/virtual-device`), '51728');
  t.equal(await read(`${fe}/state`), String(XenbusState.Initialising));
  t.equal(await read(`${be}/frontend`), fe);
  t.equal(await read(`${be}/mode`), 'r');
  t.equal(await read(`${be}/state`), String(XenbusState.InitWait), 'probed');
  t.ok(rec.disk, 'a disk image');
  t.same(ts.devicesOf(d.domid).map((r) => r.dev), ['vbd/51728']);
  await t.rejects(ts.addVbd(d, { vdev: 'floppy', sizeMiB: 8, mode: 'w', backend: {} }), { code: 'SIM_BAD_VDEV' });
});

t.test('a vif: a MAC from the domain and devid unless given, its bridge, hotplug done', async (t) => {
  const { ts, d, read } = await domain(t);
  await ts.addVif(d, { devid: 1, backend: {} });
  await ts.addVif(d, { devid: 2, mac: '00:16:3e:aa:bb:cc', bridge: 'br9', backend: {} });
  const be = (n: number) => `/local/domain/0/backend/vif/${d.domid}/${n}`;
  t.match(await read(`${d.home}/device/vif/1/mac`), new RegExp(`^00:16:3e:${d.domid.toString(16).padStart(2, '0')}:01:`));
  t.equal(await read(`${d.home}/device/vif/2/mac`), '00:16:3e:aa:bb:cc');
  t.equal(await read(`${be(1)}/bridge`), 'xenbr0');
  t.equal(await read(`${be(2)}/bridge`), 'br9');
  t.equal(await read(`${be(1)}/hotplug-status`), 'connected');
});

t.test('removal: graceful (online 0, Closing, both directories gone) or by surprise; a device the domain lacks refused', async (t) => {
  const { ts, d, read } = await domain(t);
  await ts.addVbd(d, { vdev: 'xvda', sizeMiB: 8, mode: 'w', backend: {} });
  await ts.addVif(d, { devid: 0, backend: {} });
  await ts.removeDevice(d, 'vbd/51712', { surprise: false });
  t.equal(await read(`${d.home}/device/vbd/51712/state`), null, 'the frontend directory is gone');
  t.equal(ts.record(d.domid, 'vbd/51712'), undefined);
  await ts.removeDevice(d, 'vif/0', { surprise: true });
  t.same(ts.devicesOf(d.domid), []);
  await t.rejects(ts.removeDevice(d, 'vif/0', { surprise: true }), { code: 'SIM_NO_DEVICE' });
  await t.rejects(ts.restartBackend(d, 'vif/5'), { code: 'SIM_NO_DEVICE' });
});

t.test('reset: a fresh backend probes again and the frontend starts over; destroy removes everything of the domain', async (t) => {
  const { ts, d, read } = await domain(t);
  const rec = await ts.addVbd(d, { vdev: 'xvda', sizeMiB: 8, mode: 'w', backend: {} });
  const old = rec.backend;
  await ts.resetBackend(d, 'vbd/51712');
  t.not(ts.record(d.domid, 'vbd/51712')!.backend, old, 'a new backend');
  t.equal(ts.record(d.domid, 'vbd/51712')!.disk, rec.disk, 'on the same disk');
  t.equal(await read(`${d.home}/device/vbd/51712/state`), String(XenbusState.Initialising));
  await t.resolves(ts.resetBackend(d, 'vbd/9999'), 'no such device: nothing to reset');
  await ts.destroyDevices(d);
  t.same(ts.devicesOf(d.domid), []);
  t.equal(await read(`${d.home}/name`), null, 'the domain\'s keys gone');
  t.equal(await read(`/local/domain/0/backend/vbd/${d.domid}`), null);
});
