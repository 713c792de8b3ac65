// The guest-keys check (harness/src/checks/guest-keys.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, TraceBuilder } from '../support/check-judge';

t.test('guest-keys', async (t) => {
  const base = () =>
    new TraceBuilder()
      .push({ ev: 'drivers', inst: 'i', guest: 'win', bound: [{ driver: 'xenbus', version: '9.1.0', hardwareId: 'PCI', service: 'xenbus' }], unbound: [], unplugged: { disks: true, nics: true } })
      .xs('/local/domain/1/drivers/0', 'Xen Project XENBUS 9.1.0')
      .xs('/local/domain/1/control/feature-suspend', '1');
  t.equal(judge(base().at(100).guest('suspended').xs('/local/domain/1/control/feature-suspend', null).guest('resumed').xs('/local/domain/1/control/feature-suspend', '1').end(), 'guest-keys').verdict, 'pass');
  const lost = base().at(100).guest('suspended').xs('/local/domain/1/control/feature-suspend', null).guest('resumed').at(20000).end();
  t.match(judge(lost, 'guest-keys').message, /control\/feature-suspend is missing after the guest was resumed/);
  // XenAPI: VM.suspend destroys the domain (its home goes) before the suspend is reported done;
  // `suspending` closes the judging of the old home, and the resume's new domain is judged instead.
  const xapi = () => base().at(100).guest('suspending').at(120).xs('/local/domain/1', null).at(150).guest('suspended');
  t.equal(judge(xapi().guest('resumed', { domid: 2 }).xs('/local/domain/2/drivers/0', 'x').xs('/local/domain/2/control/feature-suspend', '1').end(), 'guest-keys').verdict, 'pass',
    'the old home removed between suspending and suspended is not a missing key');
  t.match(judge(base().at(120).xs('/local/domain/1', null).at(150).guest('suspended').guest('resumed', { domid: 2 }).xs('/local/domain/2/drivers/0', 'x').xs('/local/domain/2/control/feature-suspend', '1').end(), 'guest-keys').message,
    /drivers\/<N> is missing after the driver install/, 'without suspending, the removal before suspended is judged as keys lost');
  t.match(judge(xapi().guest('resumed', { domid: 2 }).xs('/local/domain/2/device/vbd/768/state', '4').at(20000).end(), 'guest-keys').message,
    /drivers\/<N> is missing after the guest was resumed/, 'keys not written again in the new domain fail');
  const migrated = base().at(100).guest('migrated', { newDomid: 2 }).xs('/local/domain/2/drivers/0', 'x').at(20000).end();
  t.match(judge(migrated, 'guest-keys').message, /feature-suspend is missing after the guest was migrated/);
});
