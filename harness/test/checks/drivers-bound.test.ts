// The drivers-bound check (harness/src/checks/drivers-bound.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, TraceBuilder } from '../support/check-judge';
import { evaluate } from '../../src/checks/evaluate';
import { loadSpecs } from '../../src/spec';

t.test('drivers-bound', async (t) => {
  const d = (bound: { driver: string; version: string; hardwareId: string }[], extra: object = {}) =>
    new TraceBuilder()
      .step('install-drivers', '1', 'start')
      .push({ ev: 'drivers', inst: 'i', guest: 'win', bound: bound.map((b) => ({ ...b, service: b.driver })), unbound: [], unplugged: { disks: true, nics: true }, expected: { version: '9.1.0', drivers: ['xenbus', 'xenvbd'] }, ...extra })
      .step('install-drivers', '1', 'end')
      .end();
  const ok = [{ driver: 'xenbus', version: '9.1.0', hardwareId: 'PCI\\VEN_5853&DEV_0001' }, { driver: 'xenvbd', version: '9.1.0', hardwareId: 'XENBUS\\VEN_XP0001&DEV_VBD&REV_09000000' }];
  t.equal(judge(d(ok), 'drivers-bound').verdict, 'pass');
  t.match(judge(d([ok[0]]), 'drivers-bound').message, /xenvbd is not bound/);
  t.match(judge(d([ok[0], { ...ok[1], version: '9.0.0' }]), 'drivers-bound').message, /bound at version 9.0.0, expected 9.1.0/);
  t.match(judge(d([ok[0], { ...ok[1], hardwareId: 'XENBUS\\VEN_XP0001&DEV_VBD&REV_0800000A' }]), 'drivers-bound').message, /revision 0800000A, which xenbus does not advertise/);
  t.match(judge(d(ok, { unplugged: { disks: false, nics: true } }), 'drivers-bound').message, /emulated disks were not unplugged/);
  t.match(judge(d(ok, { unbound: [{ hardwareId: 'XENBUS\\VEN_XP0001&DEV_VIF', reason: 'no matching driver' }] }), 'drivers-bound').message, /has no driver/);
  // which driver an unbound device is meant for comes from the real specs' hardware-ID templates
  const real = loadSpecs();
  const judgeReal = (events: ReturnType<TraceBuilder['end']>) => evaluate(events, real)[0].checks.find((c) => c.check === 'drivers-bound')!;
  const vbdChild = { hardwareId: 'XENBUS\\VEN_XP0001&DEV_VBD&REV_0900000B', reason: 'no matching driver' };
  const busOnly = [{ ...ok[0], driver: 'xenbus' }];
  t.match(judgeReal(d(busOnly, { unbound: [vbdChild] })).diagnostics?.others, [/DEV_VBD&REV_0900000B has no driver/], 'xenvbd was expected: its device left unbound fails');
  t.equal(
    judgeReal(d(busOnly, { unbound: [vbdChild], expected: { version: '9.1.0', drivers: ['xenbus'] } })).verdict,
    'pass',
    'a disk stays unbound when only the bus driver is installed, as on real Windows',
  );
});
