// The devices-connected check (harness/src/checks/devices-connected.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, TraceBuilder } from '../support/check-judge';

t.test('devices-connected', async (t) => {
  t.equal(judge(new TraceBuilder().connectVbd().end(), 'devices-connected').verdict, 'pass');
  const never = new TraceBuilder().back('state', '2').front('state', '1').at(5000).end();
  t.match(judge(never, 'devices-connected').message, /never reached Connected/);
  const slow = new TraceBuilder().back('state', '2').front('state', '1').at(45000).front('ring-ref', '8').front('state', '3').back('state', '4').front('state', '4').end();
  t.match(judge(slow, 'devices-connected').message, /Connected after 45000 ms, limit 30000 ms/);
});

t.test('devices-connected: a PV device left waiting after the run uninstalled the PV drivers is not judged', async (t) => {
  const report = (bound: string[], removed: boolean) => ({
    ev: 'drivers' as const, inst: 'i', guest: 'win', bound: bound.map((driver) => ({ driver, version: '9.1.0', hardwareId: 'x', service: driver })),
    unbound: [], unplugged: { disks: false, nics: false }, expected: { version: '9.1.0', drivers: ['xenbus', 'xenvbd'], ...(removed ? { removed } : {}) },
  });
  // the uninstall's reboot: the new domain's disk waits in Initialising, nothing drives it
  const uninstalled = new TraceBuilder().connectVbd().guest('rebooted', { domid: 2 }).back('state', '2', 'vbd/51712', 2).front('state', '1', 'vbd/51712', 2).push(report([], true)).at(5000).end();
  t.equal(judge(uninstalled, 'devices-connected').verdict, 'pass');
  // the uninstall said it removed them, but xenvbd is still bound: the disk should have connected
  const stillBound = new TraceBuilder().connectVbd().guest('rebooted', { domid: 2 }).back('state', '2', 'vbd/51712', 2).front('state', '1', 'vbd/51712', 2).push(report(['xenbus', 'xenvbd'], true)).at(5000).end();
  t.match(judge(stillBound, 'devices-connected').message, /never reached Connected/);
  // drivers reported without an uninstall: a device that never connects fails
  const noUninstall = new TraceBuilder().connectVbd().guest('rebooted', { domid: 2 }).back('state', '2', 'vbd/51712', 2).front('state', '1', 'vbd/51712', 2).push(report([], false)).at(5000).end();
  t.match(judge(noUninstall, 'devices-connected').message, /never reached Connected/);
});

t.test('devices-connected: another instance\'s domain, recorded while the probe watched every domain, is not judged', async (t) => {
  // A reboot on a host that runs several instances at once: until the runner learns the new domid the
  // probe records every domain's keys, unnamed (XenstoreProbe.watchNewDomains). Here dom7 waits in
  // Initialising when the scenario ends.
  const waiting = (b: TraceBuilder) =>
    b.push({ ev: 'xs', inst: b.inst, path: '/local/domain/0/backend/vbd/7/51712/state', value: '2' })
      .push({ ev: 'xs', inst: b.inst, path: '/local/domain/7/device/vbd/51712/state', value: '1' }).at(5000).end();
  t.equal(judge(waiting(new TraceBuilder().connectVbd()), 'devices-connected').verdict, 'pass', 'no guest of this instance ever had dom7: another instance\'s');
  t.match(judge(waiting(new TraceBuilder().connectVbd().guest('rebooted', { domid: 7 })), 'devices-connected').message, /win vbd\/51712: never reached Connected/,
    'this instance\'s guest rebooted into dom7: its disk is judged');
});
