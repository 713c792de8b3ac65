// The nic-settings check (harness/src/checks/nic-settings.ts) on hand-made traces: a NIC's static
// configuration (set-nic) kept wherever a PV NIC runs it passes; each loss it exists to catch (an address,
// a DNS server, the MTU, the PV interface itself) is injected and seen as a failure naming it.
import t from 'tap';
import { nicSettings } from '../../src/checks/nic-settings';
import { buildView } from '../../src/checks/view';
import type { TraceEvent } from '../../src/model/trace';
import type { NicReport } from '../../src/model/host';

let seq = 0;
const ev = (t: number, e: Record<string, unknown>) => ({ seq: seq++, t, inst: 'i', ...e }) as unknown as TraceEvent;
const MAC = '00:16:3e:00:00:01';
const set = (t: number) => ev(t, { ev: 'nic.set', guest: 'win', dev: 'vif/0', mac: MAC, ipv4: ['192.0.2.10/24'], ipv6: ['2001:db8::10/64'], dns: ['192.0.2.53', '2001:db8::53'], mtu: 1400 });
const nic = (over: Partial<NicReport> = {}): NicReport => ({ mac: MAC, kind: 'pv', up: true, ipv4: ['192.0.2.10/24'], ipv6: ['2001:db8::10/64'], dns: ['2001:db8::53', '192.0.2.53'], mtu: 1400, ...over });
const bound = (...ds: string[]) => ds.map((d) => ({ driver: d, version: '9.1.0', hardwareId: 'x', service: d }));
const drivers = (t: number, e: Record<string, unknown>) => ev(t, { ev: 'drivers', guest: 'win', bound: bound('xenbus', 'xenvif', 'xennet'), unbound: [], unplugged: { disks: true, nics: true }, expected: { version: '9.1.0', drivers: ['xenbus', 'xenvif', 'xennet'] }, ...e });
const end = (t: number) => ev(t, { ev: 'scenario.end', status: 'completed' });

t.test('nic-settings: kept through every report with a PV NIC passes; reports without one are not judged', async (t) => {
  const r = nicSettings(buildView('i', [set(1), drivers(2, { nics: [nic()] }), drivers(3, { bound: [], unplugged: { disks: false, nics: false }, nics: [nic({ kind: 'emulated', ipv4: [] })] }), end(4)]));
  t.equal(r.verdict, 'pass', r.message);
  t.match(r.message, /kept through 1 report/);
});

t.test('nic-settings: an address, DNS server or MTU lost fails, naming each', async (t) => {
  const r = nicSettings(buildView('i', [set(1), drivers(2, { nics: [nic({ ipv6: [], mtu: undefined })] }), end(3)]));
  t.equal(r.verdict, 'fail');
  t.match(r.message, /win vif\/0 \(00:16:3e:00:00:01\): after the install of 9\.1\.0 the NIC lost its static configuration: IPv6 none \(set: 2001:db8::10\/64\); MTU default \(set: 1400\)/);
});

t.test('nic-settings: no PV interface with the MAC up while xennet runs fails', async (t) => {
  const r = nicSettings(buildView('i', [set(1), drivers(2, { nics: [nic({ kind: 'emulated' })] }), end(3)]));
  t.equal(r.verdict, 'fail');
  t.match(r.message, /no PV interface with this MAC is up/);
});

t.test('nic-settings: no set-nic step is a skip', async (t) => {
  t.equal(nicSettings(buildView('i', [drivers(2, { nics: [nic()] }), end(3)])).verdict, 'skip');
});
