// The model's spec helpers, exercised on the shipped specs (the simulator and the checks use them).
import t from 'tap';
import { loadSpecs } from '../../src/spec';
import { conditionHolds, constraintProblems, findKey, findTransition, keyNamePattern, keyValueProblem, matchHardwareId, matchKey, planFrontendKeys, requiredKeyProblems, type KeyReader } from '../../src/model/spec-eval';
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

t.test('planFrontendKeys: what a frontend writes, driven by the spec and the backend', async (t) => {
  const xenvbd = specs.get('xenvbd')!;
  const single = planFrontendKeys(xenvbd, reader({}));
  t.same([single.ringPageOrder, single.numQueues], [0, 1], 'a backend without features: one page, one queue');
  t.same(single.keys.map((k) => k.path).sort(), ['event-channel', 'feature-large-sector-size', 'feature-online-resize', 'feature-surprise-remove', 'multi-queue-num-queues', 'protocol', 'ring-ref', 'target-id'].sort());
  t.equal(single.keys.find((k) => k.path === 'protocol')!.value, 'x86_64-abi');

  const big = planFrontendKeys(xenvbd, reader({ 'backend:max-ring-page-order': '2', 'backend:multi-queue-max-queues': '4' }), { queues: 2 });
  t.same([big.ringPageOrder, big.numQueues], [2, 2]);
  const paths = big.keys.map((k) => k.path);
  t.ok(paths.includes('queue-1/ring-ref3'));
  t.ok(paths.includes('queue-0/event-channel'));
  t.notOk(paths.includes('ring-ref'), 'no single-page ring-ref when ring-page-order > 0');
  t.notOk(paths.some((p) => p.startsWith('queue-2/')));
  t.equal(big.keys.find((k) => k.path === 'ring-page-order')!.value, '2');
  t.equal(big.keys.find((k) => k.path === 'multi-queue-num-queues')!.value, '2');
  t.equal(planFrontendKeys(xenvbd, reader({ 'backend:max-ring-page-order': '9' })).ringPageOrder, 4, 'capped at the driver maximum 4');

  const xenvif = specs.get('xenvif')!;
  const split = planFrontendKeys(xenvif, reader({ 'backend:feature-split-event-channels': '1', 'backend:multi-queue-max-queues': '16' }), { queues: 4 });
  t.equal(split.numQueues, 4);
  const vifPaths = split.keys.map((k) => k.path);
  t.ok(vifPaths.includes('queue-3/event-channel-rx'));
  t.notOk(vifPaths.some((p) => p.endsWith('/event-channel')), 'split event channels replace event-channel');
  t.notOk(vifPaths.includes('ctrl-ring-ref'), 'no control ring without feature-ctrl-ring');
  t.ok(planFrontendKeys(xenvif, reader({ 'backend:feature-ctrl-ring': '1' })).keys.some((k) => k.path === 'ctrl-ring-ref'));
  t.same(planFrontendKeys(specs.get('xennet')!, reader({})), { ringPageOrder: 0, numQueues: 1, keys: [] }, 'no device: nothing to write');
});

t.test('requiredKeyProblems judges a side at a state, per queue and per page', async (t) => {
  const store = (values: Record<string, string>): KeyReader => (ref: KeyRef) => values[`${ref.side}:${ref.name}`];
  const good: Record<string, string> = {
    'frontend:state': '3',
    'frontend:ring-page-order': '1',
    'frontend:multi-queue-num-queues': '2',
    'frontend:queue-0/ring-ref0': '8',
    'frontend:queue-0/ring-ref1': '9',
    'frontend:queue-0/event-channel': '5',
    'frontend:queue-1/ring-ref0': '10',
    'frontend:queue-1/ring-ref1': '11',
    'frontend:queue-1/event-channel': '6',
    'frontend:protocol': 'x86_64-abi',
    'frontend:target-id': '0',
    'frontend:feature-surprise-remove': '1',
    'frontend:feature-online-resize': '1',
    'frontend:feature-large-sector-size': '1',
    'backend:max-ring-page-order': '4',
    'backend:multi-queue-max-queues': '4',
  };
  t.same(requiredKeyProblems(vbd, 'frontend', 3, store(good)), []);
  t.same(requiredKeyProblems(vbd, 'frontend', 1, store({ 'frontend:state': '1' })), [], 'nothing but state is required while Initialising');
  const missing = { ...good };
  delete missing['frontend:queue-1/ring-ref1'];
  t.same(requiredKeyProblems(vbd, 'frontend', 3, store(missing)).map((p) => p.problem), ['queue-1/ring-ref1 is missing']);
  const tooMany = { ...good, 'backend:multi-queue-max-queues': '1' };
  t.match(requiredKeyProblems(vbd, 'frontend', 4, store(tooMany)).map((p) => p.problem), [/multi-queue-num-queues: multi-queue-num-queues=2 breaks/]);
  const wrongProtocol = { ...good, 'frontend:protocol': 'x86_32-abi' };
  t.match(requiredKeyProblems(vbd, 'frontend', 3, store(wrongProtocol)).map((p) => p.problem), [/protocol: 'x86_32-abi' is not one of/]);
  t.same(requiredKeyProblems(vbd, 'backend', 4, store({ 'backend:state': '4' })).map((p) => p.path).sort(), ['info', 'sector-size', 'sectors']);
  // netif: the split event channels are required only when the backend offers them.
  const vifBase: Record<string, string> = { 'frontend:state': '4', 'frontend:tx-ring-ref': '1', 'frontend:rx-ring-ref': '2', 'frontend:multi-queue-num-queues': '1', 'frontend:request-rx-copy': '1', 'frontend:feature-sg': '1', 'frontend:feature-rx-notify': '1' };
  t.same(requiredKeyProblems(vif, 'frontend', 4, store({ ...vifBase, 'frontend:event-channel': '7' })), []);
  t.same(requiredKeyProblems(vif, 'frontend', 4, store({ ...vifBase, 'frontend:event-channel': '7', 'backend:feature-split-event-channels': '1' })).map((p) => p.problem), ['event-channel-rx is missing', 'event-channel-tx is missing']);
});
