// The simulated guests' lifecycle (hosts/sim/lifecycle.ts) on the shared state alone (no SimHost):
// each change a `guest` event; the refusals (a non-Windows guest, a second guest of one handle, a
// registry value no spec lists, a reboot or bug check of a guest that is not running) as errors.
import t, { type Test } from 'tap';
import { connectedWithin, openSimState, runningWithDrivers, shape } from '../sim-fixture';

async function openLifecycle(t: Test) {
  const o = await openSimState(t);
  return { ...o, whats: () => o.sink.of('guest').map((e) => e.what) };
}

t.test('create: a domain with its devices, the pending faults applied, created and memory events', async (t) => {
  const { st, sink, life, pending, whats } = await openLifecycle(t);
  const ref = await life.createGuest(shape(), 'inst1');
  t.match(ref, { name: 'win1', handle: 'inst1/win1' });
  t.ok(ref.domid > 0, 'a guest domain');
  t.equal(pending.length, 1, 'the host-wide faults are applied to the new guest');
  t.equal(pending[0]!.ref.handle, 'inst1/win1');
  t.same(st.ts().devicesOf(ref.domid).map((r) => r.dev).sort(), ['vbd/51712', 'vif/0']);
  t.equal(await life.powerState(ref), 'paused', 'created paused: the probes attach first');
  t.same(whats(), ['created']);
  t.match(sink.of('memory')[0], { guest: 'win1', staticMaxKiB: 2048 * 1024, targetKiB: 2048 * 1024 });
});

t.test('create refuses a non-Windows guest, a second guest of one handle and an unlisted registry value', async (t) => {
  const { life } = await openLifecycle(t);
  await t.rejects(life.createGuest(shape({ os: 'linux' }), 'i'), { code: 'SIM_UNSUPPORTED_OS', kind: 'host' });
  await life.createGuest(shape(), 'i');
  await t.rejects(life.createGuest(shape(), 'i'), { code: 'SIM_GUEST_EXISTS' });
  await t.resolves(life.createGuest(shape(), 'j'), 'the same name in another instance is another guest');
  await t.rejects(life.createGuest(shape({ name: 'w2', registry: [{ driver: 'xenvbd', value: 'NoSuchValue', data: 1 }] }), 'i'),
    { code: 'SIM_UNKNOWN_REGISTRY_VALUE', kind: 'input', message: /registry value xenvbd NoSuchValue/ });
});

t.test('start, reboot, clean shutdown: each said once; reboot of a halted guest refused', async (t) => {
  const { life, whats } = await openLifecycle(t);
  const ref = await life.createGuest(shape(), 'i');
  await t.rejects(life.rebootGuest(ref), { code: 'SIM_NOT_RUNNING', message: /win1 is paused/ });
  await life.startGuest(ref);
  t.equal(await life.powerState(ref), 'running');
  await life.rebootGuest(ref);
  await life.shutdownGuest(ref, 'clean');
  t.equal(await life.powerState(ref), 'halted');
  await life.shutdownGuest(ref, 'hard');
  t.same(whats(), ['created', 'started', 'rebooted', 'shutdown'], 'a second shutdown of a halted guest is no change');
  await t.rejects(life.rebootGuest(ref), { code: 'SIM_NOT_RUNNING', message: /is halted/ });
});

