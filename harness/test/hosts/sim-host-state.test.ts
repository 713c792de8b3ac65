// What the simulated host's parts share (hosts/sim/host-state.ts): guests found by handle, or by
// name only when that name is one guest's; nothing before the host is open.
import t from 'tap';
import { SimState } from '../../src/hosts/sim/host-state';
import type { SimGuest } from '../../src/hosts/sim/sim-guest';
import { specs } from './sim-fixture';

const g = (inst: string, name: string, domid: number) => ({ ref: { name, domid, handle: `${inst}/${name}` }, inst, dom: { domid } }) as unknown as SimGuest;

t.test('a guest is found by handle; by name only when one guest has it', async (t) => {
  const st = new SimState({ specs });
  st.guests.set('a/win1', g('a', 'win1', 1));
  st.guests.set('b/win1', g('b', 'win1', 2));
  st.guests.set('b/win2', g('b', 'win2', 3));
  t.equal(st.find({ name: 'win1', domid: 0, handle: 'b/win1' })?.ref.domid, 2, 'by handle');
  t.equal(st.find({ name: 'win1', domid: 0, handle: '' }), undefined, 'two instances have a win1: none is guessed');
  t.equal(st.find({ name: 'win2', domid: 0, handle: '' })?.ref.domid, 3, 'one win2: found by name');
  t.throws(() => st.guest({ name: 'win9', domid: 0, handle: '' }), { code: 'SIM_NO_GUEST' });
  t.equal(st.byDomid(3)?.ref.name, 'win2');
});

t.test('before open: no hypervisor, toolstack or xenstore', async (t) => {
  const st = new SimState({ specs });
  t.equal(st.isOpen, false);
  t.throws(() => st.hv, { code: 'SIM_NOT_OPEN' });
  t.throws(() => st.ts(), { code: 'SIM_NOT_OPEN' });
  t.throws(() => st.xenstore, { code: 'SIM_NOT_OPEN' });
  t.throws(() => st.dom0, { code: 'SIM_NOT_OPEN' });
});
