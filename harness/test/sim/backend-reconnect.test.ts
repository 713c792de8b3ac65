// A frontend that closes and reconnects from Initialising, against each simulated backend as its
// source has it (sim/backend/*.ts onFrontendState). The Windows frontend of a connected guest is frozen
// (it no longer follows its backend) and its states are written through xenstore, its ring keys left
// where the driver wrote them; the backend maps the same grants and ports again.
//  - after Closed: blkback ("prepare for reconnect", xen-blkback/xenbus.c frontend_changed), netback
//    (set_backend_state, xen-netback/xenbus.c) and tapback (tapback/frontend.c frontend_changed) all go
//    back to InitWait and then Connected, blkback and tapback rewriting their connect transaction,
//    netback writing only its state; blkback and tapback keep the rings mapped until Closed, netback
//    unmaps them at Closing;
//  - after Closing, without waiting for Closed (Closed and Initialising back to back): netback walks
//    Closing -> Closed -> InitWait, tapback goes straight to InitWait, blkback stays Closing (its
//    Initialising case acts only on a Closed backend);
//  - Initialised/Connected straight after Closed: blkback and tapback connect (from any state but
//    Connected), netback walks Closed -> InitWait -> Connected.
//  - a state already set is not written again by blkback and netback (xenbus_client.c
//    __xenbus_switch_state), and is by tapback (its own xenbus_switch_state).
// The simulator before this model left netback and tapback Closing as blkback, ignored a connect from
// Closed, unmapped blkback's and tapback's rings at Closing and rewrote blkback's Closing.
import t, { type Test } from 'tap';
import { SimHost } from '../../src/hosts/sim';
import type { GuestRef } from '../../src/model/host';
import type { DeviceRef } from '../../src/model/scenario';
import { XenbusState } from '../../src/model/xenbus';
import { specs } from '../hosts/sim-fixture';

interface Dev {
  name: string;
  dev: DeviceRef;
  fe: string;
  be: string;
}

async function connectedGuest(t: Test, diskBackend?: 'vbd3'): Promise<{ host: SimHost; g: GuestRef; devs: Dev[] }> {
  const host = new SimHost({ specs, ...(diskBackend ? { diskBackend } : {}) });
  await host.open({ emit: () => undefined }, { seed: 5 });
  t.teardown(() => host.close());
  const g = await host.createGuest({ name: 'g', os: 'windows', vcpus: 2, memoryMiB: 2048, vbds: [{ vdev: 'xvda', sizeMiB: 64, mode: 'w', backend: {} }], vifs: [{ devid: 0, backend: {} }] }, 'reconnect');
  await host.startGuest(g);
  await host.agent(g).installDrivers({ location: 'builtin:9.1.0.100', version: '9.1.0.100', drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'] });
  await host.rebootGuest(g);
  const devs: Dev[] = [];
  for (const dev of ['vbd/51712', 'vif/0'] as const) {
    const fe = `/local/domain/${g.domid}/device/${dev}`;
    const be = (await host.xenstore.read(`${fe}/backend`))!;
    const name = dev.startsWith('vif') ? 'netback' : diskBackend ? 'tapback' : 'blkback';
    devs.push({ name, dev, fe, be });
  }
  for (const d of devs) {
    t.ok(await until(host, `${d.be}/state`, XenbusState.Connected), `${d.name} Connected after the install's reboot`);
    // the driver stops following its backend; the test writes its states from here on
    await host.guest(g).win.frontends.get(d.dev)!.freeze();
  }
  return { host, g, devs };
}

/** Whether `path` reads `state` within 10 s of virtual time. */
async function until(host: SimHost, path: string, state: number): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if ((await host.xenstore.read(path)) === String(state)) return true;
    await host.clock.sleep(50);
  }
  return false;
}

