// Parallel runs (runner/pool.ts, runner/guards.ts): several instances at once on one shared host,
// the trace still in plan order and judged like a one-host run; at most one migration at a time
// per pool; an instance waits for memory under the host's budget; guards refuse what can never fit.
import t from 'tap';
import { resolve } from 'node:path';
import type { HostBackend } from '../../src/model/host';
import type { RunStartEvent } from '../../src/model/trace';
import { TRACE_SCHEMA } from '../../src/model/trace';
import { loadSpecs } from '../../src/spec/load';
import { loadScenarios } from '../../src/scenario';
import { plan } from '../../src/plan/planner';
import { HostWorker, instanceSeed, runOnWorkers } from '../../src/runner/pool';
import { guardHost, MemoryBudget, Semaphore } from '../../src/runner/guards';
import { TraceWriter } from '../../src/trace/writer';
import { ReporterMultiplexer } from '../../src/report/multiplexer';
import { evaluate } from '../../src/checks/evaluate';
import { SimHost } from '../../src/hosts/sim';

const repo = resolve(__dirname, '..', '..', '..');
const specs = loadSpecs();

/** A simulated host that counts the guests alive at once and the migrations in flight. */
function countingHost(seen: { guests: number; maxGuests: number; migrating: number; maxMigrating: number; migrations: number }): HostBackend {
  const h = new SimHost({ specs });
  const create = h.createGuest.bind(h);
  const destroy = h.destroyGuest.bind(h);
  const alive = new Set<string>();
  h.createGuest = async (shape, inst) => {
    const ref = await create(shape, inst);
    alive.add(ref.handle);
    seen.guests = alive.size;
    seen.maxGuests = Math.max(seen.maxGuests, alive.size);
    return ref;
  };
  h.destroyGuest = async (ref) => {
    await destroy(ref);
    alive.delete(ref.handle);
  };
  const inner = h.migrate.migrate.bind(h.migrate);
  (h as { migrate: HostBackend['migrate'] }).migrate = {
    migrate: async (g, target) => {
      seen.migrating++;
      seen.migrations++;
      seen.maxMigrating = Math.max(seen.maxMigrating, seen.migrating);
      try {
        const moved = await inner(g, target);
        alive.delete(g.handle);
        alive.add(moved.handle);
        return moved;
      } finally {
        seen.migrating--;
      }
    },
  };
  return h;
}

async function sharedRun(files: string[], o: { slots: number; migrations?: number; memoryMiB?: number; repeat?: number }) {
  const seen = { guests: 0, maxGuests: 0, migrating: 0, maxMigrating: 0, migrations: 0 };
  const p = plan(loadScenarios(files, repo), { seed: 3 });
  const runStart = { ev: 'run.start', seq: 0, t: 0, schema: TRACE_SCHEMA, seed: 3, host: { kind: 'sim', label: 'sim', capabilities: [] }, specs: {}, instances: [] } as RunStartEvent;
  const guards = {
    ...(o.migrations ? { migrations: new Semaphore(o.migrations) } : {}),
    ...(o.memoryMiB ? { memory: new MemoryBudget(o.memoryMiB * 2 ** 20, 'the test host') } : {}),
  };
  const statuses = new Set<string>();
  const worker = new HostWorker({ label: 'sim', slots: o.slots, fresh: false, seed: 3, specs, runStart, make: () => countingHost(seen), guards });
  const trace = new TraceWriter();
  const out = await runOnWorkers({
    plan: p, specs, specHashes: {}, trace, reporter: new ReporterMultiplexer([]), workers: [worker], host: { kind: 'sim', label: 'sim', capabilities: [] },
    repeatEach: o.repeat ?? 1, onStatus: (l) => l.forEach((x) => statuses.add(x.doing)),
  });
  return { out, seen, trace, statuses };
}

t.test('several instances at once on one host: plan order in the trace, judged as winpv check judges it', async (t) => {
  const { out, seen, trace } = await sharedRun(['scenarios/vbd-connect.xml', 'scenarios/vif-connect.xml'], { slots: 4, repeat: 2 });
  t.equal(out.summary.counts.failed, 0, 'all pass');
  t.equal(out.summary.instances.length, 4);
  t.ok(seen.maxGuests > 1, `instances ran at once (up to ${seen.maxGuests} guests alive)`);
  const starts = trace.events.filter((e) => e.ev === 'scenario.start').map((e) => (e as { inst: string }).inst);
  t.same(starts, ['vbd-connect~rep1', 'vbd-connect~rep2', 'vif-connect~rep1', 'vif-connect~rep2'], 'sections in plan order');
  // each instance's events are one contiguous section, and time never runs backwards
  const order = trace.events.map((e) => (e as { inst?: string }).inst).filter((x): x is string => x !== undefined);
  const runs = order.filter((x, i) => i === 0 || order[i - 1] !== x);
  t.same(runs, starts, 'one contiguous section per instance');
  t.ok(trace.events.every((e, i) => i === 0 || e.t >= trace.events[i - 1]!.t), 'time never runs backwards');
  t.same(evaluate(trace.events, specs).map((r) => [r.inst, r.verdict]), out.summary.instances.map((r) => [r.inst, r.verdict]), 're-judged from the trace alone: the same verdicts');
});

