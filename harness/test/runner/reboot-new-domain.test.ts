// A host that declares rebootMakesNewDomain has the probes watch every guest domain across a reboot,
// so the new domain's frontends are recorded from their first write; the runner asks the host, not
// its kind.
import t from 'tap';
import { runPlanned } from '../support/run-plan';
import type { XenstoreEvent } from '../../src/model/trace';
import { FakeHost } from '../fixtures/fake-host';
import { fixtureSpecs } from '../fixtures/specs';
import { install, planOf, scenario, waitConnected } from '../fixtures/scenarios';

const specs = fixtureSpecs();

/** Frontend state writes of the rebooted guest's new domain that the probe saw as they happened. */
async function liveStatesOfNewDomain(host: FakeHost): Promise<{ domids: number[]; live: string[]; completed: boolean }> {
  const { outcome: out, trace } = await runPlanned({ host, plan: planOf(scenario('r', [install(), waitConnected()])), specs, ringPeriodMs: 100 });
  const domids = [...new Set(trace.events.filter((e) => e.ev === 'guest').map((e) => (e as { domid: number }).domid))];
  const fresh = Math.max(...domids);
  const live = trace.events
    .filter((e): e is XenstoreEvent & { seq: number; t: number } => e.ev === 'xs' && e.path === `/local/domain/${fresh}/device/vbd/51712/state` && !e.snapshot)
    .map((e) => String(e.value));
  const end = trace.events.find((e) => e.ev === 'scenario.end') as { status: string } | undefined;
  return { domids, live, completed: out.summary.complete && end?.status === 'completed' };
}

t.test('rebootMakesNewDomain: the new domain is watched from its first frontend write', async (t) => {
  const r = await liveStatesOfNewDomain(new FakeHost({ rebootNewDomain: true }));
  t.equal(r.domids.length, 2, `the reboot made a new domain (${r.domids})`);
  t.same(r.live, ['1', '3', '4'], 'Initialising, Initialised, Connected recorded as written');
  t.ok(r.completed, 'the wait after the reboot found the guest under its new domid');
});

t.test('a host that does not declare it is not watched across the reboot (the property is what decides)', async (t) => {
  class Undeclared extends FakeHost {
    override get rebootMakesNewDomain(): boolean {
      return false;
    }
  }
  const r = await liveStatesOfNewDomain(new Undeclared({ rebootNewDomain: true }));
  t.equal(r.domids.length, 2);
  t.same(r.live, [], 'the writes made during the reboot are missed; only the snapshot after it is recorded');
});
