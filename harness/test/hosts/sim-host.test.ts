// SimHost end to end: a Windows guest with the builtin drivers connects its PV disk and NIC the
// way the specs and Linux's backends say, runs workloads through real rings, and two runs with the
// same seed give a byte-identical trace.
import t from 'tap';
import { XenbusState } from '../../src/model/xenbus';
import { SimHost } from '../../src/hosts/sim';
import { bootedHost, block, netw, shape, specs, MemorySink, untilConnected } from './sim-fixture';

t.test('connect: backend keys as Linux writes them, frontend keys as the spec lists, both Connected', async (t) => {
  const { host, g, sink } = await bootedHost(3);
  const xs = host.xenstore;
  const be = `/local/domain/0/backend/vbd/${g.domid}/51712`;
  const fe = `/local/domain/${g.domid}/device/vbd/51712`;
  t.equal(await xs.read(`${be}/state`), String(XenbusState.Connected));
  t.equal(await xs.read(`${fe}/state`), String(XenbusState.Connected));
  for (const k of ['feature-max-indirect-segments', 'multi-queue-max-queues', 'max-ring-page-order', 'feature-flush-cache', 'feature-discard', 'sectors', 'info', 'sector-size']) {
    t.not(await xs.read(`${be}/${k}`), null, `blkback wrote ${k}`);
  }
  t.equal(await xs.read(`${be}/sectors`), String((64 * 1024 * 1024) / 512));
  t.equal(await xs.read(`${fe}/ring-page-order`), '2', 'ring-page-order as the shape asked (capped by the backend max 4)');
  // 2 vCPUs, xenvbd's INF multi-queue-max-queues 2, blkback 4: two queues, keys under queue-<q>/.
  t.equal(await xs.read(`${fe}/multi-queue-num-queues`), '2');
  t.same((await xs.directory(`${fe}/queue-0`)).filter((k) => /^ring-ref\d$/.test(k)).sort(), ['ring-ref0', 'ring-ref1', 'ring-ref2', 'ring-ref3']);
  t.equal(await xs.read(`${fe}/protocol`), 'x86_64-abi');
  t.equal(await xs.read(`${fe}/feature-persistent`), null, 'xenvbd spec: no persistent grants, no key');
  const vif = `/local/domain/${g.domid}/device/vif/0`;
  t.not(await xs.read(`${vif}/queue-0/event-channel-tx`), null, 'split event channels negotiated (2 vCPUs: 2 queues)');
  t.not(await xs.read(`${vif}/ctrl-ring-ref`), null, 'control ring negotiated');
  t.equal(await xs.read(`/local/domain/${g.domid}/drivers/0`), 'Xen_Project XENBUS 9.1.0.100');
  t.equal(await xs.read(`/local/domain/${g.domid}/control/feature-suspend`), '1');
  t.equal(await xs.read(`/local/domain/${g.domid}/feature/hotplug/vif`), '1');
  const st = await host.agent(g).driverStatus();
  t.same(st.bound.map((b) => b.driver), ['xenbus', 'xenvbd', 'xenvif', 'xennet']);
  t.same(st.unplugged, { disks: true, nics: true });
  t.same(host.xenstored.server.connections().length > 0, true);
  const rings = await host.rings.rings(g);
  t.same(rings.map((r) => `${r.dev}:${r.queue}:${r.ring}`).sort(), ['vbd/51712:0:blk', 'vbd/51712:1:blk', 'vif/0:0:ctrl', 'vif/0:0:rx', 'vif/0:0:tx', 'vif/0:1:rx', 'vif/0:1:tx']);
  const s = await host.rings.sample(g, rings.find((r) => r.ring === 'blk')!);
  t.equal(s!.nr_ents, 128, 'order 2 blkif ring holds 128 entries');
  await host.destroyGuest(g);
  await host.destroyGuest(g);
  t.equal(await host.powerState(g), 'gone');
  const audits = sink.of('grants');
  t.ok(audits.length >= 3);
  t.ok(audits.every((a) => a.active.length === 0 && a.mapped.length === 0), 'nothing leaked');
  await host.close();
});

