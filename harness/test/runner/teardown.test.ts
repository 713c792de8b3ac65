// Teardown with deadlines: reverse order, every task runs even after one failed or hung, a stuck
// host call fails the instance in the report and the run still ends; a fault with a duration whose
// scenario is cut short goes off in that scenario's teardown, not in the next scenario.
import t from 'tap';
import { TeardownStack } from '../../src/runner/teardown';
import { TraceWriter } from '../../src/trace/writer';
import { runPlanned } from '../support/run-plan';
import type { FaultConfig, Step } from '../../src/model/scenario';
import type { GuestRef } from '../../src/model/host';
import type { GuestShape } from '../../src/model/scenario';
import { FakeClock, FakeHost } from '../fixtures/fake-host';
import { fixtureSpecs } from '../fixtures/specs';
import { block, install, planOf, scenario, sleep, waitConnected } from '../fixtures/scenarios';
import { PassThrough } from 'node:stream';

const specs = fixtureSpecs();

t.test('teardown tasks run last-first, each with a deadline, even after one threw or hung', async (t) => {
  const clock = new FakeClock();
  const stack = new TeardownStack({ clock, ms: 10_000 });
  const ran: string[] = [];
  stack.defer('first', () => void ran.push('first'));
  stack.defer('hangs', () => {
    ran.push('hangs');
    return new Promise<void>(() => undefined);
  });
  stack.defer('throws', () => {
    ran.push('throws');
    throw new Error('boom');
  });
  stack.defer('last', () => void ran.push('last'));
  const failures = await stack.unwind();
  t.same(ran, ['last', 'throws', 'hangs', 'first']);
  t.same(failures.map((f) => f.label), ['throws', 'hangs']);
  t.match(failures[1]!.error.message, /teardown 'hangs' did not finish within 10000 ms/);
  t.equal(failures[1]!.error.code, 'TIMEOUT');
  t.ok(clock.now() >= 10_000 && clock.now() < 12_000, 'gave up at the deadline (host time)');
  t.equal(stack.size, 0);
});

const run = async (host: FakeHost, steps: Step[][], timeoutMs?: number) => {
  const plan = planOf(...steps.map((s, i) => scenario(`s${i + 1}`, s, timeoutMs ? { timeoutMs } : {})));
  const { outcome, trace } = await runPlanned({ host, plan, specs, teardownMs: 20_000 });
  return { trace, outcome, results: outcome.summary.instances };
};

t.test('a guest destroy that never returns fails the instance (TEARDOWN_FAILED) and the run still ends', async (t) => {
  const host = new FakeHost();
  const destroy = host.destroyGuest.bind(host);
  let hung = 0;
  host.destroyGuest = async (g: GuestRef) => {
    if (hung++ === 0) return new Promise<void>(() => undefined); // the first scenario's destroy is stuck
    return destroy(g);
  };
  const { trace, outcome, results } = await run(host, [[install(), waitConnected(), sleep(100)], [install(), sleep(100)]]);
  t.equal(results.length, 2, 'the second scenario ran');
  t.equal(results[0]!.verdict, 'fail');
  t.equal(results[0]!.aborted?.code, 'TEARDOWN_FAILED');
  t.match(results[0]!.aborted?.message, /destroy guest win: teardown 'destroy guest win' did not finish within 20000 ms/);
  t.equal(results[1]!.aborted, undefined);
  t.ok(trace.events.some((e) => e.ev === 'teardown.fail' && e.inst === 's1' && e.label === 'destroy guest win'), 'recorded in the trace');
  t.ok(trace.events.some((e) => e.ev === 'run.end'), 'the run ended');
  t.equal(outcome.summary.complete, true);
});

t.test('closing a host that hangs is given up on at the deadline', async (t) => {
  const host = new FakeHost();
  host.close = () => new Promise<void>(() => undefined);
  const { trace } = await run(host, [[install(), sleep(100)]]);
  t.ok(trace.events.some((e) => e.ev === 'log' && e.level === 'error' && /closing the host did not finish/.test(e.msg)));
});

t.test('a step fault with a duration cut short by the scenario deadline goes off in its own teardown', async (t) => {
  const { host, atCreate } = trackingHost();
  const fault: Step = { kind: 'fault', source: { file: 'x' }, fault: { name: 'slow-backend', guest: 'win', durationMs: 600_000, params: {} } };
  const { results, trace } = await run(host, [[install(), fault], [install(), sleep(100)]], 5000);
  t.equal(results[0]!.aborted?.code, 'TIMEOUT', 'the first scenario was cut short during the fault');
  t.same(atCreate, [[], []], 'no fault on when the second scenario creates its guest');
  const offs = trace.events.filter((e) => e.ev === 'fault' && !e.on);
  t.equal(offs.length, 1, 'switched off exactly once');
  const s2 = trace.events.findIndex((e) => e.ev === 'scenario.start' && e.inst === 's2');
  t.ok(trace.events.indexOf(offs[0]!) < s2, 'off before the next scenario starts');
});