t.test('reboot: a new domain as xl and xapi build it (new domid, fresh directories and backends), the disks kept', async (t) => {
  const { st, sink, life } = await openLifecycle(t);
  const ref = await runningWithDrivers({ st, life });
  const old = ref.domid;
  const xs = st.dom0.xs;
  const disk = st.ts().devicesOf(old).find((r) => r.disk)!.disk!;
  disk.write(8, Buffer.alloc(512, 0x5a), 0, 1);
  await xs.write(`/local/domain/${old}/data/left-by-the-old-boot`, '1');
  const mac = await xs.read(`/local/domain/0/backend/vif/${old}/0/mac`);
  const beforeRebuild = sink.events.length;
  let seenPaused: { domid: number; state: string } | undefined;
  await life.rebootGuest(ref, { beforeUnpause: async (g) => void (seenPaused = { domid: g.domid, state: st.guest(g).dom.state }) });
  t.not(ref.domid, old, 'the caller\'s ref has the new domid');
  t.same(seenPaused, { domid: ref.domid, state: 'paused' }, 'beforeUnpause ran with the new domid before the new domain ran');
  t.equal(st.hv.domain(old), undefined, 'the old domain is destroyed');
  for (const p of [`/local/domain/${old}`, `/local/domain/0/backend/vbd/${old}`, `/local/domain/0/backend/vif/${old}`]) {
    t.equal(await xs.read(p).catch(() => null), null, `${p} is gone`);
  }
  t.equal(await xs.read(`/local/domain/${ref.domid}/data/left-by-the-old-boot`).catch(() => null), null, 'nothing the old boot wrote is in the new domain');
  t.same(st.ts().devicesOf(ref.domid).map((r) => r.dev).sort(), ['vbd/51712', 'vif/0'], 'the devices rebuilt for the new domain');
  t.equal(await xs.read(`/local/domain/0/backend/vif/${ref.domid}/0/mac`), mac, 'the VIF keeps the MAC chosen when the guest was created');
  const after = Buffer.alloc(512);
  st.ts().devicesOf(ref.domid).find((r) => r.disk)!.disk!.read(8, after, 0, 1);
  t.ok(after.equals(Buffer.alloc(512, 0x5a)), 'the disk keeps what was written before the reboot');
  const around = sink.events.slice(beforeRebuild);
  t.match(around.find((e) => e.ev === 'grants'), { when: 'teardown', domid: old }, 'the old domain\'s grants audited before it went');
  t.match(around.find((e) => e.ev === 'guest' && e.what === 'rebooted'), { domid: ref.domid, detail: { from: old } });
  t.ok(await connectedWithin({ read: (p) => xs.read(p), directory: (p) => xs.directory(p), sleep: (ms) => st.hv.sched.sleep(ms) }, ref.domid, 30_000), 'the drivers connect in the new domain');
});

t.test('destroy: the teardown audit and counters, then gone; twice is once; an unknown guest is gone', async (t) => {
  const { st, sink, life, whats } = await openLifecycle(t);
  const ref = await life.createGuest(shape(), 'i');
  await life.startGuest(ref);
  await life.destroyGuest(ref);
  await life.destroyGuest(ref);
  t.same(whats(), ['created', 'started', 'destroyed']);
  t.match(sink.of('grants'), [{ when: 'teardown', guest: 'win1' }]);
  t.equal(sink.of('backend.stats').length, 2, 'both devices\' counters before they go');
  t.same(st.ts().devicesOf(ref.domid), [], 'devices gone');
  t.equal(await life.powerState(ref), 'gone');
  t.equal(await life.powerState({ name: 'nobody', domid: 99, handle: 'x/nobody' }), 'gone');
});

t.test('keep: the guest leaves the run (its name free) and is still destroyed with the others', async (t) => {
  const { st, life, whats } = await openLifecycle(t);
  const ref = await life.createGuest(shape(), 'i');
  await life.keepGuest(ref);
  t.equal(st.guests.size, 0);
  t.equal(st.kept.get(ref.domid)?.ref.handle, 'i/win1');
  const again = await life.createGuest(shape(), 'i');
  t.not(again.domid, ref.domid, 'the name is free for a new guest');
  await life.destroyAll();
  t.same(whats().filter((w) => w === 'destroyed').length, 2, 'the kept guest and the new one');
  t.equal(st.kept.size, 0);
});

t.test('crash: the domain and the guest crashed, the reason said', async (t) => {
  const { st, life, sink } = await openLifecycle(t);
  const ref = await life.createGuest(shape(), 'i');
  await life.startGuest(ref);
  life.crash(st.guest(ref), 'stop at boot');
  t.equal(await life.powerState(ref), 'crashed');
  t.equal(st.guest(ref).dom.state, 'crashed');
  t.match(sink.of('guest').at(-1), { what: 'crashed', detail: { reason: 'stop at boot' } });
});

t.test('bug check: refused before Windows is up; a running guest stops, reboots and keeps its dump', async (t) => {
  const { life, sink, whats } = await openLifecycle(t);
  const ref = await life.createGuest(shape(), 'i');
  await t.rejects(life.bugcheck.bugcheck(ref, { code: 0xe2 }), { code: 'SIM_NOT_RUNNING', message: /paused \(Windows is not up\)/ });
  await life.startGuest(ref);
  await life.bugcheck.bugcheck(ref, { code: 0xe2 });
  t.same(whats(), ['created', 'started', 'bugcheck', 'rebooted']);
  t.match(sink.of('guest')[2], { detail: { code: '0x000000E2', name: 'MANUALLY_INITIATED_CRASH' } });
  t.match(sink.of('guest')[3], { detail: { reason: 'bugcheck 0x000000E2' } });
  t.equal(await life.powerState(ref), 'running');
});
