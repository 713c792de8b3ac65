// The model's spec helpers, exercised on the shipped specs (the simulator and the checks use them).
import t from 'tap';
import { loadSpecs } from '../../src/spec';
import { conditionHolds, constraintProblems, findKey, findTransition, keyNamePattern, keyValueProblem, matchHardwareId, matchKey, type KeyReader } from '../../src/model/spec-eval';
import type { KeyRef } from '../../src/model/spec';
import { shippedDir } from './mutate';

const specs = loadSpecs(shippedDir);
const vbd = specs.get('xenvbd')!.device!;
const vif = specs.get('xenvif')!.device!;
const reader = (values: Record<string, string>): KeyReader => (ref: KeyRef) => values[`${ref.side}:${ref.name}`];

t.test('key names match real paths, per queue and per page', async (t) => {
  t.equal(matchKey(vbd.keys, 'frontend', 'ring-ref3')?.name, 'ring-ref<i>');
  t.equal(matchKey(vbd.keys, 'frontend', 'queue-1/ring-ref0')?.name, 'ring-ref<i>');
  t.equal(matchKey(vbd.keys, 'frontend', 'queue-0/event-channel')?.name, 'event-channel');
  t.equal(matchKey(vbd.keys, 'frontend', 'queue-0/protocol'), undefined, 'protocol is not per queue');
  t.equal(matchKey(vbd.keys, 'frontend', 'ring-ref'), findKey(vbd.keys, 'frontend', 'ring-ref'));
  t.ok(keyNamePattern({ name: 'attr/vif/<id>/ipv4/<n>' }).test('attr/vif/0/ipv4/2'));
  t.notOk(keyNamePattern({ name: 'attr/vif/<id>/ipv4/<n>' }).test('attr/vif/0/ipv4/x'));
});

t.test('values are checked against type, range and fixed value', async (t) => {
  const order = findKey(vbd.keys, 'frontend', 'ring-page-order')!;
  t.equal(keyValueProblem(order, '4'), undefined);
  t.match(keyValueProblem(order, '5'), /above the maximum 4/);
  t.match(keyValueProblem(order, '-1'), /unsigned/);
  t.match(keyValueProblem(findKey(vbd.keys, 'frontend', 'protocol')!, 'x86_32-abi'), /not one of/);
  t.match(keyValueProblem(findKey(vbd.keys, 'frontend', 'feature-surprise-remove')!, '0'), /not the value the driver writes/);
  t.match(keyValueProblem(findKey(vif.keys, 'frontend', 'mac')!, '00:16:3e:00:00'), /MAC/);
  t.match(keyValueProblem(findKey(vif.keys, 'frontend', 'state')!, '9'), /above the maximum 8/);
});

t.test('conditions decide which alternative a frontend writes', async (t) => {
  const split = reader({ 'backend:feature-split-event-channels': '1' });
  const plain = reader({});
  const [ev, tx] = [findKey(vif.keys, 'frontend', 'event-channel')!, findKey(vif.keys, 'frontend', 'event-channel-tx')!];
  t.equal(conditionHolds(ev.conditions, vif.keys, plain), true);
  t.equal(conditionHolds(tx.conditions, vif.keys, plain), false);
  t.equal(conditionHolds(ev.conditions, vif.keys, split), false);
  t.equal(conditionHolds(tx.conditions, vif.keys, split), true);
  const multi = findKey(vbd.keys, 'frontend', 'ring-ref<i>')!;
  t.equal(conditionHolds(multi.conditions, vbd.keys, reader({ 'frontend:ring-page-order': '2' })), true);
  t.equal(conditionHolds(findKey(vbd.keys, 'frontend', 'ring-ref')!.conditions, vbd.keys, reader({ 'frontend:ring-page-order': '2' })), false);
  t.equal(conditionHolds(findKey(vbd.keys, 'frontend', 'ring-page-order')!.conditions, vbd.keys, plain), false, 'no max-ring-page-order: default 0, no ring-page-order key');
});

t.test('constraints against backend keys, with defaults when the backend key is absent', async (t) => {
  const nq = findKey(vbd.keys, 'frontend', 'multi-queue-num-queues')!;
  t.same(constraintProblems(nq, '4', vbd.keys, reader({ 'backend:multi-queue-max-queues': '4' })), []);
  t.match(constraintProblems(nq, '8', vbd.keys, reader({ 'backend:multi-queue-max-queues': '4' }))[0], /multi-queue-num-queues=8 breaks '<= backend:multi-queue-max-queues' \(backend:multi-queue-max-queues=4\)/);
  t.equal(constraintProblems(nq, '2', vbd.keys, reader({})).length, 1, 'absent backend maximum means 1');
  const order = findKey(vbd.keys, 'frontend', 'ring-page-order')!;
  t.equal(constraintProblems(order, '3', vbd.keys, reader({ 'backend:max-ring-page-order': '2' })).length, 1);
});

t.test('transitions are allowed only in the right peer state', async (t) => {
  t.ok(findTransition(vbd.frontendTransitions, 1, 3, 2));
  t.notOk(findTransition(vbd.frontendTransitions, 1, 3, 1), 'Initialised before the backend is in InitWait');
  t.notOk(findTransition(vbd.frontendTransitions, 1, 4), 'xenvbd never skips Initialised');
  t.ok(findTransition(vif.frontendTransitions, 1, 4, 2), 'xenvif goes straight to Connected');
  t.ok(findTransition(vif.frontendTransitions, 4, 6, 5), 'surprise removal');
});

t.test('hardware IDs of a package are matched against the templates, vendor ranges and revisions', async (t) => {
  const vbdSpec = specs.get('xenvbd')!;
  const ok = matchHardwareId(vbdSpec, 'XENBUS\\VEN_XNC201&DEV_VBD&REV_0900000B');
  t.same(ok, { ok: true, template: 'XENBUS\\VEN_<prefix><device>&DEV_VBD&REV_<rev>', prefix: 'XN', device: 0xc201, revision: '0900000B' });
  t.match(matchHardwareId(vbdSpec, 'XENBUS\\VEN_XNC101&DEV_VBD&REV_0900000B'), { ok: false, reason: /C101 is not 0001, 0002 or inside XCP-ng's device range C200-C2FF/ });
  t.match(matchHardwareId(vbdSpec, 'XENBUS\\VEN_XP0001&DEV_VBD&REV_0900000A'), { ok: false, reason: /revision 0900000A is not one the driver binds/ });
  t.match(matchHardwareId(vbdSpec, 'XENBUS\\VEN_ZZ0001&DEV_VBD&REV_0900000B'), { ok: false, reason: /vendor prefix ZZ/ });
  t.match(matchHardwareId(vbdSpec, 'XENBUS\\VEN_XP0001&DEV_VIF&REV_0900000B'), { ok: false, reason: /does not have the form/ });
  const bus = specs.get('xenbus')!;
  t.match(matchHardwareId(bus, 'PCI\\VEN_5853&DEV_0001'), { ok: true });
  t.match(matchHardwareId(bus, 'PCI\\VEN_5853&DEV_C200&SUBSYS_C2005853&REV_01'), { ok: true, device: 0xc200 });
  t.match(matchHardwareId(bus, 'PCI\\VEN_5853&DEV_D000&SUBSYS_D0005853&REV_01'), { ok: false });
  t.match(matchHardwareId(bus, 'PCI\\VEN_5853&DEV_C200&SUBSYS_C2015853&REV_01'), { ok: false }, 'DEV and SUBSYS must name the same device');
});