/** Every write under the backend directory from now on: the states, and the other keys by name. */
async function recordBackend(host: SimHost, be: string): Promise<{ states: number[]; keys: Set<string> }> {
  const out = { states: [] as number[], keys: new Set<string>() };
  let first = true;
  await host.xenstore.watch(be, (p, v) => {
    if (first) return void (first = false); // the watch's own first event
    if (v === undefined || v === null || !p.startsWith(`${be}/`)) return;
    const key = p.slice(be.length + 1);
    if (key === 'state') out.states.push(Number(v));
    else out.keys.add(key);
  });
  return out;
}

const CONNECT_KEYS: Record<string, string[]> = {
  // xen-blkback/xenbus.c connect(): xen_blkbk_flush_diskcache, xen_blkbk_discard, xen_blkbk_barrier,
  // feature-persistent, sectors, info, sector-size, physical-sector-size
  blkback: ['discard-alignment', 'discard-granularity', 'discard-secure', 'feature-barrier', 'feature-discard', 'feature-flush-cache', 'feature-persistent', 'info', 'physical-sector-size', 'sector-size', 'sectors'],
  // xen-netback/xenbus.c connect(): reads the frontend's keys, writes none
  netback: [],
  // tapback/frontend.c connect_frontend: feature-barrier, sector-size, sectors, info
  tapback: ['feature-barrier', 'info', 'sector-size', 'sectors'],
};

async function closeAndReconnect(t: Test, diskBackend?: 'vbd3'): Promise<void> {
  const { host, g, devs } = await connectedGuest(t, diskBackend);
  for (const d of devs) {
    await host.xenstore.write(`${d.fe}/state`, String(XenbusState.Closing));
    t.ok(await until(host, `${d.be}/state`, XenbusState.Closing), `${d.name}: Closing`);
    // blkback and tapback let go of the rings at Closed (xen_blkif_disconnect, backend_close), netback
    // at Closing (set_backend_state: Connected -> Closing is backend_disconnect)
    const rings = () => host.ts().record(g.domid, d.dev)!.backend.liveRings().length;
    if (d.name === 'netback') t.equal(rings(), 0, 'netback: rings unmapped at Closing');
    else t.ok(rings() > 0, `${d.name}: rings still mapped at Closing`);
    await host.xenstore.write(`${d.fe}/state`, String(XenbusState.Closed));
    t.ok(await until(host, `${d.be}/state`, XenbusState.Closed), `${d.name}: Closed`);
    t.equal(rings(), 0, `${d.name}: rings unmapped at Closed`);
    const rec = await recordBackend(host, d.be);
    await host.xenstore.write(`${d.fe}/state`, String(XenbusState.Initialising));
    t.ok(await until(host, `${d.be}/state`, XenbusState.InitWait), `${d.name}: InitWait again after the frontend's Initialising`);
    t.same([...rec.keys], [], `${d.name}: nothing re-advertised on the way back to InitWait`);
    // xenvbd announces Initialised then Connected, xenvif Connected (the drivers' connect paths)
    if (d.dev.startsWith('vbd')) await host.xenstore.write(`${d.fe}/state`, String(XenbusState.Initialised));
    else await host.xenstore.write(`${d.fe}/state`, String(XenbusState.Connected));
    t.ok(await until(host, `${d.be}/state`, XenbusState.Connected), `${d.name}: Connected again on the same rings`);
    t.same(rec.states, [XenbusState.InitWait, XenbusState.Connected], `${d.name}: the backend's states after Closed`);
    t.same([...rec.keys].sort(), CONNECT_KEYS[d.name], `${d.name}: the keys written at the reconnect`);
    t.equal(await host.xenstore.read(`${d.be}/error`), null, `${d.name}: no error`);
  }
}

t.test('blkback and netback: a frontend reconnecting after Closed finds InitWait, then Connected', (t) => closeAndReconnect(t));
t.test('tapback: a frontend reconnecting after Closed finds InitWait, then Connected', (t) => closeAndReconnect(t, 'vbd3'));

/** Each device closed to Closing, then the frontend's `writes` back to back: the backend's state
 *  writes in the `settleMs` after them, by backend. */
