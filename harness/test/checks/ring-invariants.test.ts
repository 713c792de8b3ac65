// The ring-invariants check (harness/src/checks/ring-invariants.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, TraceBuilder } from '../support/check-judge';

t.test('ring-invariants', async (t) => {
  t.equal(judge(new TraceBuilder().ring({ req_prod: 10, rsp_prod: 4 }).ring({ req_prod: 5, rsp_prod: 0xfffffffe }).end(), 'ring-invariants').verdict, 'pass', 'indices wrap around 2^32');
  t.match(judge(new TraceBuilder().ring({ req_prod: 40, rsp_prod: 4 }).end(), 'ring-invariants').message, /36 requests outstanding on a ring of 32/);
  t.match(judge(new TraceBuilder().ring({ req_prod: 4, rsp_prod: 6 }).end(), 'ring-invariants').message, /rsp_prod 6 is ahead of req_prod 4/);
});
