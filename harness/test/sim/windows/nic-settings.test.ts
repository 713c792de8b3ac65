// A Windows guest's per-interface TCP/IP settings and xenvif's copy of them (sim/windows/nic-settings.ts,
// after win-xenvif settings.c): the emulated NIC's static configuration reaches the PV NIC that replaces
// it (values copied, addresses moved), once; the same device node needs no copy; the
// nic-settings-not-copied bug leaves the PV NIC bare.
import t from 'tap';
import { NetworkSettings } from '../../../src/sim/windows/nic-settings';

const MAC = '00:16:3e:00:00:01';
const CONFIG = { ipv4: ['192.0.2.10/24'], ipv6: ['2001:db8::10/64'], dns: ['192.0.2.1', '2001:db8::1'], mtu: 1400 };

t.test('an interface keeps its GUID and LUID per device node; its configuration reads back', async (t) => {
  const n = new NetworkSettings();
  const a = n.iface('emulated', 'pci0', MAC);
  t.equal(n.iface('emulated', 'pci0', MAC), a, 'the same node: the same interface');
  const b = n.iface('pv', 'vif0', MAC);
  t.not(b.luid, a.luid);
  t.match(a.luid, /^0006[0-9a-f]{12}$/, 'IfType 6 (ethernet) in the top bits');
  n.configure(a, CONFIG);
  t.same(n.report(a, true), { mac: MAC, kind: 'emulated', up: true, ipv4: ['192.0.2.10/24'], ipv6: ['2001:db8::10/64'], dns: ['192.0.2.1', '2001:db8::1'], mtu: 1400 });
  t.same(n.report(b, false), { mac: MAC, kind: 'pv', up: false, ipv4: [], ipv6: [], dns: [] }, 'an interface never configured is bare');
});

t.test('restore: copied from the saved interface to the PV NIC, addresses moved; nothing saved, nothing done', async (t) => {
  const n = new NetworkSettings();
  const emu = n.iface('emulated', 'pci0', MAC);
  const pv = n.iface('pv', 'vif0', MAC);
  t.equal(n.restore('PDO0', pv), undefined, 'no record: nothing to restore');
  n.configure(emu, CONFIG);
  n.save('PDO0', emu);
  t.match(n.restore('PDO0', pv), /settings copied from \{emulated-pci0\} to \{pv-vif0\}/);
  t.match(n.report(pv, true), { ipv4: ['192.0.2.10/24'], ipv6: ['2001:db8::10/64'], dns: ['192.0.2.1', '2001:db8::1'], mtu: 1400 });
  t.match(n.report(emu, false), { ipv4: [], ipv6: [], dns: ['192.0.2.1', '2001:db8::1'] }, 'the addresses moved, the interface values copied');
  t.equal(n.restore('PDO0', pv), undefined, 'the PV NIC is now the record: the next start copies nothing');
});

t.test('nic-settings-not-copied: the record moves on, the settings do not', async (t) => {
  const n = new NetworkSettings();
  const emu = n.iface('emulated', 'pci0', MAC);
  const pv = n.iface('pv', 'vif0', MAC);
  n.configure(emu, CONFIG);
  n.save('PDO0', emu);
  t.equal(n.restore('PDO0', pv, false), undefined);
  t.same(n.report(pv, true).ipv4, [], 'the PV NIC comes up without its addresses');
  t.equal(n.restore('PDO0', pv), undefined, 'and a later start does not repair it');
});
