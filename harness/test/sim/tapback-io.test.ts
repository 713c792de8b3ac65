// The simulated tapdisk3's data side (sim/backend/tapback.ts, after blktap drivers/td-req.c) under the
// simulated xenvbd: one ring of at most order 3, barriers served and ordered, and the operations tapdisk
// does not know (flush, discard, indirect) answered BLKIF_RSP_EOPNOTSUPP, after which xenvbd drops the
// feature (win-xenvbd frontend.c FrontendRemoveFeature) and sends its flushes as barriers.
import t from 'tap';
import * as blk from '../../src/abi/blkif';
import { SimHost } from '../../src/hosts/sim';
import { createHost } from '../../src/hosts/factory';
import type { Xenvbd } from '../../src/sim/frontend/xenvbd';
import { specs } from '../hosts/sim-fixture';

async function vbd3Disk(t: { teardown: (fn: () => unknown) => void }): Promise<{ host: SimHost; fe: Xenvbd; ringOps: () => number[] }> {
  const events: { ev: string; dir?: string; ops?: number[] }[] = [];
  const host = new SimHost({ specs, diskBackend: 'vbd3' });
  await host.open({ emit: (e) => void events.push(e as never) }, { seed: 9 });
  t.teardown(() => host.close());
  const g = await host.createGuest({ name: 'g', os: 'windows', vcpus: 2, memoryMiB: 2048, vbds: [{ vdev: 'xvda', sizeMiB: 64, mode: 'w', backend: {} }], vifs: [] }, 'io');
  await host.startGuest(g);
  await host.agent(g).installDrivers({ location: 'builtin:9.1.0.100', version: '9.1.0.100', drivers: ['xenbus', 'xenvbd'] });
  await host.rebootGuest(g);
  for (let i = 0; i < 200 && (await host.xenstore.read(`/local/domain/${g.domid}/device/vbd/51712/state`)) !== '4'; i++) await host.clock.sleep(50);
  const fe = host.guest(g).win.frontends.get('vbd/51712') as Xenvbd;
  const ringOps = () => events.filter((e) => e.ev === 'ring.io' && e.dir === 'req').flatMap((e) => e.ops ?? []);
  return { host, fe, ringOps };
}

t.test('xenvbd on tapdisk3: one ring, no persistent grants or indirect segments, flushes as barriers', async (t) => {
  const { host, fe, ringOps } = await vbd3Disk(t);
  t.equal(fe.queueCount, 1, 'a single ring');
  t.ok(fe.order > 0 && fe.order <= 3, `ring-page-order ${fe.order}, capped by tapback's 3`);
  t.equal(fe.persistent, false);
  t.equal(fe.indirectSegs, 0);
  t.same(fe.diskFeatures, { barrier: true, flushCache: false, discard: false });
  const data = Buffer.alloc(8 * 512, 7);
  const [w, b] = await Promise.all([fe.submit({ op: 'write', sector: 0, nsect: 8, data }), fe.submit({ op: 'flush', sector: 0, nsect: 0 })]);
  t.equal(w.status, blk.BLKIF_RSP_OKAY);
  t.equal(b.status, blk.BLKIF_RSP_OKAY, 'the barrier is served');
  t.ok(b.latencyUs >= w.latencyUs, `the barrier completes after the write before it (${b.latencyUs} >= ${w.latencyUs} µs)`);
  t.ok(ringOps().includes(blk.BLKIF_OP_WRITE_BARRIER) && !ringOps().includes(blk.BLKIF_OP_FLUSH_DISKCACHE), 'WRITE_BARRIER on the ring, never FLUSH_DISKCACHE');
  const back = Buffer.alloc(8 * 512);
  t.equal((await fe.submit({ op: 'read', sector: 0, nsect: 8, data: back })).status, blk.BLKIF_RSP_OKAY);
  t.ok(back.equals(data), 'the data written is read back');
  void host;
});

t.test('tapdisk3 answers flush, discard and indirect requests BLKIF_RSP_EOPNOTSUPP; xenvbd drops the feature', async (t) => {
  const { fe } = await vbd3Disk(t);
  // a frontend that believes the backend offers them (as one reusing blkback's features would)
  fe.diskFeatures.flushCache = true;
  fe.diskFeatures.discard = true;
  t.equal((await fe.submit({ op: 'flush', sector: 0, nsect: 0 })).status, blk.BLKIF_RSP_EOPNOTSUPP, 'FLUSH_DISKCACHE');
  t.equal(fe.diskFeatures.flushCache, false, 'feature-flush-cache dropped');
  t.equal((await fe.submit({ op: 'flush', sector: 0, nsect: 0 })).status, blk.BLKIF_RSP_OKAY, 'the next flush goes as a barrier');
  t.equal((await fe.submit({ op: 'discard', sector: 0, nsect: 8 })).status, blk.BLKIF_RSP_EOPNOTSUPP, 'DISCARD');
  t.equal(fe.diskFeatures.discard, false, 'feature-discard dropped');
  fe.indirectSegs = 32;
  const big = Buffer.alloc(32 * 4096, 1);
  t.equal((await fe.submit({ op: 'write', sector: 0, nsect: 32 * 8, data: big })).status, blk.BLKIF_RSP_EOPNOTSUPP, 'INDIRECT');
});

t.test('a sim host entry labelled vbd3 serves every disk with tapdisk3; a scenario\'s backend-type wins', async (t) => {
  const host = createHost({ name: 'xs-like', kind: 'sim', label: 'sim', insecure: false, capacity: 1, labels: ['vbd3'], entry: { url: 'sim', labels: ['vbd3'] } }, { specs });
  await host.open({ emit: () => undefined }, { seed: 2 });
  t.teardown(() => host.close());
  const g = await host.createGuest({
    name: 'g', os: 'windows', vcpus: 2, memoryMiB: 2048, vifs: [],
    vbds: [{ vdev: 'xvda', sizeMiB: 64, mode: 'w', backend: {} }, { vdev: 'xvdb', sizeMiB: 64, mode: 'w', backend: {}, backendType: 'vbd' }],
  }, 'label');
  const backendOf = (devid: number) => host.xenstore.read(`/local/domain/${g.domid}/device/vbd/${devid}/backend`);
  t.match(await backendOf(51712), /\/backend\/vbd3\/\d+\/51712$/, 'the host\'s default: tapdisk3');
  t.match(await backendOf(51728), /\/backend\/vbd\/\d+\/51728$/, 'the scenario asked for blkback');
});