/** A host whose faults are tracked: which are on, and the order in which teardown undid things. */
function trackingHost(o: { offThrows?: string; offHangs?: string } = {}) {
  const host = new FakeHost();
  const active = new Set<string>();
  const undone: string[] = [];
  const inject = host.faults.inject;
  host.faults.inject = async (f: FaultConfig, g?: GuestRef) => {
    const off = await inject(f, g);
    active.add(f.name);
    return async () => {
      undone.push(`fault ${f.name} off`);
      if (f.name === o.offThrows) throw new Error(`${f.name} would not go off`);
      if (f.name === o.offHangs) return new Promise<void>(() => undefined);
      active.delete(f.name);
      await off();
    };
  };
  const atCreate: string[][] = [];
  const create = host.createGuest.bind(host);
  host.createGuest = async (shape: GuestShape, inst: string) => {
    atCreate.push([...active]);
    return create(shape, inst);
  };
  const destroy = host.destroyGuest.bind(host);
  host.destroyGuest = async (g: GuestRef) => {
    undone.push(`destroy ${g.name}`);
    return destroy(g);
  };
  return { host, active, undone, atCreate };
}

t.test('a scenario-wide fault with a duration is undone at the end of its scenario when the scenario fails', async (t) => {
  const { host, atCreate, active } = trackingHost();
  // the fault would last 10 minutes; the scenario fails at once (a wait that can never come true)
  const never: Step = { kind: 'wait', source: { file: 'x' }, guest: 'win', path: 'device/vbd/51712/state', equals: '7', timeoutMs: 2000 };
  const failing = scenario('s1', [install(), never], { faults: [{ name: 'slow-backend', guest: 'win', durationMs: 600_000, params: {} }] });
  const trace = new TraceWriter();
  const { outcome } = await runPlanned({ host, plan: planOf(failing, scenario('s2', [install(), sleep(100)])), specs, trace, teardownMs: 20_000 });
  const [r1, r2] = outcome.summary.instances;
  t.equal(r1!.aborted?.code, 'TIMEOUT', 'the first scenario failed while the fault was on');
  t.same(atCreate, [[], []], 'the fault is off when the next scenario creates its guest');
  t.same(active.size, 0, 'and nothing is left on at the end');
  const offs = trace.events.filter((e) => e.ev === 'fault' && !e.on);
  t.equal(offs.length, 1, 'switched off once (its own timer, firing later, finds it off)');
  t.ok(trace.events.indexOf(offs[0]!) < trace.events.findIndex((e) => e.ev === 'scenario.start' && e.inst === 's2'), 'off inside its own scenario\'s section');
  t.equal(r2!.aborted, undefined, 'the next scenario is clean');
});

t.test('a teardown task that throws and one that hangs: the rest still run, in reverse order, and each is reported', async (t) => {
  const { host, undone } = trackingHost({ offThrows: 'backend-stall', offHangs: 'slow-backend' });
  const faulty = scenario('s1', [install(), sleep(100)], {
    faults: [
      { name: 'backend-stall', guest: 'win', params: {} },
      { name: 'slow-backend', guest: 'win', params: {} },
    ],
  });
  const trace = new TraceWriter();
  const out = new PassThrough();
  let tap = '';
  out.on('data', (b) => (tap += b));
  const { outcome } = await runPlanned({ host, plan: planOf(faulty, scenario('s2', [install(), sleep(100)])), specs, trace, tap: out, teardownMs: 20_000 });
  // switched on in order: backend-stall, slow-backend; undone last-first, then the guest
  t.same(undone.slice(0, 3), ['fault slow-backend off', 'fault backend-stall off', 'destroy win'], 'reverse order, past the hang and the throw');
  const fails = trace.events.filter((e) => e.ev === 'teardown.fail' && e.inst === 's1').map((e) => (e as { label: string; error: { message: string } }));
  t.same(fails.map((f) => f.label), ['fault slow-backend off', 'fault backend-stall off']);
  t.match(fails[0]!.error.message, /did not finish within 20000 ms/, 'the hang is given up on at its deadline');
  t.match(fails[1]!.error.message, /would not go off/);
  const [r1, r2] = outcome.summary.instances;
  t.equal(r1!.aborted?.code, 'TEARDOWN_FAILED', 'an otherwise clean instance fails');
  t.match(tap, /not ok \d+ - steps: teardown failed: fault slow-backend off: teardown 'fault slow-backend off' did not finish[\s\S]*code: "TEARDOWN_FAILED"[\s\S]*not ok 1 - s1/, 'the report says which host call was stuck');
  t.equal(r2!.verdict, 'pass', 'and the run went on');
  t.equal(outcome.summary.complete, true, 'and ended');
});

t.test('--keep-on-failure: releasing kept guests whose destroy hangs still ends (and closes the host)', async (t) => {
  const host = new FakeHost({ workloadErrors: 3 });
  host.destroyGuest = () => new Promise<void>(() => undefined);
  const trace = new TraceWriter();
  const { outcome } = await runPlanned({ host, plan: planOf(scenario('bad', [install(), waitConnected(), block(300)])), specs, trace, keepOnFailure: true, teardownMs: 20_000 });
  t.ok(outcome.kept, 'the failing instance\'s guest is kept');
  await outcome.kept!.release();
  t.equal(host.calls.at(-1), 'close', 'the destroy was given up on at its deadline and the host closed');
});
