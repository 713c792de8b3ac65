// Windows as it is in the field (issue 14, points 2, 7, 9): devices read through CIM in any display
// language and on Server 2016 (no pnputil /enum-devices), and the restarts the PV install asks for.
import t from 'tap';
import { makeBundle } from '../../support/xapi-pool';
import { agentOnDouble } from '../../support/windows-agent';

const PW = 'planted-Devices-pw-4c2';
const ALL = ['xenbus', 'xenvif', 'xennet', 'xenvbd'] as const;

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
