// The simulated host's fault injector (hosts/sim/faults.ts) over a hand-made host (FaultTarget): each
// kind of fault flips its switch where it belongs and the returned off flips it back, once; host-wide
// faults reach guests made later; the refusals (an unknown fault, a parameter that is not a number, a
// fault with nothing to act on) are errors. What each fault leaves in a real run's trace is
// hosts/sim-faults.test.ts's.
import t from 'tap';
import { SimFaultInjector } from '../../../src/hosts/sim/faults';
import type { FaultTarget, SimGuest } from '../../../src/hosts/sim/sim-guest';
import type { BackendFaults } from '../../../src/sim/backend/xenbus-backend';
import { noGuestFaults } from '../../../src/sim/faults';
import { DeviceFaults } from '../../../src/sim/windows/device-faults';
import type { FaultName } from '../../../src/model/catalog';
import type { DeviceRef, FaultConfig } from '../../../src/model/scenario';
import type { TraceEventInput } from '../../../src/model/trace';

const fault = (name: string, params: Record<string, string> = {}, device?: DeviceRef): FaultConfig => ({ name: name as FaultName, params, ...(device ? { device } : {}) });
const backendFaults = (): BackendFaults => ({ stall: false, missedNotify: false, lostWakeup: false, unknownResponseIds: 0, duplicateResponses: 0, spikeUs: 0, spikeEvery: 0 });

function guest(name: string, domid: number, devs: DeviceRef[] = ['vbd/51712', 'vif/0']) {
  const df = new DeviceFaults();
  const g = {
    ref: { name, domid, handle: `i/${name}` }, inst: 'i', dom: { domid },
    win: { faults: noGuestFaults(), deviceFaults: (d: DeviceRef | '*') => df.switches(d), refreshFaults: () => undefined, frontends: new Map() },
  } as unknown as SimGuest;
  return { g, df, devices: devs.map((dev) => ({ dev, backend: { faults: backendFaults() } })) };
}

function host() {
  const guests = new Map<string, SimGuest>();
  const devices = new Map<number, { dev: DeviceRef; backend: { faults: BackendFaults } }[]>();
  const events: TraceEventInput[] = [];
  const detached: string[] = [];
  const crashed: string[] = [];
  const hooks: { beforeCommit?: (domid: number) => string; onWatchEvent?: (domid: number, path: string, token: string) => string } = {};
  const target = {
    hv: { sched: { after: () => undefined } },
    xenstore: { intercept: () => undefined },
    xenstored: { hooks, server: { connections: () => [] } },
    guests,
    suspend: {},
    ts: () => ({ devicesOf: (domid: number) => devices.get(domid) ?? [] }),
    emit: (e: TraceEventInput) => events.push(e),
    guest: (ref: { name: string; handle: string }) => {
      const g = guests.get(ref.handle) ?? [...guests.values()].find((x) => x.ref.name === ref.name);
      if (!g) throw new Error(`no guest ${ref.name}`);
      return g;
    },
    detachDevice: async (ref: { name: string }, dev: DeviceRef, surprise: boolean) => void detached.push(`${ref.name} ${dev} ${surprise}`),
    crash: (g: SimGuest) => void crashed.push(g.ref.name),
  } as unknown as FaultTarget;
  const add = (name: string, domid: number, devs?: DeviceRef[]) => {
    const x = guest(name, domid, devs);
    guests.set(x.g.ref.handle, x.g);
    devices.set(domid, x.devices);
    return x;
  };
  const inj = new SimFaultInjector(target);
  inj.installHooks();
  return { inj, add, events, detached, crashed, hooks };
}

t.test('a guest fault: its flag on while the fault is, off once; on and off said in the trace', async (t) => {
  const h = host();
  const { g } = h.add('win1', 3);
  const off = await h.inj.inject(fault('no-unplug'), g.ref);
  t.equal(g.win.faults.noUnplug, true);
  await off();
  await off();
  t.equal(g.win.faults.noUnplug, false);
  t.match(h.events, [{ ev: 'fault', name: 'no-unplug', on: true, detail: { guest: 'win1' } }, { ev: 'fault', name: 'no-unplug', on: false }]);
  t.equal(h.events.length, 2, 'off twice is off once');
});

