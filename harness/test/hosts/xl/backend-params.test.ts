// A poorer destination on xl: backend keys become dom0's backend module parameters, read-only ones
// and keys no parameter gives are refused, the originals go back (also after a run that died), and a
// restored backend that did not take a parameter is a host error.
import t from 'tap';
import { Dom0 } from '../../../src/hosts/xl/dom0';
import { XlXenstore } from '../../../src/hosts/xl/xenstore';
import { applyParams, confirmDestination, paramChanges, restoreParams, SAVED_PARAMS } from '../../../src/hosts/xl/backend-params';
import { isUnsupported, isWinpvError } from '../../../src/model/errors';
import { FakeDom0 } from './fake-dom0';

const BLK = '/sys/module/xen_blkback/parameters';
const NET = '/sys/module/xen_netback/parameters';

/** dom0 with Linux 6.1's parameters as the lab has them (modes and values read there). */
function dom0(): { fake: FakeDom0; d: Dom0 } {
  const fake = new FakeDom0();
  for (const [p, mode, v] of [[`${BLK}/max_queues`, '644', '2'], [`${BLK}/feature_persistent`, '644', 'Y'], [`${BLK}/max_ring_page_order`, '444', '4'],
    [`${NET}/max_queues`, '644', '2'], [`${NET}/separate_tx_rx_irq`, '644', 'Y']] as const) {
    fake.files.set(p, v);
    fake.modes.set(p, mode);
  }
  return { fake, d: new Dom0(fake, 'fake') };
}

const poorer = [
  { device: 'vbd/51712', backend: { 'multi-queue-max-queues': '1', 'feature-persistent': '0' } },
  { device: 'vif/0', backend: { 'multi-queue-max-queues': '1', 'feature-split-event-channels': '0' } },
] as const;

t.test('each key becomes the parameter Linux writes it from; flags are Y/N', async (t) => {
  t.same(paramChanges(poorer).map((c) => `${c.path}=${c.value}`), [
    `${BLK}/max_queues=1`, `${BLK}/feature_persistent=N`, `${NET}/max_queues=1`, `${NET}/separate_tx_rx_irq=N`,
  ]);
});

t.test('a key no parameter gives, a bad value, or two devices wanting one parameter differently are refused', async (t) => {
  t.throws(() => paramChanges([{ device: 'vbd/51712', backend: { 'feature-discard': '0' } }]), /no dom0 backend module parameter gives vbd\/51712's feature-discard/);
  t.ok(isUnsupported((() => { try { paramChanges([{ device: 'vbd/51712', backend: { 'feature-discard': '0' } }]); } catch (e) { return e; } })()), 'as unsupported: the step is skipped with the reason');
  t.throws(() => paramChanges([{ device: 'vbd/51712', backend: { 'feature-persistent': 'no' } }]), /feature flag/);
  t.throws(() => paramChanges([{ device: 'vbd/51712', backend: { 'multi-queue-max-queues': '1' } }, { device: 'vbd/51728', backend: { 'multi-queue-max-queues': '2' } }]), /ask different values/);
});

t.test('applied, then put back; the originals are kept in dom0 before the first write', async (t) => {
  const { fake, d } = dom0();
  await applyParams(d, paramChanges(poorer));
  t.equal(fake.files.get(`${BLK}/max_queues`), '1');
  t.equal(fake.files.get(`${NET}/separate_tx_rx_irq`), 'N');
  t.match(fake.files.get(SAVED_PARAMS), `${BLK}/max_queues 2\n`);
  const put = await restoreParams(d);
  t.equal(put.length, 4);
  t.equal(fake.files.get(`${BLK}/max_queues`), '2');
  t.equal(fake.files.get(`${BLK}/feature_persistent`), 'Y');
  t.equal(fake.files.get(`${NET}/separate_tx_rx_irq`), 'Y');
  t.notOk(fake.files.has(SAVED_PARAMS), 'the record is gone');
  t.same(await restoreParams(d), [], 'nothing to put back twice');
});

t.test('a second apply before the put-back keeps the first originals (a run that died in between)', async (t) => {
  const { fake, d } = dom0();
  await applyParams(d, paramChanges([{ device: 'vbd/51712', backend: { 'multi-queue-max-queues': '1' } }]));
  await applyParams(d, paramChanges([{ device: 'vbd/51712', backend: { 'multi-queue-max-queues': '1' } }]));
  await restoreParams(d);
  t.equal(fake.files.get(`${BLK}/max_queues`), '2', 'the value before the first apply, not the poorer one');
});

t.test('a read-only parameter (fixed at module load) is refused before anything changes', async (t) => {
  const { fake, d } = dom0();
  const err = await applyParams(d, paramChanges([{ device: 'vbd/51712', backend: { 'multi-queue-max-queues': '1', 'max-ring-page-order': '0' } }])).catch((e: unknown) => e);
  t.ok(isUnsupported(err), 'unsupported');
  t.match(String((err as Error).message), /max_ring_page_order is read-only .*mode 444/);
  t.equal(fake.files.get(`${BLK}/max_queues`), '2', 'nothing written');
  t.notOk(fake.files.has(SAVED_PARAMS));
});

t.test('a missing module is a host error naming the parameter', async (t) => {
  const { fake, d } = dom0();
  fake.files.delete(`${NET}/max_queues`);
  fake.modes.delete(`${NET}/max_queues`);
  const err = await applyParams(d, paramChanges(poorer)).catch((e: unknown) => e);
  t.ok(isWinpvError(err) && err.code === 'XL_NO_PARAM', String(err));
  t.match(String((err as Error).message), /xen_netback\/parameters\/max_queues/);
});

t.test('confirmDestination: a restored backend that did not take the parameter is a host error', async (t) => {
  const { fake, d } = dom0();
  const xs = new XlXenstore(d);
  const be = '/local/domain/0/backend';
  for (const [k, v] of [['vbd/7/51712/state', '4'], ['vbd/7/51712/multi-queue-max-queues', '1'], ['vbd/7/51712/feature-persistent', '0'],
    ['vif/7/0/state', '4'], ['vif/7/0/multi-queue-max-queues', '1'], ['vif/7/0/feature-split-event-channels', '0']]) fake.xs.set(`${be}/${k}`, v);
  t.same(await confirmDestination(xs, 7, poorer, 5000), { connected: true }, 'the keys the destination named');
  fake.xs.set(`${be}/vif/7/0/multi-queue-max-queues`, '2');
  const err = await confirmDestination(xs, 7, poorer, 5000).catch((e: unknown) => e);
  t.ok(isWinpvError(err) && err.code === 'XL_DESTINATION_NOT_GIVEN', String(err));
  t.match(String((err as Error).message), /vif\/0 backend wrote multi-queue-max-queues=2, the destination asked for 1/);
  fake.xs.set(`${be}/vbd/7/51712/state`, '2');
  t.same(await confirmDestination(xs, 7, poorer, 600), { connected: false }, 'a backend not Connected in time is left to the scenario');
});
