import t from 'tap';
import { watchCommand } from '../../../src/hosts/dom0-xenstore';
import { poolWithGuest, startPool, makeBundle, shape, leftovers } from '../../support/xapi-pool';
import { parseVbd3Stats } from '../../../src/hosts/xapi/dom0';
import { parseNetbackIoRing } from '../../../src/hosts/xl/parse';

t.test('netback io_ring_q* as Linux prints it', async (t) => {
  const text = 'Queue 1\nTX: nr_ents 256\nreq prod 4121 (7) cons 4119 (5) event 4122 (8)\nrsp prod 4114 (base) pvt 4114 (0) event 4115 (1)\npending prod 4251 pending cons 4249 nr_pending_reqs 2\ndealloc prod 3990 dealloc cons 3990 dealloc_queue 0\n\nRX: nr_ents 256\nreq prod 9012 (255) cons 8760 (3) event 8758 (1)\nrsp prod 8757 (base) pvt 8757 (0) event 8758 (1)\n';
  const r = parseNetbackIoRing(text)!;
  t.equal(r.queue, 1);
  t.same(r.tx, { nr_ents: 256, req_prod: 4121, req_cons: 4119, req_event: 4122, rsp_prod: 4114, rsp_event: 4115 });
  t.same(r.rx, { nr_ents: 256, req_prod: 9012, req_cons: 8760, req_event: 8758, rsp_prod: 8757, rsp_event: 8758 });
  t.strictSame(parseNetbackIoRing('Queue 0\n'), { queue: 0 }, 'a ring not yet connected has no sections');
});

t.test('tapdisk3 statistics as od prints them', async (t) => {
  const row = (a: number, b: number) => ` ${String(a).padStart(20)} ${String(b).padStart(20)}\n`;
  const v1 = row(1, 7) + row(100, 99) + row(800, 55) + row(40, 40) + row(320, 66) + row(2, 0);
  t.same(parseVbd3Stats(v1), { oo_req: 7, rd_req: 100, rd_req_done: 99, rd_sect: 800, rd_ticks: 55, wr_req: 40, wr_req_done: 40, wr_sect: 320, wr_ticks: 66, io_errors: 2, flags: 0 });
  t.equal(parseVbd3Stats(row(2, 7) + row(100, 99) + row(800, 55) + row(40, 40) + row(320, 66) + row(2, 0)), null, 'another layout version is not read as this one');
  t.equal(parseVbd3Stats(row(1, 7)), null, 'a short file');
});

