// The devices-connected check (harness/src/checks/devices-connected.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, TraceBuilder } from '../support/check-judge';

t.test('devices-connected', async (t) => {
  t.equal(judge(new TraceBuilder().connectVbd().end(), 'devices-connected').verdict, 'pass');
  const never = new TraceBuilder().back('state', '2').front('state', '1').at(5000).end();
  t.match(judge(never, 'devices-connected').message, /never reached Connected/);
  const slow = new TraceBuilder().back('state', '2').front('state', '1').at(45000).front('ring-ref', '8').front('state', '3').back('state', '4').front('state', '4').end();
  t.match(judge(slow, 'devices-connected').message, /Connected after 45000 ms, limit 30000 ms/);
});