async function statesAfterClosing(t: Test, writes: XenbusState[], settleMs: number, diskBackend?: 'vbd3'): Promise<Record<string, number[]>> {
  const { host, devs } = await connectedGuest(t, diskBackend);
  const out: Record<string, number[]> = {};
  for (const d of devs) {
    await host.xenstore.write(`${d.fe}/state`, String(XenbusState.Closing));
    t.ok(await until(host, `${d.be}/state`, XenbusState.Closing), `${d.name}: Closing`);
    const rec = await recordBackend(host, d.be);
    for (const s of writes) await host.xenstore.write(`${d.fe}/state`, String(s));
    await host.clock.sleep(settleMs);
    out[d.name] = rec.states;
  }
  return out;
}

/** Closed and Initialising back to back: the backend's watch reads Initialising both times. */
const noWaitForClosed = (t: Test, diskBackend?: 'vbd3') => statesAfterClosing(t, [XenbusState.Closed, XenbusState.Initialising], 3000, diskBackend);

t.test('Initialising while the backend is still Closing: netback walks to InitWait, blkback stays Closing', async (t) => {
  const states = await noWaitForClosed(t);
  t.same(states.netback, [XenbusState.Closed, XenbusState.InitWait], 'netback: set_backend_state Closing -> Closed -> InitWait');
  t.same(states.blkback, [], 'blkback: nothing (only a Closed blkback prepares for a reconnect)');
});

t.test('Initialising while tapback is still Closing: InitWait, written at each watch event', async (t) => {
  const states = await noWaitForClosed(t, 'vbd3');
  t.ok(states.tapback!.length >= 1 && states.tapback!.every((s) => s === XenbusState.InitWait), `tapback: InitWait without Closed (${states.tapback!.join(' ')})`);
});

/** Closes each device to Closed, then has the frontend announce its rings without Initialising first. */
async function connectFromClosed(t: Test, diskBackend?: 'vbd3'): Promise<Record<string, number[]>> {
  const { host, devs } = await connectedGuest(t, diskBackend);
  const out: Record<string, number[]> = {};
  for (const d of devs) {
    for (const s of [XenbusState.Closing, XenbusState.Closed]) {
      await host.xenstore.write(`${d.fe}/state`, String(s));
      t.ok(await until(host, `${d.be}/state`, s), `${d.name}: ${s}`);
    }
    const rec = await recordBackend(host, d.be);
    await host.xenstore.write(`${d.fe}/state`, String(d.dev.startsWith('vbd') ? XenbusState.Initialised : XenbusState.Connected));
    t.ok(await until(host, `${d.be}/state`, XenbusState.Connected), `${d.name}: Connected`);
    out[d.name] = rec.states;
  }
  return out;
}

t.test('a frontend announcing its rings straight after Closed: blkback and tapback connect, netback walks through InitWait', async (t) => {
  const states = await connectFromClosed(t);
  t.same(states.blkback, [XenbusState.Connected], 'blkback: frontend_changed connects from any state but Connected');
  t.same(states.netback, [XenbusState.InitWait, XenbusState.Connected], 'netback: set_backend_state Closed -> InitWait -> Connected');
  const tap = await connectFromClosed(t, 'vbd3');
  t.same(tap.tapback, [XenbusState.Connected], 'tapback: xenbus_connect unless already Connected');
});

/** The frontend writes Closing a second time (its watch fires again). */
const closingTwice = (t: Test, diskBackend?: 'vbd3') => statesAfterClosing(t, [XenbusState.Closing], 2000, diskBackend);

t.test('a state already set: Linux\'s xenbus_switch_state does not write it again, tapback\'s does', async (t) => {
  const linux = await closingTwice(t);
  t.same(linux, { blkback: [], netback: [] }, 'blkback and netback: no second Closing');
  const tap = await closingTwice(t, 'vbd3');
  t.ok(tap.tapback!.length >= 1 && tap.tapback!.every((s) => s === XenbusState.Closing), `tapback: Closing written again (${tap.tapback!.join(' ')})`);
});
