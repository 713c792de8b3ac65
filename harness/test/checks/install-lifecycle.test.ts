// drivers-bound through an install lifecycle, on hand-made traces: its reports after an uninstall (nothing
// bound, emulated devices back) and after a staged install's one reboot (each driver running, or a reboot
// asked for it; the guest reachable). Each failure it can report there is injected and seen. (nic-settings
// has its own file.)
import t from 'tap';
import { driversBound } from '../../src/checks/drivers-bound';
import { buildView } from '../../src/checks/view';
import { loadSpecs } from '../../src/spec/load';
import type { TraceEvent } from '../../src/model/trace';
import type { DriverState, NicReport } from '../../src/model/host';

const specs = loadSpecs();
let seq = 0;
const ev = (t: number, e: Record<string, unknown>) => ({ seq: seq++, t, inst: 'i', ...e }) as unknown as TraceEvent;
const MAC = '00:16:3e:00:00:01';
const nic = (over: Partial<NicReport> = {}): NicReport => ({ mac: MAC, kind: 'pv', up: true, ipv4: ['192.0.2.10/24'], ipv6: ['2001:db8::10/64'], dns: ['2001:db8::53', '192.0.2.53'], mtu: 1400, ...over });
const bound = (...ds: string[]) => ds.map((d) => ({ driver: d, version: '9.1.0', hardwareId: 'x', service: d }));
const drivers = (t: number, e: Record<string, unknown>) => ev(t, { ev: 'drivers', guest: 'win', bound: bound('xenbus', 'xenvif', 'xennet'), unbound: [], unplugged: { disks: true, nics: true }, expected: { version: '9.1.0', drivers: ['xenbus', 'xenvif', 'xennet'] }, ...e });
const end = (t: number) => ev(t, { ev: 'scenario.end', status: 'completed' });
const removed = (e: Record<string, unknown>) => drivers(5, { bound: [], unplugged: { disks: false, nics: false }, expected: { version: '', drivers: [], removed: true }, ...e });

t.test('drivers-bound after an uninstall: nothing bound and the emulated devices back passes', async (t) => {
  t.equal(driversBound(buildView('i', [removed({}), end(6)]), {}, specs).verdict, 'pass');
});

t.test('drivers-bound after an uninstall: a driver still bound, or devices still unplugged, fails', async (t) => {
  const still = driversBound(buildView('i', [removed({ bound: bound('xenvbd') }), end(6)]), {}, specs);
  t.equal(still.verdict, 'fail');
  t.match(still.message, /win: after the uninstall xenvbd 9\.1\.0 still bound/);
  const unplugged = driversBound(buildView('i', [removed({ unplugged: { disks: true, nics: false } }), end(6)]), {}, specs);
  t.equal(unplugged.verdict, 'fail');
  t.match(unplugged.message, /win: after the uninstall the emulated disks are still unplugged/);
});

const st = (driver: string, state: DriverState['state'], extra: Partial<DriverState> = {}): DriverState => ({ driver, state, ...extra });
const staged = (states: DriverState[], nics: NicReport[] = [nic({ kind: 'emulated' })]) =>
  drivers(5, { bound: bound('xenbus'), unplugged: { disks: false, nics: false }, states, nics, expected: { version: '9.1.0', drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'], staged: true } });
const halfway = (xenvifRequested: boolean) => [
  st('xenbus', 'running', { running: '9.1.0' }), st('xenvbd', 'reboot-required', { staged: '9.1.0', rebootRequested: true }),
  st('xenvif', 'reboot-required', { staged: '9.1.0', ...(xenvifRequested ? { rebootRequested: true } : {}) }), st('xennet', 'not-started', { staged: '9.1.0' }),
];

t.test('drivers-bound after a staged install\'s one reboot: every waiting driver has a reboot asked for: pass, states named', async (t) => {
  const r = driversBound(buildView('i', [staged(halfway(true)), end(6)]), {}, specs);
  t.equal(r.verdict, 'pass', r.message);
  t.match(r.message, /xenvif: 9\.1\.0 installed, start refused until a reboot, reboot requested/);
});

t.test('drivers-bound after a staged install: a driver waiting for a reboot nobody asked for fails', async (t) => {
  const r = driversBound(buildView('i', [staged(halfway(false)), end(6)]), {}, specs);
  t.equal(r.verdict, 'fail');
  t.match(r.message, /win: xenvif: 9\.1\.0 installed, start refused until a reboot, no reboot requested: it waits for a reboot nothing asked for/);
});

t.test('drivers-bound after a staged install: no interface up (the guest unreachable) fails', async (t) => {
  const r = driversBound(buildView('i', [staged(halfway(true), []), end(6)]), {}, specs);
  t.equal(r.verdict, 'fail');
  t.match(r.message, /no network interface is up after the staged install's reboot: the guest is unreachable/);
});

t.test('drivers-bound after a staged install: a driver still running the old version with nothing staged fails', async (t) => {
  const states = [st('xenbus', 'running', { running: '9.0.0' }), ...halfway(true).slice(1)];
  const r = driversBound(buildView('i', [staged(states), end(6)]), {}, specs);
  t.equal(r.verdict, 'fail');
  t.match(r.message, /win: xenbus runs 9\.0\.0 after the staged install of 9\.1\.0, with nothing staged/);
});
