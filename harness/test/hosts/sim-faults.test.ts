// Every fault of the catalogue, injected on the simulated host, leaves the symptom its check looks
// for in the trace (the run helper's tests then prove the check itself reports it).
import t from 'tap';
import { FAULTS, type FaultName } from '../../src/model/catalog';
import type { FaultConfig } from '../../src/model/scenario';
import type { RingIndices } from '../../src/model/host';
import { FAULT_SYMPTOMS } from '../../src/hosts/sim';
import { bootedHost, block } from './sim-fixture';
import { DEFAULT_TIMINGS } from '../../src/sim/timings';

const fault = (name: FaultName, params: Record<string, string> = {}, device?: FaultConfig['device']): FaultConfig => ({ name, params, ...(device ? { device } : {}) });
type Booted = Awaited<ReturnType<typeof bootedHost>>;

async function blkSample(b: Booted): Promise<RingIndices> {
  const rings = await b.host.rings.rings(b.g);
  return (await b.host.rings.sample(b.g, rings.find((r) => r.ring === 'blk')!))!;
}

/** Two samples half a second apart while a workload runs under the fault. */
async function stuckRing(name: FaultName): Promise<{ a: RingIndices; b: RingIndices }> {
  const booted = await bootedHost(11);
  const off = await booted.host.faults!.inject(fault(name), booted.g);
  const run = booted.host.agent(booted.g).blockWorkload(block({ durationMs: 3000 }));
  await booted.host.clock.sleep(1000);
  const a = await blkSample(booted);
  await booted.host.clock.sleep(500);
  const b = await blkSample(booted);
  await off();
  await run;
  await booted.host.close();
  return { a, b };
}

/** The frontend and backend state values of vbd/51712 in the order the probe would see them, over a reboot. */
async function statesOverReboot(name: FaultName, params: Record<string, string> = {}, waitMs = 500) {
  const b = await bootedHost(12);
  const seen: string[] = [];
  const written: Record<string, (string | null)[]> = {};
  const off = await b.host.faults!.inject(fault(name, params), b.g);
  // The reboot builds the guest a new domain (as xl and xapi do): its paths are watched before it runs.
  await b.host.rebootGuest(b.g, {
    beforeUnpause: async (g) => {
      const fe = `/local/domain/${g.domid}/device/vbd/51712`;
      await b.host.xenstore.watch(fe, (p, v) => {
        const k = p.slice(fe.length + 1);
        (written[k] ??= []).push(v ?? null);
        if (k === 'state') seen.push(`fe=${v}`);
      });
      await b.host.xenstore.watch(`/local/domain/0/backend/vbd/${g.domid}/51712/state`, (_p, v) => seen.push(`be=${v}`));
      // what the toolstack wrote as it built the devices, before the watches were set
      seen.unshift(`fe=${await b.host.xenstore.read(`${fe}/state`)}`);
    },
  });
  await b.host.clock.sleep(waitMs);
  return { b, seen, written, off };
}

t.test('every catalogued fault is documented', async (t) => {
  t.same(Object.keys(FAULT_SYMPTOMS).sort(), Object.keys(FAULTS).sort());
});

t.test('missed-notify: responses pushed but never consumed, nothing moves', async (t) => {
  const { a, b } = await stuckRing('missed-notify');
  t.ok(a.rsp_prod !== a.rsp_cons, `unconsumed responses (rsp_prod ${a.rsp_prod}, rsp_cons ${a.rsp_cons})`);
  t.same(b, a, 'no index moved over the interval');
});

t.test('lost-wakeup: req_event not re-armed, requests sit unconsumed', async (t) => {
  const { a, b } = await stuckRing('lost-wakeup');
  t.ok(a.req_prod !== a.req_cons, `unconsumed requests (req_prod ${a.req_prod}, req_cons ${a.req_cons})`);
  t.ok(a.req_event <= (a.req_cons ?? 0), 'req_event behind req_cons: the frontend no longer notifies');
  t.same(b, a);
});

t.test('backend-stall: outstanding requests, frozen indices', async (t) => {
  const { a, b } = await stuckRing('backend-stall');
  t.ok(a.req_prod !== a.rsp_prod, 'requests outstanding');
  t.same(b, a);
});

for (const name of ['unknown-response-id', 'duplicate-response'] as const) {
  t.test(`${name}: visible in ring.io`, async (t) => {
    const b = await bootedHost(13);
    await b.host.faults!.inject(fault(name), b.g);
    await b.host.agent(b.g).blockWorkload(block({ durationMs: 1000 }));
    const io = b.sink.of('ring.io').filter((e) => e.ring === 'blk');
    const req = new Set(io.filter((e) => e.dir === 'req').flatMap((e) => e.ids));
    const rsp = io.filter((e) => e.dir === 'rsp').flatMap((e) => e.ids);
    if (name === 'unknown-response-id') t.ok(rsp.some((id) => !req.has(id)), 'a response id that was never requested');
    else t.ok(rsp.some((id, i) => rsp.indexOf(id) !== i), 'one id answered twice');
    t.ok([...req].some((id) => !rsp.includes(id)), 'and a request never answered');
    t.ok(b.sink.of('fault').some((e) => e.name === name && e.on), 'fault event on');
    await b.host.close();
  });
}

