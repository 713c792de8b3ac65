// tapdisk3 (`vbd3`) as blktap's tapback writes xenstore (hosts/sim/tapback.ts, from its source): its
// state steps and keys, the XenAPI dom0 double's vbd3 disks against it, and how the simulator's
// blkback differs from it (the disk a Windows guest gets on XenServer).
import t from 'tap';
import { compareDriverKeys, diffStateSteps, sequenceOf, stateSteps, stepDiffText } from '../../src/hosts/xl/backend-keys';
import { tapbackKeyEvents, TAPBACK_MAX_RING_PAGE_ORDER } from '../../src/hosts/sim/tapback';
import { simBackendSteps } from '../../src/hosts/sim/lab-diff';
import { specs } from './sim-fixture';
import { makeBundle, shape, startPool } from '../support/xapi-pool';

const steps = stateSteps(tapbackKeyEvents());
const at = (state: string) => steps.find((s) => s.end === 'backend' && s.state === state)!.backend;

t.test('tapback: InitWait once hotplug-status is connected, Connected after its one transaction, Closing and Closed with the frontend', async (t) => {
  t.same(sequenceOf(steps, 'backend'), ['1', '2', '4', '5', '6']);
  t.equal(at('2')['max-ring-page-order'], String(TAPBACK_MAX_RING_PAGE_ORDER), 'multi-page rings from device creation (tapback_backend_create_device)');
  t.equal(at('2')['kthread-pid'], '<number>', 'the tapdisk\'s pid, normalized (physical_device_path_changed)');
  t.equal(at('2')['hotplug-status'], 'connected', 'InitWait only after the hotplug script (hotplug_status_changed)');
  t.notOk('sectors' in at('2'), 'the disk\'s size only at connect');
  t.match(at('4'), { 'feature-barrier': '1', 'sector-size': '512', sectors: '131072', info: '0' }, 'connect_frontend\'s transaction');
  for (const k of ['feature-persistent', 'feature-flush-cache', 'feature-discard', 'feature-max-indirect-segments', 'multi-queue-max-queues']) t.notOk(k in at('4'), `tapback never writes ${k}`);
  t.equal(stateSteps(tapbackKeyEvents({ sectors: 8, readOnly: true, barrier: false })).find((s) => s.state === '4' && s.end === 'backend')!.backend.info, '4', 'a read-only disk: VDISK_READONLY');
});

t.test('the XenAPI dom0 double serves vbd3 disks with the keys tapback writes', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  const host = pool.host();
  await host.open(pool.sink, { seed: 1 });
  const g = await host.createGuest(shape('win1'), 'tapback');
  await host.startGuest(g);
  await host.agent(g).installDrivers({ location: makeBundle('9.1.0', 156), version: '9.1.0.156', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'] });
  await host.rebootGuest(g);
  const dir = `/local/domain/0/backend/vbd3/${g.domid}/832`;
  t.equal(await host.xenstore.read(`${dir}/state`), '4');
  const keys: Record<string, string> = {};
  for (const k of await host.xenstore.directory(dir)) {
    const v = await host.xenstore.read(`${dir}/${k}`);
    if (v !== null) keys[k] = v;
  }
  const d = compareDriverKeys('vbd', at('4'), keys);
  t.same(d.missing, [], `no tapback key missing: ${d.missing.join(', ')}`);
  t.same(d.extra, [], `no key tapback does not write: ${d.extra.join(', ')}`);
  t.same(d.values.filter(([k]) => k !== 'sectors'), [], 'same values (the disk\'s size aside)');
});

t.test('the simulator\'s blkback against tapback: the differences a Windows guest on XenServer meets', async (t) => {
  const sim = await simBackendSteps(specs);
  const diffs = diffStateSteps('vbd', steps, sim.vbd).filter((d) => d.what !== 'sequence' || d.where === 'vbd backend');
  for (const d of diffs) t.comment(stepDiffText(d));
  // the simulator models Linux blkback: these are the features it offers that tapback does not
  t.ok(diffs.some((d) => d.what === 'extra' && d.key === 'feature-persistent'), 'blkback offers persistent grants, tapback does not');
  t.ok(diffs.some((d) => d.what === 'extra' && d.key === 'multi-queue-max-queues'), 'blkback offers queues, tapback does not');
  t.ok(diffs.some((d) => d.key === 'max-ring-page-order'), 'ring orders differ (tapback 3, blkback 4)');
});
