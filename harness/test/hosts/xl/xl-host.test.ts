import t from 'tap';
import { XlHost } from '../../../src/hosts/xl/xl-host';
import { FAULTS, type FaultName } from '../../../src/model/catalog';
import type { GuestShape } from '../../../src/model/scenario';
import type { TraceEventInput } from '../../../src/model/trace';
import { FakeDom0 } from './fake-dom0';

const shape: GuestShape = {
  name: 'g1', os: 'linux', vcpus: 1, memoryMiB: 128,
  vbds: [{ vdev: 'xvda', sizeMiB: 64, mode: 'w', backend: { 'max-ring-page-order': '0' } }],
  vifs: [{ devid: 0, backend: {} }],
};

async function open() {
  const fake = new FakeDom0();
  const events: TraceEventInput[] = [];
  const host = new XlHost({ label: 'fake', connect: async () => fake });
  await host.open({ emit: (e) => events.push(e) }, { seed: 1 });
  return { fake, host, events };
}

t.test('create paused from a generated config, backend overrides before unpause, destroy idempotent', async (t) => {
  const { fake, host, events } = await open();
  const g = await host.createGuest(shape, 'inst1');
  t.equal(g.handle, 'winpv-inst1-g1');
  t.equal(await host.powerState(g), 'paused');
  const cfg = fake.files.get('/var/lib/winpv/run/winpv-inst1-g1.cfg')!;
  t.match(cfg, /on_crash = "preserve"/);
  t.match(cfg, /target=\/dev\/loop0"/, 'the disk is a loop device set up by the backend, not by the hotplug script');
  const create = fake.lines.findIndex((l) => l.startsWith('xl create -p'));
  const override = fake.lines.findIndex((l) => l.includes('max-ring-page-order'));
  t.ok(create >= 0 && override > create, 'override written after the paused create');
  t.equal(fake.xs.get(`/local/domain/0/backend/vbd/${g.domid}/51712/max-ring-page-order`), '0');
  await host.startGuest(g);
  t.equal(await host.powerState(g), 'running');
  t.same(await host.devices(g), ['vbd/51712', 'vif/0']);
  await host.destroyGuest(g);
  await host.destroyGuest(g);
  t.equal(await host.powerState(g), 'gone');
  t.equal(fake.loops.size, 0, 'loop devices released');
  t.same(events.map((e) => (e as { what: string }).what), ['created', 'started', 'destroyed']);
  await host.close();
});

t.test('a crashed domain (preserved by on_crash) is reported as crashed', async (t) => {
  const { fake, host } = await open();
  const g = await host.createGuest(shape, 'c');
  fake.domains.get(g.handle)!.state = '----c-';
  t.equal(await host.powerState(g), 'crashed');
});

t.test('the backend forced to Closing is a xenstore write of state 5 in the backend directory', async (t) => {
  const { fake, host } = await open();
  const g = await host.createGuest(shape, 'b');
  await host.backendControl.forceBackendState(g, 'vbd/51712', 5);
  t.equal(fake.xs.get(`/local/domain/0/backend/vbd/${g.domid}/51712/state`), '5');
  await t.rejects(host.backendControl.restartBackend(g, 'vbd/51712'), { code: 'NOT_SUPPORTED' });
});

t.test('a failing xl command is a host error naming it; a dropped connection fails what follows', async (t) => {
  const { fake, host } = await open();
  fake.files.set('/var/lib/winpv/run/x.cfg', 'garbage');
  const g = await host.createGuest(shape, 'd');
  fake.domains.delete(g.handle);
  await t.rejects(host.startGuest(g), { code: 'XL_COMMAND', message: /xl unpause/ });
  fake.drop();
  await t.rejects(host.powerState(g), { code: 'SSH_DROPPED' });
});

t.test('a host without xl is refused at open', async (t) => {
  const fake = new FakeDom0();
  fake.other = () => ({ code: 127, stdout: '', stderr: 'xl: not found' });
  const orig = fake.exec.bind(fake);
  fake.exec = async (argv) => (argv[0] === 'xl' ? { code: 127, stdout: '', stderr: 'xl: not found' } : orig(argv));
  const host = new XlHost({ label: 'nox', connect: async () => fake });
  await t.rejects(host.open({ emit: () => undefined }, { seed: 1 }), { code: 'XL_UNAVAILABLE' });
});

t.test('a Windows (HVM image) guest has no Linux agent', async (t) => {
  const { host } = await open();
  const g = await host.createGuest({ ...shape, os: 'windows', image: '/img/w.raw' }, 'w');
  t.throws(() => host.agent(g), { code: 'NOT_SUPPORTED' });
});

t.test('the final blkback counters go into the trace when a guest is destroyed', async (t) => {
  const { fake, host, events } = await open();
  fake.other = (a) => (a[0] === 'grep' && a[3]?.includes('/vbd-') ? { code: 0, stdout: `${a[3]}/rd_req:3\n${a[3]}/wr_req:512\n`, stderr: '' } : { code: 1, stdout: '', stderr: '' });
  const g = await host.createGuest(shape, 's');
  await host.destroyGuest(g);
  const stats = events.filter((e) => e.ev === 'backend.stats');
  t.same(stats.map((e) => (e as { dev: string; stats: unknown }).stats), [{ rd_req: 3, wr_req: 512 }]);
  t.equal((stats[0] as { dev: string }).dev, 'vbd/51712');
});

t.test('faults real Xen can have: backend forced to Closing, surprise removal, a guest kernel panic; the rest refused', async (t) => {
  const { fake, host, events } = await open();
  const g = await host.createGuest(shape, 'f');
  await host.faults.inject({ name: 'backend-closing', params: {} }, g);
  t.equal(fake.xs.get(`/local/domain/0/backend/vbd/${g.domid}/51712/state`), '5');
  await host.faults.inject({ name: 'surprise-unplug', device: 'vif/0', params: {} }, g);
  t.equal(fake.xs.get(`/local/domain/0/backend/vif/${g.domid}/0/state`), undefined, 'backend directory removed');
  await t.rejects(host.faults.inject({ name: 'missed-notify', params: {} }, g), { code: 'NOT_SUPPORTED' });
  await host.faults.inject({ name: 'guest-crash', params: {} }, g);
  t.equal(await host.powerState(g), 'gone', 'the guest is destroyed under its workload');
  t.same(events.filter((e) => e.ev === 'fault').map((e) => (e as { name: string }).name), ['backend-closing', 'surprise-unplug', 'guest-crash']);
});

t.test('faults.supported says exactly which faults inject() accepts (the planner skips the others)', async (t) => {
  const { host } = await open();
  t.same([...host.faults.supported!].sort(), ['backend-closing', 'guest-crash', 'surprise-unplug']);
  for (const name of Object.keys(FAULTS) as FaultName[]) {
    if (host.faults.supported!.has(name)) continue;
    const g = await host.createGuest(shape, `u-${name}`);
    await t.rejects(host.faults.inject({ name, params: {} }, g), { code: 'NOT_SUPPORTED', message: /cannot be injected on an xl host/ }, name);
  }
});

t.test('after the SSH connection dropped, the run fails but teardown reconnects and destroys what it created', async (t) => {
  const first = new FakeDom0();
  const second = new FakeDom0();
  let connects = 0;
  const host = new XlHost({ label: 'drop', connect: async () => (++connects === 1 ? first : second) });
  await host.open({ emit: () => undefined }, { seed: 1 });
  const g = await host.createGuest(shape, 'cut');
  second.domains.set(g.handle, { ...first.domains.get(g.handle)! });
  first.drop();
  await t.rejects(host.startGuest(g), { code: 'SSH_DROPPED' });
  await host.destroyGuest(g);
  t.equal(connects, 2, 'one new connection for the teardown');
  t.ok(second.lines.some((l) => l === `xl destroy ${g.handle}`), 'the domain is destroyed over it');
  t.equal(second.domains.size, 0);
});
