// The ring-invariants check (harness/src/checks/ring-invariants.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, TraceBuilder } from '../support/check-judge';

t.test('ring-invariants', async (t) => {
  t.equal(judge(new TraceBuilder().ring({ req_prod: 10, rsp_prod: 4 }).ring({ req_prod: 5, rsp_prod: 0xfffffffe }).end(), 'ring-invariants').verdict, 'pass', 'indices wrap around 2^32');
  t.match(judge(new TraceBuilder().ring({ req_prod: 40, rsp_prod: 4 }).end(), 'ring-invariants').message, /36 requests outstanding on a ring of 32/);
  t.match(judge(new TraceBuilder().ring({ req_prod: 4, rsp_prod: 6 }).end(), 'ring-invariants').message, /rsp_prod 6 is ahead of req_prod 4/);
});

t.test('the backend\'s req_cons lies between rsp_prod and req_prod', async (t) => {
  t.equal(judge(new TraceBuilder().ring({ req_prod: 20, req_cons: 12, rsp_prod: 10 }).end(), 'ring-invariants').verdict, 'pass');
  t.match(judge(new TraceBuilder().ring({ req_prod: 20, req_cons: 9, rsp_prod: 10 }).end(), 'ring-invariants').message, /req_cons 9 outside \[rsp_prod 10, req_prod 20\]/, 'a response to a request not consumed');
  t.match(judge(new TraceBuilder().ring({ req_prod: 20, req_cons: 21, rsp_prod: 10 }).end(), 'ring-invariants').message, /req_cons 21 outside/, 'a request consumed before it was produced');
});

t.test('the frontend\'s rsp_cons: never ahead of rsp_prod, never a ring behind', async (t) => {
  t.equal(judge(new TraceBuilder().ring({ req_prod: 20, rsp_prod: 10, rsp_cons: 8 }).end(), 'ring-invariants').verdict, 'pass');
  t.match(judge(new TraceBuilder().ring({ req_prod: 20, rsp_prod: 10, rsp_cons: 11 }).end(), 'ring-invariants').message, /rsp_cons 11 is ahead of rsp_prod 10/);
  t.match(judge(new TraceBuilder().ring({ req_prod: 60, rsp_prod: 50, rsp_cons: 10 }).end(), 'ring-invariants').message, /40 responses unconsumed on a ring of 32/);
});

// netback prints its debugfs file field by field while it runs (hosts/xl/parse.ts): the lab's CI leg
// of 2026-12-07 read an RX ring's req_cons 609 and, a line later, rsp_prod 611. Read twice, the
// sample says which moments it spans; only a violation no moment between the reads allows fails.
t.test('a sample read twice: judged over the moments between its reads', async (t) => {
  const torn = { nr_ents: 256, req_prod: 865, req_cons: 609, rsp_prod: 611 };
  t.match(judge(new TraceBuilder().ring(torn).end(), 'ring-invariants').message, /req_cons 609 outside \[rsp_prod 611, req_prod 865\]/, 'read once, the torn sample looks like a fault');
  t.equal(judge(new TraceBuilder().ring({ ...torn, reread: { req_prod: 866, req_cons: 613, rsp_prod: 613 } }).end(), 'ring-invariants').verdict, 'pass', 'read twice, a moment with rsp_prod <= req_cons lies between the reads');
  const fault = judge(new TraceBuilder().ring({ ...torn, req_cons: 600, reread: { req_prod: 866, req_cons: 605, rsp_prod: 613 } }).end(), 'ring-invariants');
  t.match(fault.message, /req_cons 600\.\.605 outside \[rsp_prod 611\.\.613, req_prod 865\.\.866\]/, 'responses past every req_cons the reads allow: not ok');
  t.match(judge(new TraceBuilder().ring({ nr_ents: 32, req_prod: 40, rsp_prod: 4, reread: { req_prod: 41, rsp_prod: 6 } }).end(), 'ring-invariants').message, /34 requests outstanding on a ring of 32/, 'too many outstanding at every moment between the reads');
  t.match(judge(new TraceBuilder().ring({ nr_ents: 32, req_prod: 10, rsp_prod: 12, reread: { req_prod: 11, rsp_prod: 12 } }).end(), 'ring-invariants').message, /rsp_prod 12 is ahead of req_prod 10\.\.11/);
  t.match(judge(new TraceBuilder().ring({ nr_ents: 32, req_prod: 10, rsp_prod: 8, reread: { req_prod: 9, rsp_prod: 8 } }).end(), 'ring-invariants').message, /req_prod went back from 10 to 9 between two reads/, 'an index that goes back between the reads');
});
