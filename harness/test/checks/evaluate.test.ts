// The judgement around the checks (harness/src/checks/evaluate.ts): an aborted or truncated instance
// fails, checks a scenario did not select are reported as skipped.
import t from 'tap';
import { specs, TraceBuilder } from '../support/check-judge';
import { DEFAULT_CHECKS, evaluate } from '../../src/checks/evaluate';

t.test('an aborted or truncated instance fails', async (t) => {
  const b = new TraceBuilder();
  const ev = b.events;
  const r = evaluate(ev, specs)[0];
  t.equal(r.verdict, 'fail');
  t.equal(r.aborted?.code, 'TRUNCATED');
});

t.test('checks a scenario did not select are reported as skipped, in CHECKS order', async (t) => {
  const b = new TraceBuilder();
  const start = b.events[1];
  if (start.ev === 'scenario.start') start.checks = [{ name: 'guest-alive', params: {} }];
  const r = evaluate(b.end(), specs)[0];
  t.equal(r.checks.length, DEFAULT_CHECKS.length, 'every check but the opt-in ones has a point');
  t.same(r.checks.filter((c) => c.verdict !== 'skip').map((c) => c.check), ['guest-alive']);
  t.match(r.checks[0], { check: 'xenbus-transitions', verdict: 'skip', message: /not selected/ });
});