t.test('instances rebooting at once on one host are each judged on their own domains', async (t) => {
  // every driver install reboots its guest into a new domain; while the runner learns its domid the
  // xenstore probe records every domain of the host, the other instances' too (found by the workers
  // bench: 60 of 64 instances failed devices-connected on a host of capacity 16)
  const { out, seen } = await sharedRun(['scenarios/vbd-connect.xml', 'scenarios/vif-connect.xml', 'scenarios/flush.xml', 'scenarios/multi-queue-vbd.xml'], { slots: 4, repeat: 2 });
  t.ok(seen.maxGuests > 2, `instances ran at once (up to ${seen.maxGuests} guests alive)`);
  t.same(out.summary.instances.filter((r) => r.verdict !== 'pass').map((r) => `${r.inst}: ${r.checks.filter((c) => c.verdict === 'fail').map((c) => c.message).join('; ')}`), [], 'every instance passes');
});

t.test('at most one migration at a time per pool; without the guard two overlap', async (t) => {
  const guarded = await sharedRun(['scenarios/migrate-under-io.xml'], { slots: 3, migrations: 1, repeat: 3 });
  t.ok(guarded.seen.migrations >= 3, `${guarded.seen.migrations} migrations ran`);
  t.equal(guarded.seen.maxMigrating, 1, 'never two at once');
  t.equal(guarded.out.summary.counts.failed, 0);
  const free = await sharedRun(['scenarios/migrate-under-io.xml'], { slots: 3, repeat: 3 });
  t.ok(free.seen.maxMigrating > 1, `without the guard ${free.seen.maxMigrating} migrations overlapped (the guard is what serialises them)`);
});

t.test('an instance waits for memory under the host budget', async (t) => {
  const guestMiB = loadScenarios(['scenarios/vbd-connect.xml'], repo)[0]!.guests.reduce((n, g) => n + g.memoryMiB, 0);
  const tight = await sharedRun(['scenarios/vbd-connect.xml'], { slots: 3, memoryMiB: guestMiB + guestMiB / 2, repeat: 3 });
  t.equal(tight.seen.maxGuests, 1, 'a budget for one instance: one at a time');
  t.ok([...tight.statuses].some((s) => /waiting for \d+ MiB of memory/.test(s)), 'the live line says it waits for memory');
  t.equal(tight.out.summary.counts.failed, 0, 'and every instance ran once memory was free');
  const roomy = await sharedRun(['scenarios/vbd-connect.xml'], { slots: 3, memoryMiB: guestMiB * 3, repeat: 3 });
  t.ok(roomy.seen.maxGuests > 1, 'a budget for three: they run at once');
  const tooSmall = await sharedRun(['scenarios/vbd-connect.xml'], { slots: 1, memoryMiB: guestMiB / 2 });
  t.equal(tooSmall.out.summary.counts.failed, 1, 'guests larger than the whole budget: the instance fails');
  t.match(tooSmall.out.summary.instances[0]!.aborted?.message ?? '', /need \d+ MiB but the memory budget of the test host is \d+ MiB/);
});

t.test('guards: a semaphore hands out in order and an interrupted wait leaves', async (t) => {
  const s = new Semaphore(2);
  const r1 = await s.acquire(2);
  const stop = new AbortController();
  const waiting = s.acquire(1, stop.signal);
  stop.abort();
  await t.rejects(waiting, /stopped while waiting/);
  const later = s.acquire(1);
  let got = false;
  void later.then(() => (got = true));
  await new Promise((r) => setImmediate(r));
  t.notOk(got, 'waits while the units are taken');
  r1();
  (await later)();
  t.equal(s.inUse, 0);
  await t.rejects(s.acquire(3), /can never fit/);
  const host = { migrate: { migrate: async () => ({ name: 'g', domid: 2, handle: 'g' }) } } as unknown as HostBackend;
  t.equal(guardHost(host, {}), host, 'no guard: the host itself');
});

t.test('instance seeds depend on the run seed and the instance id only', async (t) => {
  t.equal(instanceSeed(7, 'a'), instanceSeed(7, 'a'));
  t.not(instanceSeed(7, 'a'), instanceSeed(8, 'a'));
  t.not(instanceSeed(7, 'a'), instanceSeed(7, 'b'));
});
