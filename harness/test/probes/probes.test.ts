import t from 'tap';
import { XenstoreProbe } from '../../src/probes/xenstore-probe';
import { RingProbe } from '../../src/probes/ring-probe';
import { TraceWriter } from '../../src/trace/writer';
import { FakeHost } from '../fixtures/fake-host';
import type { XenstoreEvent, RingSampleEvent } from '../../src/model/trace';

const g = { name: 'win', domid: 7, handle: '7' };

t.test('xenstore probe: snapshot, every change, removals as null, no rewrites, follows backend pointers', async (t) => {
  const host = new FakeHost();
  const trace = new TraceWriter();
  const xs = host.xs;
  xs.set('/local/domain/7/device/vbd/51712/state', '1');
  xs.set('/local/domain/7/control/feature-suspend', '1');
  xs.set('/local/domain/9/unrelated', 'x');
  const p = new XenstoreProbe(host.xenstore, trace, 'i');
  await p.attach(g, '/local/domain/7');
  xs.set('/local/domain/0/backend/vbd/7/51712/state', '2');
  xs.set('/local/domain/7/device/vbd/51712/state', '3');
  xs.set('/local/domain/7/device/vbd/51712/state', '3');
  xs.set('/local/domain/7/device/vif/0/backend', '/local/domain/3/backend/vif/7/0');
  await new Promise((r) => setImmediate(r));
  xs.set('/local/domain/3/backend/vif/7/0/state', '2');
  xs.remove('/local/domain/7/device/vbd/51712');
  await p.detach();
  xs.set('/local/domain/7/device/vbd/51712/state', '6');
  const evs = trace.events.filter((e): e is XenstoreEvent => e.ev === 'xs').map((e) => [e.path.replace('/local/domain/', ''), e.value]);
  t.same(evs.filter(([p]) => String(p).startsWith('7/device/vbd/51712/state')), [['7/device/vbd/51712/state', '1'], ['7/device/vbd/51712/state', '3']], 'the rewrite of 3 is not recorded');
  t.ok(evs.some(([p, v]) => p === '7/control/feature-suspend' && v === '1'), 'snapshot of guest keys');
  t.ok(evs.some(([p, v]) => p === '0/backend/vbd/7/51712/state' && v === '2'));
  t.ok(evs.some(([p, v]) => p === '3/backend/vif/7/0/state' && v === '2'), 'a driver-domain backend followed through the frontend backend key');
  t.ok(evs.some(([p, v]) => p === '7/device/vbd/51712' && v === null), 'removal recorded as null');
  t.notOk(evs.some(([p]) => String(p).startsWith('9/')), 'other domains are not recorded');
  t.notOk(evs.some(([, v]) => v === '6'), 'nothing after detach');
  t.ok(trace.events.every((e) => e.ev !== 'xs' || e.guest === 'win'));
});

t.test('ring probe: periodic samples on the host clock, notify samples when something moved, a final sample', async (t) => {
  const host = new FakeHost();
  const trace = new TraceWriter({ clock: () => host.clock.now() });
  await host.open(trace);
  const ref = await host.createGuest({ name: 'win', os: 'windows', vcpus: 1, memoryMiB: 512, vbds: [{ vdev: 'xvda', sizeMiB: 1, mode: 'w', backend: {} }], vifs: [] }, 'i');
  await host.startGuest(ref);
  const probe = new RingProbe(host, trace, 'i', { periodMs: 100 });
  probe.attach(ref);
  probe.start();
  await host.agent(ref).blockWorkload({ kind: 'block', source: { file: 'x' }, guest: 'win', device: 'vbd/51712', blockSize: 4096, queueDepth: 4, threads: 1, writePercent: 0, pattern: 'random', durationMs: 500, verify: false });
  await probe.stop();
  const rings = trace.events.filter((e): e is RingSampleEvent => e.ev === 'ring');
  const periodic = rings.filter((r) => r.why === 'periodic');
  t.ok(periodic.length >= 4, `${periodic.length} periodic samples`);
  t.same(periodic.slice(0, 3).map((r) => r.t), [100, 200, 300], 'one per period of host time');
  t.ok(rings.some((r) => r.why === 'notify'), 'notification samples');
  t.equal(rings[rings.length - 1].why, 'final');
  const notify = rings.filter((r) => r.why === 'notify');
  for (let i = 1; i < notify.length; i++) {
    t.notSame([notify[i].req_prod, notify[i].rsp_prod], [notify[i - 1].req_prod, notify[i - 1].rsp_prod], 'a notify sample shows something new');
  }
  t.same([rings[0].dev, rings[0].queue, rings[0].ring, rings[0].nr_ents], ['vbd/51712', 0, 'blk', 32]);
  const stats = trace.events.filter((e) => e.ev === 'backend.stats');
  t.same(stats.map((e) => e.ev === 'backend.stats' && [e.dev, e.stats.rsp_prod]), [['vbd/51712', rings[rings.length - 1].rsp_prod]], 'backend counters at the end');
});