t.test('block workload: real requests, verified data, diskspd XML', async (t) => {
  const { host, g, sink } = await bootedHost(4);
  const w = await host.agent(g).blockWorkload(block({ verify: true, blockSize: 65536, queueDepth: 4, threads: 1 }));
  t.equal(w.result.errors, 0);
  t.equal(w.result.verifyErrors, 0);
  t.ok(w.result.ios > 0 && w.result.iops > 0);
  t.match(w.raw!, /<Results>/);
  const io = sink.of('ring.io').filter((e) => e.ring === 'blk');
  t.ok(io.some((e) => e.ops?.includes(6)), '64 KiB needs 16 segments: indirect requests');
  const reqs = new Set(io.filter((e) => e.dir === 'req').flatMap((e) => e.ids));
  const rsps = io.filter((e) => e.dir === 'rsp').flatMap((e) => e.ids);
  t.equal(rsps.length, reqs.size, 'every request answered once');
  t.ok(rsps.every((id) => reqs.has(id)));
  const d = await host.agent(g).blockWorkload(block({ discard: true, flush: true, durationMs: 1000 }));
  t.equal(d.result.errors, 0, 'flush and discard succeed');
  const ops = new Set(sink.of('ring.io').flatMap((e) => e.ops ?? []));
  t.ok(ops.has(3) && ops.has(5), 'flush (3) and discard (5) went through the ring');
  await host.close();
});

t.test('network: guest to dom0 and guest to guest', async (t) => {
  const { host, g } = await bootedHost(5);
  const send = await host.agent(g).netWorkload(netw());
  t.ok(send.result.mbps > 1000, `guest -> dom0 ${send.result.mbps} Mbit/s`);
  const recv = await host.agent(g).netWorkload(netw({ direction: 'receive' }));
  t.ok(recv.result.bytes > 0, 'dom0 -> guest frames arrived through the rx ring');
  const g2 = await host.createGuest(shape({ name: 'win2', vbds: [], vifs: [{ devid: 0, backend: {} }] }), 'inst1');
  await host.startGuest(g2);
  await host.agent(g2).installDrivers({ location: 'builtin:9.1.0.100', version: '9.1.0.100', drivers: ['xenbus', 'xenvif', 'xennet'] });
  await host.rebootGuest(g2);
  const both = await host.agent(g).netWorkload(netw({ peer: 'win2', direction: 'both' }));
  t.ok(both.result.bytes > 0, 'guest <-> guest over the bridge');
  await host.close();
});

t.test('lifecycle: suspend/resume rewrites feature-suspend, migrate changes the domid, hotplug', async (t) => {
  const { host, g, sink } = await bootedHost(6);
  const xs = host.xenstore;
  await host.suspend!.suspend(g);
  t.equal(await host.powerState(g), 'suspended');
  t.equal(await xs.read(`/local/domain/${g.domid}/control/feature-suspend`), null, 'cleared by the toolstack at suspend');
  await host.suspend!.resume(g);
  await untilConnected(host, g);
  t.equal(await xs.read(`/local/domain/${g.domid}/control/feature-suspend`), '1', 'rewritten after resume');
  t.equal(await xs.read(`/local/domain/${g.domid}/device/vbd/51712/state`), '4', 'reconnected');
  const w = await host.agent(g).blockWorkload(block({ durationMs: 500 }));
  t.equal(w.result.errors, 0);
  const mac = await xs.read(`/local/domain/0/backend/vif/${g.domid}/0/mac`);
  const m = await host.migrate!.migrate(g);
  t.not(m.domid, g.domid, 'new domid');
  t.equal(await xs.read(`/local/domain/0/backend/vif/${m.domid}/0/mac`), mac, 'the VIF keeps its MAC in the new domain');
  await untilConnected(host, m);
  t.equal(await xs.read(`/local/domain/${m.domid}/device/vbd/51712/state`), '4');
  t.equal(await xs.read(`/local/domain/${m.domid}/control/feature-suspend`), '1');
  t.same(sink.of('guest').map((e) => e.what).filter((w) => w !== 'created' && w !== 'started' && w !== 'rebooted'), ['suspended', 'resumed', 'suspended', 'saved', 'restored', 'migrated']);
  await host.hotplug!.detach(m, 'vif/0', { surprise: false });
  for (let i = 0; i < 600 && (await xs.read(`/local/domain/${m.domid}/device/vif/0/state`)) !== null; i++) await host.clock.sleep(50);
  t.equal(await xs.read(`/local/domain/${m.domid}/device/vif/0/state`), null, 'unplugged');
  await host.hotplug!.attachVif(m, { devid: 0, backend: {} });
  await untilConnected(host, m);
  t.equal(await xs.read(`/local/domain/${m.domid}/device/vif/0/state`), '4', 'replugged and connected');
  const closed = sink.of('grants').filter((e) => e.when === 'device-closed' && e.dev === 'vif/0');
  t.ok(closed.length >= 1 && closed.every((e) => e.active.length === 0), 'the unplug audit is clean', { closed });
  await host.backendControl!.restartBackend(m, 'vbd/51712');
  await untilConnected(host, m);
  t.equal(await xs.read(`/local/domain/${m.domid}/device/vbd/51712/state`), '4', 'reconnected after backend restart');
  const snap = await host.snapshot!.snapshot(m, 's1');
  await host.snapshot!.revert(m, snap);
  t.equal(await host.powerState(m), 'halted');
  await host.close();
});

