import t from 'tap';
import { parseCondition, parseConstraint } from '../../src/spec';

t.test('when conditions', async (t) => {
  t.same(parseCondition('backend:feature-ctrl-ring'), { ok: true, value: [{ ref: { side: 'backend', name: 'feature-ctrl-ring' } }] });
  t.same(parseCondition('!frontend:ring-page-order'), { ok: true, value: [{ ref: { side: 'frontend', name: 'ring-page-order' }, negate: true }] });
  t.same(parseCondition('backend:max-ring-page-order > 0 and guest:memory/target'), {
    ok: true,
    value: [{ ref: { side: 'backend', name: 'max-ring-page-order' }, op: '>', value: 0 }, { ref: { side: 'guest', name: 'memory/target' } }],
  });
  t.same(parseCondition('backend:protocol = x86_64-abi'), { ok: true, value: [{ ref: { side: 'backend', name: 'protocol' }, op: '=', value: 'x86_64-abi' }] });
  for (const bad of ['dom0:x', 'backend:x ~ 1', 'backend:x >', '!backend:x = 1', 'feature-sg']) {
    const r = parseCondition(bad);
    t.equal(r.ok, false, bad);
  }
});

t.test('constraints', async (t) => {
  t.same(parseConstraint('<= backend:multi-queue-max-queues and >= 1'), {
    ok: true,
    value: [
      { op: '<=', ref: { side: 'backend', name: 'multi-queue-max-queues' }, text: '<= backend:multi-queue-max-queues' },
      { op: '>=', value: 1, text: '>= 1' },
    ],
  });
  for (const bad of ['backend:x', '<= x', 'at most 4']) t.equal(parseConstraint(bad).ok, false, bad);
});