t.test('xenstore probe: before a migration it records the new domain from its first write', async (t) => {
  const host = new FakeHost();
  const trace = new TraceWriter();
  const p = new XenstoreProbe(host.xenstore, trace, 'i');
  await p.attach(g, '/local/domain/7');
  await p.watchNewDomains();
  host.xs.set('/local/domain/0/backend/vif/12/0/state', '2');
  host.xs.set('/local/domain/12/device/vif/0/state', '1');
  host.xs.set('/local/domain/12/memory/target', '1024');
  host.xs.set('/local/domain/0/other', 'x');
  await new Promise((r) => setImmediate(r));
  await p.attach({ name: 'win', domid: 12, handle: '12' }, '/local/domain/12');
  host.xs.set('/local/domain/12/device/vif/0/state', '4');
  await p.detach();
  const evs = trace.events.filter((e): e is XenstoreEvent => e.ev === 'xs');
  const paths = evs.filter((e) => e.path.endsWith('/state') || e.path.includes('memory') || e.path.endsWith('/other')).map((e) => [e.path, e.value, e.guest ?? '-', e.snapshot ?? false]);
  t.same(paths, [
    ['/local/domain/0/backend/vif/12/0/state', '2', '-', false],
    ['/local/domain/12/device/vif/0/state', '1', '-', false],
    ['/local/domain/12/device/vif/0/state', '4', 'win', false],
  ], 'live from the first write; nothing outside the watched subtrees; no duplicate from the attach snapshot');
});

t.test('xenstore probe: a snapshot read answered after a newer watch event does not put the old value back', async (t) => {
  // Over SSH the snapshot's read is a command and the events come on a stream: the answer (the value
  // when dom0 read it) can arrive after the event of a later write.
  const store = new Map([['/local/domain/7/device', ''], ['/local/domain/7/device/vbd', ''], ['/local/domain/7/device/vbd/51712', ''], ['/local/domain/7/device/vbd/51712/state', '3']]);
  const STATE = '/local/domain/7/device/vbd/51712/state';
  const watchers: [string, (p: string, v?: string | null) => void][] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let readOfState: (() => void) | undefined;
  const xs = {
    read: async (p: string) => {
      const then = store.get(p) ?? null; // what dom0 answers: the value when the command ran
      if (p === STATE) {
        readOfState?.();
        await held;
      }
      return then;
    },
    directory: async (p: string) => [...new Set([...store.keys()].filter((k) => k.startsWith(p + '/')).map((k) => k.slice(p.length + 1).split('/')[0]!))],
    watch: async (p: string, cb: (p: string, v?: string | null) => void) => {
      watchers.push([p, cb]);
      return async () => undefined;
    },
    write: async () => undefined,
    rm: async () => undefined,
  };
  const trace = new TraceWriter();
  const probe = new XenstoreProbe(xs, trace, 'i');
  const stateRead = new Promise<void>((r) => (readOfState = r));
  const attached = probe.attach(g, '/local/domain/7');
  await stateRead; // the snapshot's read of state is on its way
  store.set(STATE, '4');
  for (const [p, cb] of watchers) if (STATE.startsWith(p + '/')) cb(STATE, '4'); // the newer write's event
  release(); // now the old answer arrives
  await attached;
  await probe.detach();
  const states = trace.events.filter((e): e is XenstoreEvent => e.ev === 'xs' && e.path === STATE).map((e) => e.value);
  t.same(states, ['4'], 'Connected stays the last state recorded');
});
