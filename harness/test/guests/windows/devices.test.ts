// Windows as it is in the field (issue 14, points 2, 7, 9): devices read through CIM in any display
// language and on Server 2016 (no pnputil /enum-devices), and the restarts the PV install asks for.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBundle, rejects } from '../../support/xapi-pool';
import { agentOnDouble } from '../../support/windows-agent';

const PW = 'planted-Devices-pw-4c2';
const ALL = ['xenbus', 'xenvif', 'xennet', 'xenvbd'] as const;

/** The files of a bundle directory as they appear on its disc (D:\\<driver>\\<driver>.inf ...). */
const discFiles = (dir: string) => new Map(ALL.flatMap((drv) => ['inf', 'sys', 'cat'].map((e): [string, Buffer] => [`${drv}\\${drv}.${e}`, readFileSync(join(dir, drv, `${drv}.${e}`))])));

t.test('German Server 2016: install and status without pnputil /enum-devices or English text', async (t) => {
  const { d, agent } = await agentOnDouble(t, PW, {}, { os: 'server2016', language: 'de-DE' });
  await agent.installDrivers({ location: makeBundle('9.1.0', 156), version: '9.1.0.156', drivers: [...ALL] });
  t.equal(agent.rebootPendingFor, '9.1.0.156', 'pnputil exit 3010 asks for a restart, whatever the language');
  d.boot();
  d.boot();
  const s = await agent.driverStatus();
  t.same(s.bound.map((b) => `${b.driver} ${b.version}`).sort(), ['xenbus 9.1.0.156', 'xennet 9.1.0.156', 'xenvbd 9.1.0.156', 'xenvif 9.1.0.156'], 'four-part versions from Win32_PnPSignedDriver');
  t.ok(s.bound.some((b) => /^XENBUS\\VEN_XP0001&DEV_VIF&REV_[0-9A-F]{8}$/.test(b.hardwareId)), 'real XENBUS instance ids');
  t.same(s.unplugged, { disks: true, nics: true });
  t.notOk(d.state.scripts.some((x) => /enum-devices/.test(x)), 'pnputil /enum-devices was not used');
  const raw = await agent['ssh']().then((c) => c.execLine('powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ' + Buffer.from('# winpv:pnputil-enum\n', 'utf16le').toString('base64')));
  t.not(raw.code, 0, 'the Server 2016 double has no pnputil /enum-devices');
});

t.test('the PV install takes two restarts: the unplug is read at the next boot', async (t) => {
  const { d, agent } = await agentOnDouble(t, PW);
  await agent.installDrivers({ location: makeBundle('9.1.0', 3), version: '9.1.0.3', drivers: [...ALL] });
  t.same(d.boot(), undefined, 'first boot: xenbus runs, no frontend connected, PV drivers not detected');
  const p1 = await agent.rebootPending();
  t.ok(p1.pending, 'Windows wants another restart');
  t.ok(p1.reasons.some((r) => /^pnp:XENBUS\\VEN_XP0001&DEV_VIF/.test(r)), `xenvif's device waits at CM_PROB_NEED_RESTART (${p1.reasons.join(', ')})`);
  t.same(d.state.unplugRequest, { disks: true, nics: true }, 'xenvif and xenvbd asked for the unplug (Services\\XEN\\Unplug NICS, DISKS)');
  const s1 = await agent.driverStatus();
  t.same(s1.unplugged, { disks: false, nics: false }, 'the emulated disk and NIC are still there after one boot');
  t.ok(s1.unbound.some((u) => /NEED_RESTART/.test(u.reason)));
  t.same(d.boot(), { major: 9, minor: 1, micro: 0, build: 3 }, 'second boot: unplugged, frontends connect, PV drivers detected');
  t.same(await agent.rebootPending(), { pending: false, reasons: [] });
  const s2 = await agent.driverStatus();
  t.same(s2.unplugged, { disks: true, nics: true });
  t.equal(s2.bound.length, 4);
});

t.test('the driver CD is looked for again until it appears, for a bounded time', async (t) => {
  const dir = makeBundle('9.1.0', 9);
  let lag = 2;
  const { d, agent } = await agentOnDouble(t, PW, { insertIso: async () => { d.insertDisc(discFiles(dir)); d.state.cdLag = lag; }, discWait: { attempts: 3, ms: 10 } });
  await agent.installDrivers({ location: 'iso:winpv.iso', version: '9.1.0.9', drivers: [...ALL] });
  t.equal(d.state.scripts.filter((s) => s.startsWith('# winpv:cd-drive')).length, 3, 'found at the third look');
  lag = 5;
  const e = await rejects(agent.installDrivers({ location: 'iso:winpv.iso', version: '9.1.0.9', drivers: [...ALL] }));
  t.equal(e.code, 'GUEST_NO_CD');
  t.match(e.message, /ISO winpv\.iso did not appear in the CD drive after 3 looks/);
});

t.test('NTttcp: the inbound firewall rule is opened for the run and removed after', async (t) => {
  const ran: string[] = [];
  const { d, agent } = await agentOnDouble(t, PW, { dom0Ntttcp: { address: async () => '127.0.0.2', run: async (role) => void ran.push(role) } });
  const r = await agent.netWorkload({ kind: 'net', guest: 'w', device: 'vif/0', threads: 1, direction: 'receive', durationMs: 1000, source: { file: 's.xml' } });
  t.ok(r.result, 'the receiver got data');
  t.same(d.state.firewallOpened, ['winpv-harness NTttcp'], 'a rule was opened');
  t.same(d.state.firewallRules, [], 'and removed');
  t.same(ran, ['s']);
});
