// platform-device on a pool: the guest's Xen PCI devices come from the VM (platform:device_id,
// has_vendor_device), set while it is halted; xapi refuses has_vendor_device on a VM that is not
// (VM_BAD_POWER_STATE), and the guest's xenbus binds the device the VM was given.
import t from 'tap';
import { poolWithGuest, startPool, makeBundle, shape, leftovers, rejects } from '../../support/xapi-pool';
import { FakePool, XapiFailure } from '../../support/xapi-server';
import { XapiApi } from '../../support/xapi-server/methods';

const DRIVERS = ['xenbus', 'xenvif', 'xennet', 'xenvbd'] as const;

for (const [device, id, vendor] of [['0002', '0002', false], ['C000', '0002', true]] as const) {
  t.test(`platform-device ${device}: platform:device_id ${id}, has_vendor_device ${vendor}, xenbus binds DEV_${device}`, async (t) => {
    const { pool, host, guest } = await poolWithGuest(t, `pd-${device}`, { pool: { guests: 1 }, shape: { ...shape('win1'), platformDevice: device } });
    const vm = pool.srv.pool.get(guest.handle);
    t.equal((vm.platform as Record<string, string>).device_id, id);
    t.equal(vm.has_vendor_device, vendor);
    await host.agent(guest).installDrivers({ location: makeBundle('9.1.0', 156), version: '9.1.0.156', drivers: [...DRIVERS] });
    await host.rebootGuest(guest);
    const xenbus = (await host.agent(guest).driverStatus()).bound.find((b) => b.driver === 'xenbus');
    t.match(xenbus?.hardwareId, new RegExp(`^PCI\\\\VEN_5853&DEV_${device}&`), `xenbus bound the ${device} device`);
    await host.close();
    t.same(leftovers(pool.srv), []);
  });
}

t.test('XenAPI double: has_vendor_device only on a halted VM (VM_BAD_POWER_STATE)', async (t) => {
  const pool = new FakePool({ user: 'root', password: 'pw', bootDelayMs: 5 });
  t.teardown(() => pool.stop());
  const x = new XapiApi(pool);
  const session = String(await x.call('session.login_with_password', ['root', 'pw']));
  const call = (m: string, ...a: unknown[]) => x.call(m, [session, ...(a as never[])]);
  const vm = String(await call('VM.clone', pool.templateRef, 'c'));
  await call('VM.set_is_a_template', vm, false);
  await call('VM.start', vm, false, false);
  const e = await call('VM.set_has_vendor_device', vm, true).then(() => undefined, (err: unknown) => err);
  t.ok(e instanceof XapiFailure, 'refused');
  t.same(e instanceof XapiFailure ? [e.code, ...e.params] : [], ['VM_BAD_POWER_STATE', vm, 'halted', 'running']);
  t.equal(pool.get(vm).has_vendor_device, false, 'unchanged');
});

t.test('a pool refusing the platform device: the guest is not built, the error names xapi\'s code, nothing left', async (t) => {
  const pool = await startPool({ guests: 1 });
  t.teardown(() => pool.close());
  pool.srv.pool.failNext.set('VM.set_has_vendor_device', new XapiFailure('VM_BAD_POWER_STATE', ['OpaqueRef:x', 'halted', 'running']));
  const host = pool.host();
  await host.open(pool.sink, { seed: 1 });
  const e = await rejects(host.createGuest({ ...shape('win1'), platformDevice: 'C000' }, 'pd-refused'));
  t.equal(e.code, 'XAPI_VM_BAD_POWER_STATE');
  await host.close();
  t.same(leftovers(pool.srv), []);
});
