import t from 'tap';
import { renderPassRates, repeatPlan } from '../../src/runner/repeat';
import { passRates, repeatedInstance, repeatId } from '../../src/model/outcomes';
import { runPlanned } from '../support/run-plan';
import { evaluate } from '../../src/checks/evaluate';
import type { InstanceResult } from '../../src/model/result';
import { FakeHost } from '../fixtures/fake-host';
import { fixtureSpecs } from '../fixtures/specs';
import { block, install, planOf, scenario, waitConnected } from '../fixtures/scenarios';

const specs = fixtureSpecs();

const result = (inst: string, verdict: InstanceResult['verdict'], extra: Partial<InstanceResult> = {}): InstanceResult =>
  ({ inst, scenario: inst.split('~')[0], file: 'f.xml', params: {}, tags: [], verdict, checks: [], durationMs: 1, ...extra });

t.test('repeatPlan: n consecutive repetitions of each instance, ids marked ~rep<k>', async (t) => {
  const p = planOf(scenario('a', []), scenario('b', []));
  t.equal(repeatPlan(p, 1), p, 'once: the plan itself');
  t.same(repeatPlan(p, 3).instances.map((i) => i.id), ['a~rep1', 'a~rep2', 'a~rep3', 'b~rep1', 'b~rep2', 'b~rep3']);
  t.equal(repeatPlan(p, 2).seed, p.seed);
  for (const bad of [0, -1, 1.5, 1001, NaN]) t.throws(() => repeatPlan(p, bad), RangeError, `refuses ${bad}`);
  t.equal(repeatedInstance(repeatId('x[q=1]', 12)), 'x[q=1]');
  t.equal(repeatedInstance('x~repair'), 'x~repair', 'a name that merely contains the mark is its own');
});

t.test('passRates: per instance runs, passes, failures (known ones included), skips', async (t) => {
  const rates = passRates([
    result('a~rep1', 'pass'), result('a~rep2', 'fail'), result('a~rep3', 'pass'), result('a~rep4', 'fail', { known: { issue: 'I-1', check: 'workload' } }),
    result('b~rep1', 'skip'), result('b~rep2', 'skip'),
    result('c~rep1', 'pass'), result('c~rep2', 'skip'),
  ]);
  t.same(rates, [
    { inst: 'a', runs: 4, passed: 2, failed: 2, skipped: 0, failures: ['a~rep2', 'a~rep4'], rate: 0.5 },
    { inst: 'b', runs: 2, passed: 0, failed: 0, skipped: 2, failures: [] },
    { inst: 'c', runs: 2, passed: 1, failed: 0, skipped: 1, failures: [], rate: 1 },
  ]);
  t.same(renderPassRates(rates), [
    'a: 2/4 passed (50%); failed: a~rep2, a~rep4',
    'b: skipped in all 2 runs',
    'c: 1/1 passed (100%), 1 skipped',
  ]);
});

t.test('runPlan --repeat-each: every repetition runs and is judged on its own; the summary has the pass rates', async (t) => {
  const host = new FakeHost();
  // the second repetition meets a backend that fails I/O: only it fails
  const reporter = { onInstanceStart: (id: string) => void (host.switches.workloadErrors = id.endsWith('~rep2') ? 3 : 0) };
  const { outcome: out, trace } = await runPlanned({ host, plan: planOf(scenario('soak', [install(), waitConnected(), block(300)])), specs, reporters: [reporter], repeatEach: 3 });
  t.same(out.summary.instances.map((r) => [r.inst, r.verdict]), [['soak~rep1', 'pass'], ['soak~rep2', 'fail'], ['soak~rep3', 'pass']]);
  t.same(out.summary.passRates, [{ inst: 'soak', runs: 3, passed: 2, failed: 1, skipped: 0, failures: ['soak~rep2'], rate: 2 / 3 }]);
  t.same(out.summary.counts.instances, 3);
  t.same(evaluate(trace.events, specs), out.summary.instances, 'the trace re-checks to the same verdicts');
  t.equal(host.calls.filter((c) => c.startsWith('create')).length, 3, 'a guest per repetition');

  const { outcome: once } = await runPlanned({ host: new FakeHost(), plan: planOf(scenario('one', [install(), waitConnected()])), specs });
  t.equal(once.summary.passRates, undefined, 'no repetition: no pass rates');
  t.same(once.summary.instances.map((r) => r.inst), ['one']);
});