t.test('a backend offering less: no multi-queue, max-ring-page-order 0', async (t) => {
  const { host, g } = await bootedHost(7, shape({ vbds: [{ vdev: 'xvda', sizeMiB: 16, mode: 'w', ringPageOrder: 4, queues: 4, backend: { 'max-ring-page-order': '0', 'multi-queue-max-queues': '1' } }] }));
  const fe = `/local/domain/${g.domid}/device/vbd/51712`;
  t.equal(await host.xenstore.read(`${fe}/ring-page-order`), null, 'order 0: xenvbd writes no ring-page-order (ring.c RingStoreWrite)');
  t.not(await host.xenstore.read(`${fe}/ring-ref`), null, 'single ring-ref');
  t.equal(await host.xenstore.read(`${fe}/multi-queue-num-queues`), '1');
  t.equal(await host.xenstore.read(`${fe}/state`), '4');
  await host.close();
});

async function traceOf(seed: number): Promise<string> {
  const host = new SimHost({ specs });
  const sink = new MemorySink(() => host.clock.now());
  await host.open(sink, { seed });
  const g = await host.createGuest(shape(), 'det');
  await host.startGuest(g);
  await host.agent(g).installDrivers({ location: 'builtin:9.1.0.100', version: '9.1.0.100', drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'] });
  await host.rebootGuest(g);
  const xsEvents: string[] = [];
  await host.xenstore.watch('/local/domain', (p, v) => xsEvents.push(`${host.clock.now()} ${p}=${v}`));
  await Promise.all([host.agent(g).blockWorkload(block({ durationMs: 1000 })), host.agent(g).netWorkload(netw({ durationMs: 1000 }))]);
  await host.destroyGuest(g);
  await host.close();
  return sink.events.map((e) => JSON.stringify(e)).join('\n') + '\n' + xsEvents.join('\n');
}

t.test('determinism: same seed, byte-identical trace; another seed, another interleaving', async (t) => {
  const a = await traceOf(42);
  const b = await traceOf(42);
  t.ok(a.length > 10_000, `trace of ${a.length} bytes`);
  t.equal(a, b, 'byte-identical');
  const c = await traceOf(43);
  t.not(a, c, 'a different seed changes the trace');
});

t.test('bad input: unknown guest, Linux guest, unknown bundle driver', async (t) => {
  const host = new SimHost({ specs });
  await host.open(new MemorySink(() => 0), { seed: 1 });
  await t.rejects(host.createGuest(shape({ os: 'linux' }), 'x'), { code: 'SIM_UNSUPPORTED_OS' });
  await t.rejects(host.startGuest({ name: 'nope', domid: 9, handle: '9' }), { code: 'SIM_NO_GUEST' });
  const g = await host.createGuest(shape(), 'x');
  await t.rejects(host.agent(g).installDrivers({ location: 'builtin:banana', version: 'x', drivers: ['xenbus'] }), { code: 'BUNDLE_VERSION' });
  await host.close();
});
