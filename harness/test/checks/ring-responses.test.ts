// The ring-responses check (harness/src/checks/ring-responses.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, TraceBuilder } from '../support/check-judge';

t.test('ring-responses', async (t) => {
  t.equal(judge(new TraceBuilder().io('req', 1).io('req', 2).io('rsp', 2).io('rsp', 1).end(), 'ring-responses').verdict, 'pass');
  t.match(judge(new TraceBuilder().io('req', 1).io('rsp', 1).io('rsp', 1).end(), 'ring-responses').message, /duplicate response for id 1/);
  t.match(judge(new TraceBuilder().io('req', 1).io('rsp', 7).io('rsp', 1).end(), 'ring-responses').message, /id 7 that was never requested/);
  t.match(judge(new TraceBuilder().io('req', 1).io('req', 2).io('rsp', 1).end(), 'ring-responses').message, /1 request never answered \(still in flight/);
  t.match(judge(new TraceBuilder().io('req', 3).guest('suspended').guest('resumed').end(), 'ring-responses').message, /lost when the guest was suspended/);
  t.equal(judge(new TraceBuilder().io('req', 3, 'rx').end(), 'ring-responses').verdict, 'pass', 'unused rx buffers are fine');
  t.equal(judge(new TraceBuilder().end(), 'ring-responses').verdict, 'skip');
  const noIds = new TraceBuilder('i', []).io('req', 1).end();
  t.match(judge(noIds, 'ring-responses'), { verdict: 'skip', message: /no 'ring-ids' capability/ });
});
