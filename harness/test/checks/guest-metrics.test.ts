// The guest-metrics check on hand-made traces: what the guest reported before a migration is back in
// the new domain within the limit: pass; keys still missing at the limit, or when the guest stops
// again first: fail naming them; keys the drivers' specs require (guest-keys') and the toolstack's
// own control keys are not judged; no move: skip.
import t from 'tap';
import { guestMetrics, isGuestMetricsKey } from '../../src/checks/guest-metrics';
import { buildView } from '../../src/checks/view';
import { loadSpecs } from '../../src/spec/load';
import type { TraceEvent } from '../../src/model/trace';

const specs = loadSpecs();
let seq = 0;
const ev = (t: number, e: Record<string, unknown>) => ({ seq: seq++, t, inst: 'i', ...e }) as unknown as TraceEvent;
const start = ev(0, { ev: 'scenario.start', scenario: 's', file: 'f', params: {}, tags: [], drivers: ['xenbus', 'xeniface'], guests: [], checks: [], faults: [] });
const life = (t: number, what: string, domid = 1, detail?: Record<string, unknown>) => ev(t, { ev: 'guest', guest: 'win', domid, what, ...(detail ? { detail } : {}) });
const xs = (t: number, domid: number, rel: string, value: string | null) => ev(t, { ev: 'xs', guest: 'win', path: `/local/domain/${domid}/${rel}`, value });
const REPORTED = ['data/os_distro', 'control/feature-poweroff', 'attr/vif/0/ipv4/0', 'attr/PVAddons/Installed'];
const report = (t: number, domid: number, keys = REPORTED) => keys.map((k, i) => xs(t + i, domid, k, k.includes('ipv4') ? '10.0.0.2' : '1'));
const before = [start, life(0, 'created'), ...report(10, 1), xs(20, 1, 'drivers/0', 'XenServer XENBUS 9.1.0.0'), xs(21, 1, 'control/shutdown', '')];
const migrate = (t: number) => [life(t, 'suspended'), life(t + 1, 'saved'), life(t + 2, 'restored', 1, { from: 1, domid: 2 }), life(t + 3, 'migrated', 1, { from: 1, domid: 2 })];
const end = (t: number) => ev(t, { ev: 'scenario.end', status: 'completed' });
const judge = (events: TraceEvent[], params: Record<string, string> = {}) => guestMetrics(buildView('i', events), params, specs);

t.test('the keys xapi reads', async (t) => {
  for (const k of ['data/os_distro', 'data/meminfo_free', 'attr/vif/0/ipv4/0', 'attr/PVAddons/Installed', 'control/feature-poweroff', 'data/service/x/y']) t.ok(isGuestMetricsKey(k), k);
  for (const k of ['control/shutdown', 'data/scsi/target/0/dump', 'device/vbd/51712/state', 'data/xeniface/x']) t.notOk(isGuestMetricsKey(k), k);
});

t.test('reported again in the new domain within the limit: pass', async (t) => {
  const r = judge([...before, ...migrate(100), ...report(300, 2), end(20_000)]);
  t.equal(r.verdict, 'pass', r.message);
  t.match(r.message, /every reported key back after 1 of 1 move/);
});

t.test('the agent never reports again: fail naming the missing keys (the drivers\' required keys are not judged)', async (t) => {
  const r = judge([...before, ...migrate(100), xs(300, 2, 'attr/vif/0/ipv4/0', '10.0.0.2'), end(20_000)]);
  t.equal(r.verdict, 'fail');
  t.match(r.message, /win: 3 of the 4 keys it reported before were not reported again 10000 ms after it was restored: attr\/PVAddons\/Installed, control\/feature-poweroff, data\/os_distro/);
  t.same(r.diagnostics?.missing, ['attr/PVAddons/Installed', 'control/feature-poweroff', 'data/os_distro']);
});

t.test('reported only after the limit: fail', async (t) => {
  const r = judge([...before, ...migrate(100), ...report(15_000, 2), end(20_000)], { limitMs: '10000' });
  t.equal(r.verdict, 'fail');
});

t.test('written empty (xenagent\'s StopShutdownWatch) is not reported: fail', async (t) => {
  const r = judge([...before, ...migrate(100), ...report(300, 2).map((e) => ({ ...e, value: (e as { path: string }).path.endsWith('feature-poweroff') ? '' : (e as { value: string }).value }) as TraceEvent), end(20_000)]);
  t.equal(r.verdict, 'fail');
  t.match(r.message, /control\/feature-poweroff/);
});

t.test('the next migration before the limit judges the keys then', async (t) => {
  const r = judge([...before, ...migrate(100), ...migrate(3000), end(20_000)]);
  t.equal(r.verdict, 'fail');
  t.match(r.message, /not reported again 2898 ms after it was restored/);
});

t.test('resumed in place: keys kept are reported', async (t) => {
  const r = judge([...before, life(100, 'suspended'), life(200, 'resumed'), end(20_000)]);
  t.equal(r.verdict, 'pass', r.message);
});

t.test('no move: skipped', async (t) => {
  const r = judge([...before, end(20_000)]);
  t.equal(r.verdict, 'skip');
});
