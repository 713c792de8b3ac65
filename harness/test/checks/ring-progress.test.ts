// The ring-progress check (harness/src/checks/ring-progress.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, TraceBuilder } from '../support/check-judge';

t.test('ring-progress', async (t) => {
  const b = new TraceBuilder();
  for (let i = 0; i < 20; i++) b.at(i * 200).ring({ req_prod: i * 4, rsp_prod: i * 4, req_cons: i * 4 });
  t.match(judge(b.end(), 'ring-progress').message, /0 STUCK/);
  const s = new TraceBuilder();
  for (let i = 0; i < 20; i++) s.at(i * 200).ring({ req_prod: Math.min(i, 5) * 4, rsp_prod: Math.min(i, 4) * 4, req_cons: Math.min(i, 4) * 4 });
  const r = judge(s.end(), 'ring-progress');
  t.equal(r.verdict, 'fail');
  t.match(r.message, /STUCK: 4 requests pending for the backend/);
  const rx = new TraceBuilder();
  for (let i = 0; i < 20; i++) rx.at(i * 200).ring({ ring: 'rx', req_prod: 256, rsp_prod: 0, req_cons: 0, rsp_cons: 0, nr_ents: 256 });
  t.equal(judge(rx.end(), 'ring-progress').verdict, 'pass', 'posted rx buffers are not stuck work');
  const lost = new TraceBuilder();
  for (let i = 0; i < 20; i++) lost.at(i * 200).ring({ req_prod: 8, rsp_prod: 8, req_cons: 8, rsp_cons: 4 });
  t.match(judge(lost.end(), 'ring-progress').message, /4 responses pending for the frontend/);
  const susp = new TraceBuilder().guest('suspended');
  for (let i = 0; i < 20; i++) susp.at(i * 200).ring({ req_prod: 8, rsp_prod: 4 });
  t.equal(judge(susp.guest('resumed').end(), 'ring-progress').verdict, 'pass', 'a suspended guest is not judged');
});
