// Moving a simulated guest (hosts/sim/moves.ts): a destination's backend keys land on a copy of the
// guest's shape (never the scenario's), and a destination naming a device the guest lacks is refused.
import t from 'tap';
import { landOn } from '../../src/hosts/sim/moves';
import type { SimGuest } from '../../src/hosts/sim/sim-guest';
import { shape } from './sim-fixture';

const guestWith = () => ({ ref: { name: 'win1', domid: 1, handle: 'i/win1' }, shape: shape() }) as unknown as SimGuest;

t.test('destination keys land on a copy of the shape, for the named devices only', async (t) => {
  const g = guestWith();
  const scenarioShape = g.shape;
  const moved = landOn(g, [{ device: 'vbd/51712', backend: { 'max-ring-page-order': '0' } }]);
  t.same(moved, ['vbd/51712']);
  t.same(g.shape.vbds[0]!.backend, { 'max-ring-page-order': '0' });
  t.same(g.shape.vifs[0]!.backend, {}, 'the vif keeps its keys');
  t.not(g.shape, scenarioShape, 'a copy');
  t.same(scenarioShape.vbds[0]!.backend, {}, 'the scenario\'s shape is untouched');
  t.same(landOn(g, undefined), [], 'no destination: nothing moves');
});

t.test('a destination for a device the guest lacks is refused', async (t) => {
  const g = guestWith();
  t.throws(() => landOn(g, [{ device: 'vif/3', backend: { 'multi-queue-max-queues': '1' } }]), { code: 'SIM_NO_DEVICE', message: /win1 has no vif\/3/ });
});
