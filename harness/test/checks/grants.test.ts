// The grants check (harness/src/checks/grants.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, TraceBuilder } from '../support/check-judge';

t.test('grants', async (t) => {
  const audit = (active: number[], mapped: number[], revoked: number[]) =>
    new TraceBuilder().push({ ev: 'grants', inst: 'i', guest: 'win', domid: 1, dev: 'vbd/51712', when: 'device-closed', active, mapped, revokedWhileMapped: revoked }).end();
  t.equal(judge(audit([], [], []), 'grants').verdict, 'pass');
  t.match(judge(audit([8, 9], [], []), 'grants').message, /2 grants still granted: 8, 9/);
  t.match(judge(audit([], [], [8]), 'grants').message, /ended while the backend still had them mapped/);
  t.equal(judge(new TraceBuilder().end(), 'grants').verdict, 'skip');
});