t.test('ring-overrun: more than nr_ents outstanding', async (t) => {
  const b = await bootedHost(14);
  await b.host.faults!.inject(fault('ring-overrun'), b.g);
  const s = await blkSample(b);
  t.ok(((s.req_prod - s.rsp_prod) >>> 0) > s.nr_ents, `req_prod - rsp_prod = ${(s.req_prod - s.rsp_prod) >>> 0} > ${s.nr_ents}`);
  await b.host.close();
});

for (const [name, field] of [['grant-leak', 'active'], ['grant-revoke-mapped', 'revokedWhileMapped']] as const) {
  t.test(`${name}: the device-closed audit shows ${field}`, async (t) => {
    const b = await bootedHost(15);
    await b.host.faults!.inject(fault(name), b.g);
    // The guest closes its devices itself (a reboot): the frontend leads the close.
    await b.host.rebootGuest(b.g);
    const audit = b.sink.of('grants').find((e) => e.when === 'device-closed' && e.dev === 'vbd/51712');
    t.ok(audit && audit[field].length > 0, `${field}: ${audit?.[field]}`);
    await b.host.close();
  });
}

t.test('skip-state: Initialising straight to Connected', async (t) => {
  const { b, seen } = await statesOverReboot('skip-state');
  const fe = seen.filter((s) => s.startsWith('fe=')).map((s) => s.slice(3));
  t.notOk(fe.includes('3'), 'never Initialised');
  t.ok(fe.lastIndexOf('4') > fe.lastIndexOf('1'), `then Connected: ${fe.join(' ')}`);
  await b.host.close();
});

/** vif/0's frontend and backend states over a hot-plug (unplugged, then plugged again), with `name` on:
 *  the states from the replugged frontend's Initialising, and where its first connect state comes. */
async function statesOverReplug(name?: FaultName) {
  const b = await bootedHost(12);
  const hp = b.host.hotplug!;
  if (name) await b.host.faults!.inject(fault(name), b.g);
  await hp.detach(b.g, 'vif/0', { surprise: false });
  const seen: string[] = [];
  await b.host.xenstore.watch(`/local/domain/${b.g.domid}/device/vif/0/state`, (_p, v) => seen.push(`fe=${v}`));
  await b.host.xenstore.watch(`/local/domain/0/backend/vif/${b.g.domid}/0/state`, (_p, v) => seen.push(`be=${v}`));
  await hp.attachVif(b.g, { devid: 0, backend: {} });
  await b.host.clock.sleep(2000);
  await b.host.close();
  const after = seen.slice(seen.lastIndexOf('fe=1'));
  // xenvif's frontend goes from Initialising to Connected (frontend.c FrontendConnect): its first state after 1
  return { after, announced: after.findIndex((x) => x === 'fe=3' || x === 'fe=4'), initWait: after.indexOf('be=2') };
}

t.test('early-connect: frontend Initialised before backend InitWait (a hot-plug, whose backend probes a reaction later)', async (t) => {
  const { after, announced, initWait } = await statesOverReplug('early-connect');
  t.ok(announced >= 0 && initWait >= 0 && announced < initWait, after.join(' '));
});

t.test('without the fault, the replugged frontend waits for InitWait', async (t) => {
  const { after, announced, initWait } = await statesOverReplug();
  t.ok(initWait >= 0 && announced > initWait, after.join(' '));
});

t.test('a hot-plugged backend probes a backend reaction after the toolstack wrote its directory, as dom0\'s xenbus does', async (t) => {
  const b = await bootedHost(12);
  const hp = b.host.hotplug!;
  await hp.detach(b.g, 'vif/0', { surprise: false });
  const at: Record<string, number> = {};
  await b.host.xenstore.watch(`/local/domain/0/backend/vif/${b.g.domid}/0/state`, (_p, v) => {
    if (v && at[v] === undefined) at[v] = b.host.clock.now();
  });
  await hp.attachVif(b.g, { devid: 0, backend: {} });
  await b.host.clock.sleep(2000);
  await b.host.close();
  t.ok(at['1'] !== undefined && at['2'] !== undefined, `Initialising, then InitWait: ${JSON.stringify(at)}`);
  t.ok(at['2']! - at['1']! >= DEFAULT_TIMINGS.backendReactionMs, `InitWait ${at['2']! - at['1']!} ms after the directory (the backend reaction: ${DEFAULT_TIMINGS.backendReactionMs} ms)`);
});

