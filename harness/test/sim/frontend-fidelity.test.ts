// The simulated xenvbd/xenvif frontends write what the real drivers write (facts cited in
// drivers-spec/xenvbd.xml and xenvif.xml from win-xenvbd/win-xenvif frontend.c and ring.c): each
// test here failed on the simulator before it read these facts from the spec.
import t from 'tap';
import { SimHost } from '../../src/hosts/sim';
import type { GuestShape } from '../../src/model/scenario';
import type { Xs, XsTx } from '../../src/sim/xs';
import { xenvbdTargetId } from '../../src/sim/frontend/xenvbd';
import type { DriverSpec, SpecSet } from '../../src/model/spec';
import { MemorySink, shape, specs, untilConnected } from '../hosts/sim-fixture';

interface Op {
  domid: number;
  op: 'write' | 'rm';
  path: string;
  value?: string;
  /** Index of the transaction the operation ran in; undefined outside one. */
  tx?: number;
}

/** Records every write and rm a guest's xenstore connection makes, with the transaction it ran in. */
function recording(xs: Xs, log: Op[], txCount: { n: number }): Xs {
  const wrapTx = (tx: XsTx, id: number): XsTx => ({
    ...tx,
    read: (p) => tx.read(p),
    setPerms: (p, perms) => tx.setPerms(p, perms),
    write: async (p, v) => {
      await tx.write(p, v);
      log.push({ domid: xs.domid, op: 'write', path: p, value: v, tx: id });
    },
    rm: async (p) => {
      await tx.rm(p);
      log.push({ domid: xs.domid, op: 'rm', path: p, tx: id });
    },
  });
  return new Proxy(xs, {
    get(target, prop) {
      if (prop === 'write') return async (p: string, v: string) => {
        await target.write(p, v);
        log.push({ domid: target.domid, op: 'write', path: p, value: v });
      };
      if (prop === 'rm') return async (p: string) => {
        await target.rm(p);
        log.push({ domid: target.domid, op: 'rm', path: p });
      };
      if (prop === 'transaction') return <T>(fn: (tx: XsTx) => Promise<T>, opts?: { maxRetries?: number }) =>
        target.transaction((tx) => fn(wrapTx(tx, ++txCount.n)), opts);
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function boot(s: GuestShape, seed = 11, withSpecs: SpecSet = specs) {
  const host = new SimHost({ specs: withSpecs });
  const sink = new MemorySink(() => host.clock.now());
  await host.open(sink, { seed });
  const log: Op[] = [];
  const txCount = { n: 0 };
  const store = host.hv.xenstore as { connect: (domid: number) => Promise<Xs> };
  const connect = store.connect.bind(store);
  store.connect = async (domid: number) => {
    const xs = await connect(domid);
    return domid === 0 ? xs : recording(xs, log, txCount);
  };
  const g = await host.createGuest(s, 'inst1');
  await host.startGuest(g);
  await host.agent(g).installDrivers({ location: 'builtin:9.1.0.100', version: '9.1.0.100', drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'] });
  await host.rebootGuest(g);
  await untilConnected(host, g, 5000); // (bounded: some devices here are refused on purpose)
  await host.clock.sleep(200);
  const domid = Math.max(...log.map((o) => o.domid));
  // The log keeps growing after boot (paths name the guest's domid, so no filter is needed).
  return { host, g, log, fe: (dev: string) => `/local/domain/${domid}/device/${dev}` };
}

const oneDisk = (over: Partial<GuestShape['vbds'][0]> = {}, guest: Partial<GuestShape> = {}) =>
  shape({ vbds: [{ vdev: 'xvda', sizeMiB: 16, mode: 'w', backend: {}, ...over }], ...guest });

t.test('xenvbd: keys in one transaction, the state on its own after it (frontend.c FrontendConnect)', async (t) => {
  const { host, log, fe } = await boot(oneDisk());
  const vbd = fe('vbd/51712');
  const protocol = log.find((o) => o.path === `${vbd}/protocol`);
  const initialised = log.find((o) => o.path === `${vbd}/state` && o.value === '3');
  t.ok(protocol?.tx, 'protocol written in a transaction');
  t.ok(initialised, 'Initialised written');
  t.equal(initialised?.tx, undefined, 'Initialised written outside the keys transaction');
  t.ok(log.indexOf(protocol!) < log.indexOf(initialised!), 'after the keys');
  for (const k of ['target-id', 'multi-queue-num-queues', 'feature-surprise-remove', 'feature-online-resize', 'feature-large-sector-size']) {
    t.equal(log.find((o) => o.path === `${vbd}/${k}`)?.tx, protocol?.tx, `${k} in the same transaction`);
  }
  const vif = fe('vif/0');
  const vifState = log.find((o) => o.path === `${vif}/state` && o.value === '4');
  t.equal(vifState?.tx, undefined, 'xenvif writes Connected outside its keys transaction');
  await host.close();
});

t.test('xenvbd: the ring keys stay when the frontend closes (RingDisconnect removes none)', async (t) => {
  const { host, g, log, fe } = await boot(oneDisk());
  const vbd = fe('vbd/51712');
  await host.detachDevice(g, 'vbd/51712', false);
  await host.clock.sleep(500);
  t.ok(log.some((o) => o.path === `${vbd}/state` && o.value === '6'), 'the frontend closed');
  t.same(log.filter((o) => o.op === 'rm' && o.path.startsWith(`${vbd}/`) && !o.path.endsWith('/state')), [], 'no ring key removed');
  await host.close();
});

t.test('xenvbd: ring-page-order only when not 0; order from the INF registry default, capped by the backend', async (t) => {
  {
    const { host, fe } = await boot(oneDisk({ backend: { 'max-ring-page-order': '0' } }));
    t.equal(await host.xenstore.read(`${fe('vbd/51712')}/ring-page-order`), null, 'order 0: no ring-page-order key');
    await host.close();
  }
  {
    const { host, fe } = await boot(oneDisk());
    t.equal(await host.xenstore.read(`${fe('vbd/51712')}/ring-page-order`), '1', 'INF max-ring-page-order=1 below blkback 4');
    await host.close();
  }
  {
    const { host, fe } = await boot(oneDisk({ ringPageOrder: 3 }));
    t.equal(await host.xenstore.read(`${fe('vbd/51712')}/ring-page-order`), '3', 'administrator set max-ring-page-order=3');
    await host.close();
  }
});

t.test('multi-queue-num-queues: always written; queues bounded by vCPUs, the registry and the backend', async (t) => {
  {
    const { host, fe } = await boot(oneDisk({ backend: { 'multi-queue-max-queues': '1' } }, { vcpus: 1 }));
    t.equal(await host.xenstore.read(`${fe('vbd/51712')}/multi-queue-num-queues`), '1', 'xenvbd writes 1 too');
    t.equal(await host.xenstore.read(`${fe('vif/0')}/multi-queue-num-queues`), '1', 'xenvif writes 1 too');
    await host.close();
  }
  {
    const { host, fe } = await boot(oneDisk({}, { vcpus: 4 }));
    t.equal(await host.xenstore.read(`${fe('vbd/51712')}/multi-queue-num-queues`), '2', 'xenvbd: INF multi-queue-max-queues=2 below 4 vCPUs');
    t.equal(await host.xenstore.read(`${fe('vif/0')}/multi-queue-num-queues`), '4', 'xenvif: 4 vCPUs, FrontendMaxQueues 8, netback 4');
    await host.close();
  }
  {
    const { host, fe } = await boot(shape({ vcpus: 1, vbds: [{ vdev: 'xvda', sizeMiB: 16, mode: 'w', backend: {} }], vifs: [{ devid: 0, backend: {} }] }));
    t.equal(await host.xenstore.read(`${fe('vif/0')}/multi-queue-num-queues`), '1', 'one vCPU, one queue');
    t.not(await host.xenstore.read(`${fe('vif/0')}/tx-ring-ref`), null, 'single queue keys at the top');
    await host.close();
  }
});

t.test('target-id and data/scsi/target/<TargetId> follow target.c __ParseVbd', async (t) => {
  t.equal(xenvbdTargetId(51712), 0, 'xvda');
  t.equal(xenvbdTargetId(51728), 1, 'xvdb');
  t.equal(xenvbdTargetId(768), 0, 'hda');
  t.equal(xenvbdTargetId(832), 1, 'hdb');
  t.equal(xenvbdTargetId(5632), 2, 'hdc');
  t.equal(xenvbdTargetId((1 << 28) | (20 << 8)), 20, 'extended xvd');
  const { host, fe } = await boot(shape({ vbds: [{ vdev: 'xvda', sizeMiB: 16, mode: 'w', backend: {} }, { vdev: 'xvdb', sizeMiB: 16, mode: 'w', backend: {} }] }));
  t.equal(await host.xenstore.read(`${fe('vbd/51728')}/target-id`), '1');
  const home = fe('vbd/51728').replace(/\/device\/vbd\/51728$/, '');
  t.equal(await host.xenstore.read(`${home}/data/scsi/target/1/device`), '51728', 'device is the vbd device id');
  t.equal(await host.xenstore.read(`${home}/data/scsi/target/1/frontend`), fe('vbd/51728'));
  await host.close();
});

/** The writes of one connect transaction of a device (relative paths), in order. */
function connectTx(log: Op[], dir: string): string[] {
  const first = log.find((o) => o.tx !== undefined && o.path.startsWith(`${dir}/`) && !o.path.endsWith('/state'));
  return log.filter((o) => o.tx === first?.tx && o.op === 'write').map((o) => o.path.slice(dir.length + 1));
}

t.test('xenvbd: the connect transaction in ring.c/frontend.c order (event-channel before ring-ref, per queue)', async (t) => {
  const { host, log, fe } = await boot(oneDisk({ ringPageOrder: 1 }, { vcpus: 2 }));
  t.same(connectTx(log, fe('vbd/51712')), [
    'queue-0/event-channel', 'queue-0/ring-ref0', 'queue-0/ring-ref1',
    'queue-1/event-channel', 'queue-1/ring-ref0', 'queue-1/ring-ref1',
    'multi-queue-num-queues', 'ring-page-order', 'protocol', 'target-id',
    'feature-surprise-remove', 'feature-online-resize', 'feature-large-sector-size',
  ], 'BlkifRingStoreWrite per queue, RingStoreWrite, FrontendConnect');
  await host.close();
});

t.test('xenvif: the connect transaction in receiver/transmitter/controller order, multi-queue-num-queues last', async (t) => {
  const { host, log, fe } = await boot(oneDisk({}, { vcpus: 2 }));
  t.same(connectTx(log, fe('vif/0')), [
    'request-rx-copy', 'feature-sg', 'feature-rx-notify', 'feature-gso-tcpv4', 'feature-gso-tcpv6',
    'feature-no-csum-offload', 'feature-ipv6-csum-offload',
    'queue-0/rx-ring-ref', 'queue-0/event-channel-rx', 'queue-1/rx-ring-ref', 'queue-1/event-channel-rx',
    'request-multicast-control',
    'queue-0/tx-ring-ref', 'queue-0/event-channel-tx', 'queue-1/tx-ring-ref', 'queue-1/event-channel-tx',
    'ctrl-ring-ref', 'event-channel-ctrl', 'multi-queue-num-queues',
  ], 'ReceiverStoreWrite, TransmitterStoreWrite, ControllerStoreWrite, FrontendConnect');
  t.equal(await host.xenstore.read(`${fe('vif/0')}/request-multicast-control`), '1', 'netback offers feature-dynamic-multicast-control');
  await host.close();
});

t.test('xenvif: GSO flags are 1 whatever the backend offers, 0 when the registry disables them (receiver.c)', async (t) => {
  {
    const { host, fe } = await boot(shape({ vifs: [{ devid: 0, backend: { 'feature-gso-tcpv4': '0', 'feature-gso-tcpv6': '0' } }] }));
    t.equal(await host.xenstore.read(`${fe('vif/0')}/feature-gso-tcpv4`), '1', 'backend without GSO: still 1');
    t.equal(await host.xenstore.read(`${fe('vif/0')}/feature-gso-tcpv6`), '1');
    await host.close();
  }
  {
    const { host, fe } = await boot(shape({ registry: [{ driver: 'xenvif', value: 'ReceiverDisableIpVersion4Gso', data: 1 }] }));
    t.equal(await host.xenstore.read(`${fe('vif/0')}/feature-gso-tcpv4`), '0', 'ReceiverDisableIpVersion4Gso=1');
    t.equal(await host.xenstore.read(`${fe('vif/0')}/feature-gso-tcpv6`), '1', 'v6 untouched');
    await host.close();
  }
});

t.test('xenvif: a backend offering 0 queues fails the connect (frontend.c FrontendSetNumQueues)', async (t) => {
  const { host, fe } = await boot(shape({ vifs: [{ devid: 0, backend: { 'multi-queue-max-queues': '0' } }] }));
  t.equal(await host.xenstore.read(`${fe('vif/0')}/state`), '1', 'stays Initialising');
  t.equal(await host.xenstore.read(`${fe('vif/0')}/multi-queue-num-queues`), null, 'nothing written');
  t.equal(await host.xenstore.read(`${fe('vbd/51712')}/state`), '4', 'the disk connects');
  await host.close();
});

t.test('xenvbd: FrontendPrepare writes the device-usage keys, then frontend and device, outside transactions', async (t) => {
  const { host, log, fe } = await boot(oneDisk());
  const home = fe('vbd/51712').replace(/\/device\/vbd\/51712$/, '');
  const writes = log.filter((o) => o.path.startsWith(`${home}/data/scsi/target/0/`));
  t.same(writes.map((o) => [o.path.slice(home.length + 1), o.value, o.tx]), [
    ['data/scsi/target/0/paging', '0', undefined],
    ['data/scsi/target/0/hibernation', '0', undefined],
    ['data/scsi/target/0/dump', '0', undefined],
    ['data/scsi/target/0/frontend', fe('vbd/51712'), undefined],
    ['data/scsi/target/0/device', '51712', undefined],
    // then Windows' usage notifications for the boot disk (page file, crash dump): target.c
    // __TargetDeviceUsageNotification -> FrontendSetDeviceUsage
    ['data/scsi/target/0/paging', '1', undefined],
    ['data/scsi/target/0/dump', '1', undefined],
  ]);
  await host.close();
});

t.test('registry parameters of the guest decide what the frontends negotiate (INF defaults overridden)', async (t) => {
  const { host, fe } = await boot(shape({
    vcpus: 4,
    vbds: [{ vdev: 'xvda', sizeMiB: 16, mode: 'w', backend: {} }],
    registry: [
      { driver: 'xenvbd', value: 'max-ring-page-order', data: 3 },
      { driver: 'xenvbd', value: 'multi-queue-max-queues', data: 4 },
      { driver: 'xenvif', value: 'FrontendMaxQueues', data: 1 },
    ],
  }));
  t.equal(await host.xenstore.read(`${fe('vbd/51712')}/ring-page-order`), '3', 'max-ring-page-order 3 (INF: 1)');
  t.equal(await host.xenstore.read(`${fe('vbd/51712')}/multi-queue-num-queues`), '4', 'multi-queue-max-queues 4 (INF: 2)');
  t.equal(await host.xenstore.read(`${fe('vif/0')}/multi-queue-num-queues`), '1', 'FrontendMaxQueues 1 (INF: 8)');
  await host.close();
  const bad = new SimHost({ specs });
  await bad.open(new MemorySink(() => bad.clock.now()), { seed: 1 });
  await t.rejects(bad.createGuest(shape({ registry: [{ driver: 'xenvbd', value: 'NoSuchValue', data: 1 }] }), 'inst1'), { code: 'SIM_UNKNOWN_REGISTRY_VALUE' }, 'a value no spec lists is refused');
  await bad.close();
});

t.test('one source of truth: the simulated frontend writes what the spec says, nothing of its own', async (t) => {
  const vif = specs.get('xenvif')!;
  const keys = vif.device!.keys
    .filter((k) => k.name !== 'feature-rx-notify')
    .map((k) => (k.name === 'feature-sg' ? { ...k, value: '0' } : k));
  const changed: DriverSpec = { ...vif, device: { ...vif.device!, keys } };
  const set: SpecSet = new Map([...specs, ['xenvif', changed]]);
  const { host, fe } = await boot(oneDisk(), 11, set);
  t.equal(await host.xenstore.read(`${fe('vif/0')}/feature-sg`), '0', 'the fixed value is the spec\'s');
  t.equal(await host.xenstore.read(`${fe('vif/0')}/feature-rx-notify`), null, 'a key the spec drops is not written');
  await host.close();
});