t.test('frontend and backend switches: the named device only, or every device', async (t) => {
  const h = host();
  const x = h.add('win1', 3);
  const off = await h.inj.inject(fault('grant-leak', {}, 'vif/0'), x.g.ref);
  t.equal(x.df.effective('vif/0').grantLeak, true);
  t.equal(x.df.effective('vbd/51712').grantLeak, false);
  await off();
  t.equal(x.df.effective('vif/0').grantLeak, false);
  const stall = await h.inj.inject(fault('backend-stall'), x.g.ref);
  t.same(x.devices.map((d) => d.backend.faults.stall), [true, true], 'no device: every backend');
  await stall();
  t.same(x.devices.map((d) => d.backend.faults.stall), [false, false]);
  await h.inj.inject(fault('slow-backend', { latencyMs: '50', every: '0' }, 'vbd/51712'), x.g.ref);
  t.match(x.devices[0]!.backend.faults, { spikeUs: 50_000, spikeEvery: 1 }, 'every is at least 1');
  t.equal(x.devices[1]!.backend.faults.spikeUs, 0);
});

t.test('a host-wide fault reaches every guest, and guests created later until it is off', async (t) => {
  const h = host();
  const a = h.add('a', 3);
  const off = await h.inj.inject(fault('revision-mismatch'));
  t.equal(a.g.win.faults.revisionMismatch, true);
  const b = h.add('b', 4);
  h.inj.applyPending(b.g);
  await new Promise((r) => setImmediate(r));
  t.equal(b.g.win.faults.revisionMismatch, true, 'a later guest');
  await off();
  const c = h.add('c', 5);
  h.inj.applyPending(c.g);
  await new Promise((r) => setImmediate(r));
  t.equal(c.g.win.faults.revisionMismatch, false, 'after off: not pending any more');
});

t.test('xenstored faults: EAGAIN commits and dropped or held backend-state watch events, for that guest only', async (t) => {
  const h = host();
  const x = h.add('win1', 3);
  const off = await h.inj.inject(fault('eagain-storm'), x.g.ref);
  t.equal(h.hooks.beforeCommit!(3), 'eagain');
  t.equal(h.hooks.beforeCommit!(4), 'ok');
  await off();
  t.equal(h.hooks.beforeCommit!(3), 'ok');
  const state = '/local/domain/0/backend/vbd/3/51712/state';
  const drop = await h.inj.inject(fault('watch-drop'), x.g.ref);
  t.equal(h.hooks.onWatchEvent!(3, state, 't'), 'drop');
  t.equal(h.hooks.onWatchEvent!(3, '/local/domain/3/device/vbd/51712/state', 't'), 'deliver', 'not a backend state node');
  t.equal(h.hooks.onWatchEvent!(4, state, 't'), 'deliver', 'another domain');
  await drop();
  await h.inj.inject(fault('watch-delay', { delayMs: '10' }), x.g.ref);
  t.equal(h.hooks.onWatchEvent!(3, state, 't'), 'hold');
});

t.test('refused: an unknown fault, a parameter that is not a number, a fault with nothing to act on', async (t) => {
  const h = host();
  const x = h.add('win1', 3, []);
  await t.rejects(h.inj.inject(fault('no-such-fault'), x.g.ref), { code: 'FAULT_UNKNOWN', kind: 'input' });
  await t.rejects(h.inj.inject(fault('slow-backend', { latencyMs: 'soon' }), h.add('win2', 4).g.ref), { code: 'FAULT_PARAM', kind: 'input', message: /latencyMs='soon' is not a number/ });
  await t.rejects(h.inj.inject(fault('surprise-unplug'), x.g.ref), { code: 'SIM_FAULT_TARGET', message: /win1 has no device/ });
  await t.rejects(h.inj.inject(fault('ring-overrun'), x.g.ref), { code: 'SIM_FAULT_TARGET', message: /connected PV disk on win1/ });
  t.same(h.events, [], 'nothing said for a fault that was not injected');
});

t.test('guest-crash crashes the guest; surprise-unplug pulls the named device without a handshake', async (t) => {
  const h = host();
  const x = h.add('win1', 3);
  await h.inj.inject(fault('guest-crash'), x.g.ref);
  t.same(h.crashed, ['win1']);
  await h.inj.inject(fault('surprise-unplug', {}, 'vif/0'), x.g.ref);
  await h.inj.inject(fault('surprise-unplug'), x.g.ref);
  t.same(h.detached, ['win1 vif/0 true', 'win1 vbd/51712 true'], 'no device named: the first');
});