t.test('missing-key, malformed-key, wrong-protocol: the keys as written', async (t) => {
  let r = await statesOverReboot('missing-key');
  const after = (k: string) => r.written[k] ?? [];
  t.ok(after('state').includes('3'), 'Initialised was written');
  t.same(Object.keys(r.written).filter((k) => /^ring-ref/.test(k)).map((k) => after(k).filter((v) => v !== null).length > 1 ? k : '').filter(Boolean), [], 'no ring-ref written on the second connect');
  await r.b.host.close();
  r = await statesOverReboot('malformed-key');
  t.ok(after('ring-page-order').includes('9'), `ring-page-order values ${after('ring-page-order')}`);
  await r.b.host.close();
  r = await statesOverReboot('wrong-protocol');
  t.ok(after('protocol').includes('x86_32-abi'));
  await r.b.host.close();
});

for (const [name, params] of [['eagain-storm', {}], ['watch-drop', {}], ['watch-delay', { delayMs: '60000' }]] as const) {
  t.test(`${name}: the device does not connect within the limit`, async (t) => {
    const { b, seen, off } = await statesOverReboot(name, params, 30_000);
    const fe = seen.filter((s) => s.startsWith('fe=')).map((s) => s.slice(3));
    t.notOk(fe.slice(fe.lastIndexOf('1')).includes('4'), `frontend not Connected after 30 s: ${fe.join(' ')}`);
    if (name === 'watch-delay') {
      await off();
      await b.host.clock.sleep(200_000);
      t.equal(await b.host.xenstore.read(`/local/domain/${b.g.domid}/device/vbd/51712/state`), '4', 'connects once the held events arrive');
    }
    await b.host.close();
  });
}

t.test('backend-closing during I/O: workload errors', async (t) => {
  const b = await bootedHost(16);
  const run = b.host.agent(b.g).blockWorkload(block({ durationMs: 2000 }));
  await b.host.clock.sleep(500);
  await b.host.faults!.inject(fault('backend-closing', {}, 'vbd/51712'), b.g);
  const r = await run;
  t.ok(r.result.errors > 0, `${r.result.errors} errors`);
  await b.host.close();
});

for (const name of ['surprise-unplug', 'suspend-inflight'] as const) {
  t.test(`${name}: requests in flight never answered`, async (t) => {
    const b = await bootedHost(17);
    const run = b.host.agent(b.g).blockWorkload(block({ durationMs: 2000, queueDepth: 16 }));
    await b.host.clock.sleep(500);
    await b.host.faults!.inject(fault(name, {}, 'vbd/51712'), b.g);
    await run;
    const io = b.sink.of('ring.io').filter((e) => e.ring === 'blk');
    const rsp = new Set(io.filter((e) => e.dir === 'rsp').flatMap((e) => e.ids));
    t.ok(io.some((e) => e.dir === 'req' && e.ids.some((id) => !rsp.has(id))), 'unanswered requests');
    await b.host.close();
  });
}

t.test('slow-backend: latency spikes in the high percentiles', async (t) => {
  const b = await bootedHost(18);
  // A short run keeps the time dilation small enough for the spikes to stay under the storport timeout.
  const base = await b.host.agent(b.g).blockWorkload(block({ durationMs: 100 }));
  await b.host.faults!.inject(fault('slow-backend', { latencyMs: '200', every: '8' }), b.g);
  const slow = await b.host.agent(b.g).blockWorkload(block({ durationMs: 100 }));
  t.ok(slow.result.latencyMs['99'] > base.result.latencyMs['99'] * 5, `p99 ${base.result.latencyMs['99']} -> ${slow.result.latencyMs['99']} ms`);
  await b.host.close();
});

t.test('guest-crash, revision-mismatch, no-unplug, feature-suspend-lost', async (t) => {
  let b = await bootedHost(19);
  await b.host.faults!.inject(fault('guest-crash'), b.g);
  t.equal(await b.host.powerState(b.g), 'crashed');
  t.ok(b.sink.of('guest').some((e) => e.what === 'crashed'));
  await b.host.destroyGuest(b.g);
  await b.host.close();

  b = await bootedHost(20);
  await b.host.faults!.inject(fault('revision-mismatch'), b.g);
  await b.host.faults!.inject(fault('no-unplug'), b.g);
  await b.host.rebootGuest(b.g);
  const st = await b.host.agent(b.g).driverStatus();
  t.same(st.bound.map((x) => x.driver), ['xenbus']);
  t.ok(st.unbound.some((u) => /DEV_VBD/.test(u.hardwareId)), 'xenvbd does not bind');
  t.same(st.unplugged, { disks: false, nics: false });
  await b.host.close();

  b = await bootedHost(21);
  await b.host.faults!.inject(fault('feature-suspend-lost'), b.g);
  await b.host.suspend!.suspend(b.g);
  await b.host.suspend!.resume(b.g);
  await b.host.clock.sleep(1000);
  t.equal(await b.host.xenstore.read(`/local/domain/${b.g.domid}/control/feature-suspend`), null);
  await b.host.close();
});
