import t from 'tap';
import { runPlanned } from '../support/run-plan';
import { evaluate } from '../../src/checks/evaluate';
import { FakeHost } from '../fixtures/fake-host';
import { fixtureSpecs } from '../fixtures/specs';
import { block, install, planOf, scenario, waitConnected } from '../fixtures/scenarios';

const specs = fixtureSpecs();
const steps = () => [install(), waitConnected(), block(300)];

t.test('--keep-on-failure keeps the first failing instance\'s guest, runs the rest, releases on demand', async (t) => {
  const host = new FakeHost();
  // instances 'bad' and 'worse' fail (I/O errors), 'good' passes
  const reporter = { onInstanceStart: (id: string) => void (host.switches.workloadErrors = id === 'good' ? 0 : 3) };
  const plan = planOf(scenario('bad', steps()), scenario('good', steps()), scenario('worse', steps()));
  const { outcome: out, trace } = await runPlanned({ host, plan, specs, reporters: [reporter], keepOnFailure: true });
  t.same(out.summary.instances.map((r) => [r.inst, r.verdict]), [['bad', 'fail'], ['good', 'pass'], ['worse', 'fail']], 'later instances go on');
  t.ok(out.kept, 'a guest is kept');
  t.equal(out.kept!.inst, 'bad', 'the first failing instance');
  t.same(out.kept!.guests.map((g) => g.name), ['win']);
  t.match(out.kept!.guests[0].home, /^\/local\/domain\/\d+$/);
  t.match(out.kept!.why.join('\n'), /^workload: /m, 'says why it failed');
  t.same(host.calls, ['create win', 'create win', 'destroy win', 'create win', 'destroy win'], 'only the kept guest is not destroyed; the host stays open');
  t.ok(trace.events.some((e) => e.ev === 'log' && /--keep-on-failure: keeping win/.test(e.msg)), 'the trace says so');
  t.same(evaluate(trace.events, specs), out.summary.instances, 'the trace re-checks to the same verdicts');
  await out.kept!.release();
  await out.kept!.release();
  t.same(host.calls.slice(5), ['destroy win', 'close'], 'release destroys the kept guest once and closes the host');
});

t.test('without a failure (or without the option) nothing is kept and the host is closed', async (t) => {
  const host = new FakeHost();
  const { outcome: out } = await runPlanned({ host, plan: planOf(scenario('good', steps())), specs, keepOnFailure: true });
  t.equal(out.kept, undefined);
  t.same(host.calls, ['create win', 'destroy win', 'close']);
  const h2 = new FakeHost({ workloadErrors: 3 });
  const { outcome: out2 } = await runPlanned({ host: h2, plan: planOf(scenario('bad', steps())), specs });
  t.equal(out2.kept, undefined);
  t.same(h2.calls, ['create win', 'destroy win', 'close']);
});