t.test('dom0 over SSH: batched xenstore reads, one watch stream, netback rings, tapdisk3 (vbd3) disks and their statistics', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  const host = pool.host();
  await host.open(pool.sink, { seed: 1 });
  t.ok(host.capabilities.has('backend-control'));
  const g = await host.createGuest(shape('win1'), 'dom0');

  const seen: string[] = [];
  const before = pool.dom0!.ssh.commands.length;
  await host.startGuest(g);
  let home = host.homePath(g);
  // The driver install reboots the guest into a new domain: watch above the guests' homes.
  const unwatch = await host.xenstore.watch('/local/domain', (p) => seen.push(p));
  const unwatch2 = await host.xenstore.watch('/local/domain/0/backend/vbd3', (p) => seen.push(`backend:${p}`));
  t.equal(pool.dom0!.ssh.commands.filter((c) => c === watchCommand('/local/domain')).length, 1, 'one watch stream (the reader that reads each value as its event arrives) serves both watches');

  t.equal(await host.xenstore.read(`${home}/device/vbd/768/state`), '1', 'frontend waits for PV drivers');
  await host.agent(g).installDrivers({ location: makeBundle('9.1.0', 156), version: '9.1.0.156', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'] });
  await host.rebootGuest(g);
  home = host.homePath(g);
  const n = pool.dom0!.ssh.commands.length;
  const [state, drivers, suspend, missing] = await Promise.all([
    host.xenstore.read(`${home}/device/vbd/832/state`),
    host.xenstore.read(`${home}/drivers/0`),
    host.xenstore.read(`${home}/control/feature-suspend`),
    host.xenstore.read(`${home}/no/such/key`),
  ]);
  t.same([state, drivers, suspend, missing], ['4', 'XenProject XENBUS 9.1.0.156', '1', null]);
  t.equal(pool.dom0!.ssh.commands.length, n + 1, 'four reads in one tick are one command');
  t.same((await host.xenstore.directory(`${home}/device/vbd`)).sort(), ['768', '832']);
  t.same(await host.xenstore.directory(`${home}/no/such`), []);
  t.ok(seen.includes(`${home}/drivers/0`), 'the watch saw xenbus write drivers/0');
  t.ok(seen.includes(`backend:/local/domain/0/backend/vbd3/${g.domid}/832/state`), 'the backend watch saw its state');
  t.notOk(seen.some((p) => p.startsWith('backend:/local/domain/0/backend/vif')), 'a watch only sees its own subtree');

  const rings = await host.rings.rings(g);
  t.same(rings.map((r) => `${r.dev} q${r.queue} ${r.ring}`), ['vif/0 q0 tx', 'vif/0 q0 rx', 'vif/0 q1 tx', 'vif/0 q1 rx']);
  const streamsBefore = pool.dom0!.ssh.commands.filter((c) => c.includes('while [ -d')).length;
  const sample = (await host.rings.sample(g, rings[1]!))!;
  t.match(sample, { nr_ents: 256, req_prod: sample.rsp_prod + 256, req_cons: sample.rsp_prod, req_event: sample.rsp_prod + 1, rsp_event: sample.rsp_prod + 1 }, 'rx: the frontend posted 256 buffers ahead');
  let again = sample;
  for (let i = 0; i < 500 && again.rsp_prod === sample.rsp_prod; i++) {
    await new Promise((r) => setTimeout(r, 20));
    again = (await host.rings.sample(g, rings[1]!))!;
  }
  t.ok(again.rsp_prod > sample.rsp_prod, 'the indices move between samples');
  t.equal(pool.dom0!.ssh.commands.filter((c) => c.includes('while [ -d')).length, streamsBefore, 'every sample came from the one sampling stream of the vif');
  t.equal(streamsBefore, 1, 'one sampling stream');
  t.equal(await host.rings.sample(g, { dev: 'vbd/768', queue: 0, ring: 'blk' }), null, 'a disk backend has no ring indices to read');
  t.equal(await host.xenstore.read(`${home}/device/vbd/832/backend`), `/local/domain/0/backend/vbd3/${g.domid}/832`, 'the pool serves the disk through tapdisk3');
  const stats = await host.rings.backendStats!(g, 'vbd/832');
  t.match(stats, { oo_req: 3, rd_req: 5210, rd_sect: 41680, wr_req: 2290, wr_sect: 18320, io_errors: 0 }, 'tapdisk3\'s counters, from its /dev/shm statistics file');
  t.ok(pool.dom0!.ssh.commands.some((c) => /^od -An -v -tu8 \/dev\/shm\/td3-\d+\/vbd-\d+-832$/.test(c)), 'found by the kthread-pid tapback wrote');
  t.notOk(pool.dom0!.ssh.commands.some((c) => c.includes('/sys/bus/xen-backend/devices/vbd-')), 'no blkback sysfs statistics asked of a vbd3 disk');

  await host.backendControl!.forceBackendState(g, 'vbd/832', 5);
  t.equal(await host.xenstore.read(`/local/domain/0/backend/vbd3/${g.domid}/832/state`), '5', 'the vbd3 backend was forced Closing');
  t.equal(pool.dom0!.xs.list(`/local/domain/0/backend/vbd`), undefined, 'no stray backend/vbd node was written');
  const nodev = await host.backendControl!.forceBackendState(g, 'vbd/51920', 5).then(() => undefined, (e: Error & { code?: string }) => e);
  t.equal(nodev?.code, 'XAPI_NO_DEVICE', 'a device without a backend is an error, not a write to a guessed path');
  t.equal(pool.dom0!.xs.list(`/local/domain/0/backend/vbd`), undefined);
  // A reboot with beforeUnpause: the caller attaches to the new domain before it runs, so it sees the
  // frontend connect from Initialising on.
  const states: string[] = [];
  let offNew: (() => Promise<void>) | undefined;
  let pausedAtCallback = '';
  await host.rebootGuest(g, {
    beforeUnpause: async (ref) => {
      pausedAtCallback = await host.powerState(ref);
      const path = `${host.homePath(ref)}/device/vbd/832/state`;
      offNew = await host.xenstore.watch(path, (_p, v) => v && states.push(v));
      const now = await host.xenstore.read(path); // what was there when the watch began (a probe's snapshot)
      if (now !== null) states.unshift(now);
    },
  });
  t.equal(pausedAtCallback, 'paused', 'the callback runs while the new domain is paused');
  const until = Date.now() + 30_000;
  while (!states.includes('4') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  t.same([...new Set(states)], ['1', '3', '4'], 'Initialising, Initialised, Connected all seen on the new domain');
  await offNew?.();

  // Hot-unplug and replug of the data disk: the backend closes, the disk comes back with the same VDI.
  const vdiBefore = pool.srv.pool.get((pool.srv.pool.get(g.handle).VBDs as string[]).map((b) => pool.srv.pool.get(b)).find((b) => b.userdevice === '1')!.VDI);
  await host.hotplug!.detach(g, 'vbd/832', { surprise: false });
  home = host.homePath(g);
  t.equal(await host.xenstore.read(`/local/domain/0/backend/vbd/${g.domid}/832/state`), null, 'the backend is gone after the unplug');
  t.ok(seen.includes(`backend:/local/domain/0/backend/vbd3/${g.domid}/832/state`));
  const dev = await host.hotplug!.attachVbd(g, { vdev: 'hdb', sizeMiB: 1024, mode: 'w', backend: {} });
  t.equal(dev, 'vbd/832');
  t.equal(await host.xenstore.read(`${home}/device/vbd/832/state`), '4', 'the replugged disk connected');
  const vdiAfter = pool.srv.pool.get((pool.srv.pool.get(g.handle).VBDs as string[]).map((b) => pool.srv.pool.get(b)).find((b) => b.userdevice === '1')!.VDI);
  t.equal(vdiAfter.uuid, vdiBefore.uuid, 'the same disk (VDI) came back');
  await host.hotplug!.detach(g, 'vif/0', { surprise: true });
  t.equal(await host.xenstore.read(`${home}/device/vif/0/state`), null);
  t.equal(await host.hotplug!.attachVif(g, { devid: 0, backend: {} }), 'vif/0');
  t.equal(await host.xenstore.read(`${home}/device/vif/0/state`), '4');
  await unwatch();
  await unwatch2();
  t.ok(before >= 0 && pool.dom0!.ssh.commands.every((c) => !c.includes('planted')), 'no secret on a dom0 command line');
  await host.close();
  t.same(leftovers(pool.srv), []);
  t.equal(pool.dom0!.xs.list('/local/domain')?.filter((d) => d !== '0').length ?? 0, 0, 'the guest domain is gone from xenstore');
});

t.test('a pool whose disks blkback serves (backend/vbd): blkback\'s sysfs statistics', async (t) => {
  const { pool, host, guest: g } = await poolWithGuest(t, 'blkback', { pool: { guests: 1, dom0: true }, configure: (pool) => { pool.dom0!.disks.backend = 'vbd'; } });
  await host.agent(g).installDrivers({ location: makeBundle('9.1.0', 156), version: '9.1.0.156', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'] });
  await host.rebootGuest(g);
  t.equal(await host.xenstore.read(`${host.homePath(g)}/device/vbd/832/backend`), `/local/domain/0/backend/vbd/${g.domid}/832`);
  t.equal((await host.rings.backendStats!(g, 'vbd/832'))?.rd_req, 210344);
  await host.backendControl!.forceBackendState(g, 'vbd/832', 5);
  t.equal(await host.xenstore.read(`/local/domain/0/backend/vbd/${g.domid}/832/state`), '5');
  t.equal(pool.dom0!.xs.list(`/local/domain/0/backend/vbd3`), undefined, 'nothing under vbd3');
  await host.close();
});

for (const perl of [true, false]) {
  t.test(`dom0 ${perl ? 'with' : 'without'} Perl: values with backslashes, quotes and UTF-8 cross exactly, read, written and watched`, async (t) => {
    // a Windows guest agent's data/os_name: `Microsoft Windows Server 2022 Datacenter|C:\Windows|\Device\Harddisk0\Partition2`
    const pool = await startPool({ guests: 1, dom0: true, dom0Perl: perl });
    t.teardown(() => pool.close());
    const host = pool.host();
    await host.open(pool.sink, { seed: 1 });
    const seen = new Map<string, string | null | undefined>();
    const off = await host.xenstore.watch('/local/domain/0/winpv-test', (p, v) => seen.set(p, v));
    const values = ['Microsoft Windows Server 2022 Datacenter|C:\\Windows|\\Device\\Harddisk0\\Partition2', 'say "hi"\tthere', 'é Ω\nend'];
    for (const [i, v] of values.entries()) await host.xenstore.write(`/local/domain/0/winpv-test/k${i}`, v);
    t.same(values.map((_, i) => pool.dom0!.xs.nodes.get(`/local/domain/0/winpv-test/k${i}`)), values, 'xenstore-write stored each value as it was');
    t.same(await Promise.all(values.map((_, i) => host.xenstore.read(`/local/domain/0/winpv-test/k${i}`))), values, 'read back exactly');
    const until = Date.now() + 10_000;
    while (seen.size < values.length + 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    t.same(values.map((_, i) => seen.get(`/local/domain/0/winpv-test/k${i}`)), values, 'watched with the value exactly');
    await off();
    await host.close();
  });
}

