// The xenbus-transitions check (harness/src/checks/xenbus-transitions.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, TraceBuilder } from '../support/check-judge';

t.test('xenbus-transitions', async (t) => {
  t.equal(judge(new TraceBuilder().connectVbd().end(), 'xenbus-transitions').verdict, 'pass');
  const skip = new TraceBuilder().back('state', '2').front('state', '1').front('state', '4').end();
  const r = judge(skip, 'xenbus-transitions');
  t.equal(r.verdict, 'fail');
  t.match(r.message, /Initialising -> Connected is not allowed/);
  t.equal(r.diagnostics?.path, '/local/domain/1/device/vbd/51712/state');
  const early = new TraceBuilder().back('state', '1').front('state', '1').front('state', '3').back('state', '2').end();
  t.match(judge(early, 'xenbus-transitions').message, /while the backend was Initialising/);
  t.match(judge(new TraceBuilder().front('state', 'banana').end(), 'xenbus-transitions').message, /not a XenbusState/);
});
