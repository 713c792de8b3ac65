// A `migrate` step on an xl host, run by the runner against the dom0 double (fake-dom0.ts: `xl migrate`
// as tools/xl/xl_migrate.c does it, the guest's Linux frontends connecting once a domain runs): the
// guest lands in a new domain, the probes follow its new domid, and a migrated guest whose frontends
// do not reconnect is `not ok`.
import t from 'tap';
import { XlHost } from '../../../src/hosts/xl/xl-host';
import type { Scenario, Step } from '../../../src/model/scenario';
import type { XenstoreEvent } from '../../../src/model/trace';
import { runPlanned } from '../../support/run-plan';
import { scenario } from '../../fixtures/scenarios';
import { FakeDom0 } from './fake-dom0';

const src = { file: 'scenarios/test.xml', line: 1 };
const wait = (dev: string, timeoutMs: number): Step => ({ kind: 'wait', source: src, guest: 'ref', path: `device/${dev}/state`, equals: '4', timeoutMs });

function migrateScenario(waitAfterMs: number): Scenario {
  return scenario('xl-migrate', [
    wait('vbd/51712', 5000), wait('vif/0', 5000),
    { kind: 'migrate', source: src, guest: 'ref' },
    wait('vbd/51712', waitAfterMs), wait('vif/0', waitAfterMs),
    // netback answers netfront's Connected with its own a moment later: let it land before teardown
    { kind: 'sleep', source: src, durationMs: 50 },
  ], {
    needs: ['linux-guest', 'migrate'], drivers: ['xenbus'],
    guests: [{ name: 'ref', os: 'linux', vcpus: 1, memoryMiB: 128, vbds: [{ vdev: 'xvda', sizeMiB: 64, mode: 'w', backend: {} }], vifs: [{ devid: 0, backend: {} }] }],
    // xenbus-transitions is left to the lab: the double's xenstore keeps no interior nodes
    checks: [{ name: 'devices-connected', params: {} }],
  });
}

async function run(fake: FakeDom0, waitAfterMs: number) {
  const host = new XlHost({ label: 'fake', connect: async () => fake });
  const r = await runPlanned({ host, plan: migrateScenario(waitAfterMs), tap: true, ringPeriodMs: 100 });
  return { ...r, events: r.trace.events };
}

t.test('a migrate step on xl: the guest in a new domain, the probes on its new domid', async (t) => {
  const fake = new FakeDom0();
  fake.frontends = true;
  const { tap, events } = await run(fake, 5000);
  t.match(tap, /^ok 1 - xl-migrate/m, tap);
  const guest = events.filter((e) => e.ev === 'guest') as unknown as { what: string; domid: number; detail?: { from?: number; domid?: number } }[];
  const migrated = guest.find((e) => e.what === 'migrated');
  t.ok(migrated, 'migrated is in the trace');
  const { from, domid } = migrated!.detail as { from: number; domid: number };
  t.not(domid, from, 'a localhost migration gives the guest a new domid');
  t.ok(fake.lines.includes(`xl migrate -s '' winpv-xl-migrate-ref 'xl migrate-receive -p'`), 'xl migrate to this dom0, the receiver keeping the domain paused');
  const live = (e: unknown): e is XenstoreEvent => (e as XenstoreEvent).ev === 'xs' && !(e as XenstoreEvent).snapshot;
  const newStates = events.filter(live).filter((e) => e.path === `/local/domain/${domid}/device/vbd/51712/state`).map((e) => e.value);
  t.same(newStates, ['1', '3', '4'], 'the new domain\'s frontend recorded from its first write (watched before the migration)');
  t.ok(events.filter(live).some((e) => e.path === `/local/domain/${from}/control/shutdown` && e.value === 'suspend'), 'libxl\'s suspend request to the old domain is in the trace');
  t.same(guest.map((e) => e.what).filter((w) => w !== 'destroyed'), ['created', 'started', 'suspending', 'migrated'], 'the old domain going away is no crash');
});

t.test('a migrated guest whose frontends do not reconnect is not ok', async (t) => {
  const fake = new FakeDom0();
  fake.frontends = true;
  fake.noReconnectAfterMigrate = true;
  const { tap } = await run(fake, 300);
  t.match(tap, /^not ok 1 - xl-migrate/m, tap);
  t.match(tap, /device\/vbd\/51712\/state/, 'the wait on the new domain\'s disk is what failed');
});

t.test('a guest that does not acknowledge the suspend: xl resumes it in its old domain, the step fails with xl\'s words', async (t) => {
  const fake = new FakeDom0();
  fake.frontends = true;
  fake.noSuspendAck = true;
  const { tap } = await run(fake, 5000);
  t.match(tap, /^not ok 1 - xl-migrate/m);
  t.match(tap, /Migration failed, failed to suspend at sender\. \(the guest is still in its old domain\)/);
});
