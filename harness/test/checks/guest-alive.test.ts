// The guest-alive check (harness/src/checks/guest-alive.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, specs, TraceBuilder } from '../support/check-judge';
import { evaluate } from '../../src/checks/evaluate';

t.test('guest-alive', async (t) => {
  t.equal(judge(new TraceBuilder().end(), 'guest-alive').verdict, 'pass');
  t.match(judge(new TraceBuilder().guest('crashed').end(), 'guest-alive').message, /crashed/);
  t.match(judge(new TraceBuilder().guest('rebooted').end(), 'guest-alive').message, /rebooted with no reboot step/);
  t.equal(judge(new TraceBuilder().step('reboot', '1', 'start').guest('rebooted').step('reboot', '1', 'end').end(), 'guest-alive').verdict, 'pass');
});

t.test('a crash is judged by guest-alive alone', async (t) => {
  const b = new TraceBuilder().connectVbd().io('req', 1).guest('crashed');
  for (let i = 0; i < 20; i++) b.at(i * 200).ring({ req_prod: 4, rsp_prod: 0 });
  const r = evaluate(b.end(), specs)[0];
  t.same(r.checks.filter((c) => c.verdict === 'fail').map((c) => c.check), ['guest-alive']);
});
