// The XenAPI double places VMs as xapi does (message_forwarding.ml forward_to_suitable_host,
// xapi_vm_helpers.ml choose_host_for_vm_no_wlb / assert_can_boot_here): a disabled host gets no VM
// (VM.start skips it; VM.start_on and VM.pool_migrate naming it are refused with HOST_DISABLED),
// and with every host disabled VM.start has nowhere to go (NO_HOSTS_AVAILABLE, no parameters). The
// XenAPI host reports that as a host error naming xapi's code.
import t from 'tap';
import { FakePool, XapiFailure } from '../../support/xapi-server';
import { XapiApi } from '../../support/xapi-server/methods';
import { directApi } from '../../support/xapi-direct';
import { rejects, leftovers, makeBundle, shape, startPool } from '../../support/xapi-pool';

const api = directApi;

t.test('XenAPI double: a disabled host gets no VM; all disabled is NO_HOSTS_AVAILABLE', async (t) => {
  const x = api();
  t.teardown(() => x.pool.stop());
  await x.login();
  const [h1, h2] = x.pool.hostRefs as [string, string];
  const vm = String(await x.call('VM.clone', x.pool.templateRef, 'c'));
  await x.call('VM.set_is_a_template', vm, false);

  await x.call('host.disable', h1);
  t.same(await x.fail('VM.start_on', vm, h1, false, false), ['HOST_DISABLED', h1], 'start_on a disabled host: HOST_DISABLED naming it');
  t.equal(x.pool.get(vm).power_state, 'Halted', 'and the VM stays halted');
  await x.call('VM.start', vm, false, false);
  t.equal(x.pool.get(vm).resident_on, h2, 'VM.start placed it on the enabled host');
  t.same(await x.fail('VM.pool_migrate', vm, h1, {}), ['VM_MISSING_PV_DRIVERS', vm], 'a migration needs the PV drivers first');
  await x.call('VM.hard_shutdown', vm);

  await x.call('host.disable', h2);
  t.same(await x.fail('VM.start', vm, false, false), ['NO_HOSTS_AVAILABLE'], 'every host disabled: NO_HOSTS_AVAILABLE with no parameters');
  t.same(await x.fail('VM.start_on', vm, h2, false, false), ['HOST_DISABLED', h2]);
  await x.call('host.enable', h1);
  await x.call('VM.start_on', vm, h1, false, false);
  t.equal(x.pool.get(vm).resident_on, h1, 'an enabled host again takes it');
});

t.test('XenAPI double: VM.pool_migrate to a disabled host is refused with HOST_DISABLED', async (t) => {
  const x = new FakePool({ user: 'root', password: 'pw', bootDelayMs: 5, guest: () => ({ ip: '192.0.2.5', pvVersion: { major: 9, minor: 1, micro: 0, build: 1 }, agent: true }) });
  const a = new XapiApi(x);
  t.teardown(() => x.stop());
  const session = String(await a.call('session.login_with_password', ['root', 'pw']));
  const call = (m: string, ...p: unknown[]) => a.call(m, [session, ...(p as never[])]);
  const vm = String(await call('VM.clone', x.templateRef, 'c'));
  await call('VM.set_is_a_template', vm, false);
  const [h1, h2] = x.hostRefs as [string, string];
  await call('VM.start_on', vm, h1, false, false);
  const end = Date.now() + 60_000;
  while (x.get(vm).guest_metrics === 'OpaqueRef:NULL' && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  await call('host.disable', h2);
  const e = await call('VM.pool_migrate', vm, h2, {}).then(() => undefined, (err: unknown) => err);
  t.ok(e instanceof XapiFailure && e.code === 'HOST_DISABLED' && e.params[0] === h2, 'HOST_DISABLED naming the destination');
  t.equal(x.get(vm).resident_on, h1, 'the VM stays where it was');
});

t.test('the XenAPI host building a guest on a pool whose hosts are all disabled: a host error with xapi\'s code, nothing left', async (t) => {
  const pool = await startPool({ guests: 1 });
  t.teardown(() => pool.close());
  for (const h of pool.srv.pool.hostRefs) pool.srv.pool.set(h, { enabled: false });
  const host = pool.host();
  await host.open(pool.sink, { seed: 1 });
  const e = await rejects(host.createGuest(shape('win1'), 'disabled'));
  t.equal(e.kind, 'host');
  t.equal(e.code, 'XAPI_NO_HOSTS_AVAILABLE');
  t.match(e.message, /no pool member can start guest .* every host is disabled .*xe host-enable/);
  await host.close();
  t.same(leftovers(pool.srv), [], 'the VM cloned for it is gone');
});

t.test('a migration with no named destination goes to an enabled member, not a disabled one', async (t) => {
  const pool = await startPool({ guests: 1, hosts: ['xs-host1', 'xs-host2', 'xs-host3'] });
  t.teardown(() => pool.close());
  const [, h2, h3] = pool.srv.pool.hostRefs as [string, string, string];
  pool.srv.pool.set(h2, { enabled: false });
  const host = pool.host();
  await host.open(pool.sink, { seed: 1 });
  const g = await host.createGuest(shape('win1'), 'migrate-enabled');
  await host.startGuest(g);
  await host.agent(g).installDrivers({ location: makeBundle('9.1.0', 156), version: '9.1.0.156', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'] });
  await host.rebootGuest(g);
  await host.migrate.migrate(g);
  t.equal(pool.srv.pool.get(g.handle).resident_on, h3, 'it went to xs-host3, past the disabled xs-host2');
  await host.close();
  t.same(leftovers(pool.srv), []);
});
