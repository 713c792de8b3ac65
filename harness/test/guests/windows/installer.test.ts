import t from 'tap';
import { installerOutcome, parseVerifierSettings } from '../../../src/guests/windows/installer';

t.test("msiexec's exit codes", async (t) => {
  t.same(installerOutcome(0, ''), { ok: true, rebootRequired: false, summary: 'installed' });
  t.same(installerOutcome(3010, '').rebootRequired, true);
  t.same(installerOutcome(1641, '').ok, true, 'a reboot the installer started itself still installed');
  const fail = installerOutcome(1603, 'Action start 10:12:05: InstallDrivers.\nCustomAction InstallDrivers returned actual error code 1603\nAction ended 10:12:07: InstallDrivers. Return value 3.\nAction ended 10:12:07: INSTALL. Return value 3.\nProperty(S): X = 1');
  t.equal(fail.ok, false);
  t.match(fail.summary, /1603 \(fatal error during installation\).*returned actual error code 1603.*Return value 3/, 'the failing action from the log');
  t.match(installerOutcome(42, 'a\nb\nc\nd').summary, /42 \(failed\): b \| c \| d/, 'an unknown code with the log tail');
});

t.test('verifier /querysettings', async (t) => {
  const on = 'Special pool: Yes\r\nForce IRQL checking: Yes\r\n\r\nVerified drivers:\r\n\r\nxenbus.sys\r\nXENVIF.SYS\r\n';
  t.same(parseVerifierSettings(on), ['xenbus.sys', 'xenvif.sys']);
  t.same(parseVerifierSettings('Special pool: No\r\n\r\nVerified drivers:\r\n\r\nNone\r\n'), []);
  t.same(parseVerifierSettings('No drivers are currently verified.\r\n'), []);
  t.same(parseVerifierSettings('Extra: ndis.sys mentioned before the list\r\nVerified drivers:\r\nxenvbd.sys'), ['xenvbd.sys'], 'only the list under the header counts');
});
