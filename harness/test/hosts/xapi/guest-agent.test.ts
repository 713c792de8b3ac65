// guest-agent on a pool: the catalogue's guest-agent-after-migration scenario on the XenAPI test pool.
// The guest agents (xenagent, the XenServer guest agent; they reach xenstore through xeniface, which
// the host installs with every driver set) write the keys xapi reads into VM_guest_metrics, and again
// in each new domain after a live migration; guest-metrics judges that. Planted: agents not told of
// the migration (not ok, naming the keys), and a template without the agent (the migration refused:
// there would be nothing to judge).
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { startPool } from '../../support/xapi-pool';
import { runPlanned } from '../../support/run-plan';
import { loadScenarios } from '../../../src/scenario/load';

const repo = join(__dirname, '..', '..', '..', '..');
const scenarios = () => loadScenarios([join(repo, 'scenarios', 'guest-agent-after-migration.xml')], repo);

async function run(t: Test, o: { guestAgent?: boolean; silentAfterMigrate?: boolean }) {
  const pool = await startPool({ guests: 1, dom0: true, ...(o.guestAgent === false ? { guestAgent: false } : {}) });
  t.teardown(() => pool.close());
  if (o.silentAfterMigrate) pool.dom0!.faults.agentSilentAfterMigrate = true;
  const { trace, tap } = await runPlanned({ host: pool.host(), plan: scenarios(), seed: 4, tap: true });
  t.comment(tap);
  return { tap, events: trace.events };
}

t.test('three migrations on the pool: the agents report again in each new domain, guest-metrics ok', async (t) => {
  const { tap, events } = await run(t, {});
  t.match(tap, /^ok 1 - guest-agent-after-migration/m);
  t.match(tap, /^ {4}ok \d+ - guest-metrics: every reported key back after 3 of 3 moves/m);
  t.equal(events.filter((e) => e.ev === 'guest' && e.what === 'migrated').length, 3);
  t.ok(events.some((e) => e.ev === 'xs' && /\/data\/os_distro$/.test(e.path) && e.value === 'windows'), 'the agent\'s keys are in the trace');
});

t.test('agents not told of the migration: guest-metrics not ok, naming the keys that stayed missing', async (t) => {
  const { tap } = await run(t, { silentAfterMigrate: true });
  t.match(tap, /^not ok 1 - guest-agent-after-migration/m);
  t.match(tap, /not ok \d+ - guest-metrics: win: 16 of the 17 keys it reported before were not reported again .* after it was migrated: .*attr\/PVAddons\/MajorVersion.*control\/feature-poweroff/);
});

t.test('a template without the guest agent: the migration is refused, the agent named', async (t) => {
  const { tap } = await run(t, { guestAgent: false });
  t.match(tap, /^not ok 1 - guest-agent-after-migration/m);
  t.match(tap, /GUEST_AGENT_SILENT|the agent is not reporting/);
});
