// What a real pool does that the first version of the doubles did not: a driverless guest has no
// guest metrics (so it is found through dom0's neighbour table), xapi's refusals with its own error
// codes (DEVICE_DETACH_REJECTED, PROVISION_ONLY_ALLOWED_ON_TEMPLATE, ...), templates whose disks
// come from VM.provision, tasks that stay pending a while, and MACs no two runs share.
import t from 'tap';
import { poolWithGuest, startPool, makeBundle, shape, leftovers, rejects, TEMPLATE } from '../../support/xapi-pool';
import { directApi } from '../../support/xapi-direct';
import { parseNeighbours } from '../../../src/hosts/xapi/guest-address';
import { guestMac } from '../../../src/hosts/guest-mac';

const NULL = 'OpaqueRef:NULL';
const logs = (events: { ev: string }[]) => events.filter((e): e is { ev: 'log'; msg: string } => e.ev === 'log').map((e) => e.msg);

t.test('a guest without PV drivers has no guest metrics: it is found by its MAC in dom0\'s neighbour table, later by its agent', async (t) => {
  const { pool, host, guest: g } = await poolWithGuest(t, 'find', { pool: { guests: 1 } });
  const vm = pool.srv.pool.get(g.handle);
  t.equal(vm.guest_metrics, NULL, 'no VM_guest_metrics before the PV drivers and the agent run');
  const mac = String(pool.srv.pool.get((vm.VIFs as string[])[0]).MAC);
  t.ok(logs(pool.events).some((m) => m === `win1 found at 127.0.0.2 by dom0's neighbour table (MAC ${mac})`), 'the trace says how the guest was found');
  t.ok(pool.dom0!.ssh.commands.includes('ip -4 neigh show'), 'dom0 was asked');
  t.same((await host.agent(g).driverStatus()).bound, [], 'and the guest answers there');

  await host.agent(g).installDrivers({ location: makeBundle('9.1.0', 156), version: '9.1.0.156', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'] });
  await host.rebootGuest(g); // the install's reboots, as many as Windows asks for
  t.equal(pool.srv.pool.get(pool.srv.pool.get(g.handle).guest_metrics).PV_drivers_detected, true);
  // dom0 no longer sees it: with its drivers the guest's agent names its address
  pool.dom0!.faults.silentGuests = true;
  await host.rebootGuest(g);
  t.ok(logs(pool.events).some((m) => m === 'win1 found at 127.0.0.2 by its guest agent (VM_guest_metrics.networks)'), 'with drivers, its agent names it');
  await host.close();
  t.same(leftovers(pool.srv), []);
});

t.test('a template that never talks on its emulated NIC: a clear error naming the MAC, the fix, nothing left', async (t) => {
  const { pool, host, guest: g } = await poolWithGuest(t, 'silent', { pool: { guests: 1 }, configure: (pool) => { pool.cfg.timeouts.bootMs = 1500; pool.dom0!.faults.silentGuests = true; }, start: false });
  const e = await rejects(host.startGuest(g));
  t.equal(e.code, 'XAPI_GUEST_NOT_FOUND');
  t.equal(e.kind, 'host');
  t.match(e.message, /win1 did not show up on the network within 2 s; tried, in order: its guest agent \(VM_guest_metrics\.networks\): no address .*; dom0's neighbour table: no entry for MAC [0-9a-f:]{17}\..*docs\/real-pool\.md/);
  await host.close();
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
});

t.test('without dom0 SSH a driverless guest cannot be found, and the error says why', async (t) => {
  const { host, guest: g } = await poolWithGuest(t, 'no-dom0', { pool: { guests: 1, dom0: false }, configure: (pool) => { pool.cfg.timeouts.bootMs = 1000; }, start: false });
  const e = await rejects(host.startGuest(g));
  t.equal(e.code, 'XAPI_GUEST_NOT_FOUND');
  t.match(e.message, /tried, in order: its guest agent \(VM_guest_metrics\.networks\): no address \(no PV drivers or guest agent yet\?\)\. /, 'only the way this host can use was tried, and the error says so');
  await host.close();
});

t.test('dom0 neighbour table: only entries the kernel confirmed for the MAC count', async (t) => {
  const table = '192.0.2.9 dev xenbr0 lladdr 02:aa:bb:cc:dd:ee FAILED\n192.0.2.7 dev xenbr0  INCOMPLETE\n192.0.2.5 dev xenbr0 lladdr 02:AA:BB:CC:DD:EE STALE\n';
  t.equal(parseNeighbours(table, '02:aa:bb:cc:dd:ee'), undefined, 'STALE: unconfirmed since, maybe the previous boot\'s address');
  t.equal(parseNeighbours(`${table}192.0.2.6 dev xenbr0 lladdr 02:aa:bb:cc:dd:ee REACHABLE\n`, '02:aa:bb:cc:dd:ee'), '192.0.2.6');
  t.equal(parseNeighbours('192.0.2.8 dev xenbr0 lladdr 02:aa:bb:cc:dd:ee DELAY\n', '02:aa:bb:cc:dd:ee'), '192.0.2.8', 'DELAY: confirmation on its way');
  t.equal(parseNeighbours(table, '02:00:00:00:00:01'), undefined);
});

t.test('MACs: from run, instance, guest and device; locally administered unicast; no two shards or instances share one', async (t) => {
  const macs = new Set<string>();
  for (const run of ['20261124T060000Z-aaaaaa', '20261124T060000Z-bbbbbb']) {
    for (const owner of ['smoke/win1', 'smoke#2/win1', 'smoke/win2']) for (const dev of [0, 1]) macs.add(guestMac(run, owner, dev));
  }
  t.equal(macs.size, 12, 'all different');
  for (const m of macs) {
    const first = parseInt(m.slice(0, 2), 16);
    t.ok((first & 2) === 2 && (first & 1) === 0, `${m} locally administered, unicast`);
  }
  t.equal(guestMac('r', 'o', 0), guestMac('r', 'o', 0), 'stable: a rebuilt guest keeps its MAC');

  const pool = await startPool({ guests: 2 });
  t.teardown(() => pool.close());
  const a = pool.host();
  const b = pool.host();
  await a.open(pool.sink, { seed: 1 });
  await b.open(pool.sink, { seed: 1 });
  const ga = await a.createGuest(shape('win1'), 'smoke');
  const gb = await b.createGuest(shape('win1'), 'smoke');
  const macOf = (h: string) => String(pool.srv.pool.get((pool.srv.pool.get(h).VIFs as string[])[0]).MAC);
  t.equal(macOf(ga.handle), guestMac(a.runId, 'smoke/win1', 0), 'the VIF has the derived MAC');
  t.not(macOf(ga.handle), macOf(gb.handle), 'two runs (shards) with the same scenario on one pool: different MACs');
  await a.close();
  await b.close();
});

const api = directApi;

t.test('XenAPI double: tasks take time, pending first', async (t) => {
  // A task long enough that no scheduling delay of a loaded machine outlasts it (no timed assertion:
  // only the order pending -> success is judged).
  const x = api({ taskMs: 1500 });
  await x.login();
  const task = String(await x.call('Async.VM.clone', x.pool.templateRef, 'c'));
  t.equal(await x.call('task.get_status', task), 'pending', 'an Async call returns at once with its task pending');
  await new Promise((r) => setImmediate(r));
  t.equal(x.pool.get(task).status, 'pending', 'and it stays pending while the operation runs');
  await x.wait(() => x.pool.get(task).status !== 'pending', 30_000);
  t.equal(x.pool.get(task).status, 'success');
  x.pool.stop();
});

t.test('XenAPI double: VM.provision as xapi does it', async (t) => {
  const x = api();
  await x.login();
  const vm = String(await x.call('VM.clone', x.pool.templateRef, 'c'));
  await x.call('VM.set_is_a_template', vm, false);
  t.same(await x.fail('VM.provision', vm), ['PROVISION_ONLY_ALLOWED_ON_TEMPLATE'], 'only on a template');

  const tpl = String(await x.call('VM.clone', x.pool.templateRef, 'provisioned'));
  for (const b of x.pool.get(tpl).VBDs as string[]) if (x.pool.get(b).type === 'Disk') x.pool.remove(b);
  await x.call('VM.add_to_other_config', tpl, 'disks', '<provision><disk device="0" size="34359738368" sr="" bootable="true" type="system"/></provision>');
  const clone = String(await x.call('VM.clone', tpl, 'guest'));
  t.equal((x.pool.get(clone).VBDs as string[]).filter((b) => x.pool.get(b).type === 'Disk').length, 0, 'a clone has no disks until provisioned');
  await x.call('VM.provision', clone);
  const disks = (x.pool.get(clone).VBDs as string[]).map((b) => x.pool.get(b)).filter((b) => b.type === 'Disk');
  t.same(disks.map((b) => [b.userdevice, x.pool.get(b.VDI).virtual_size]), [['0', 34359738368]], 'the disk the template describes');
  t.notOk('disks' in (x.pool.get(clone).other_config as object), 'and the provision spec is gone');

  x.pool.set(x.pool.defaultSr, { physical_utilisation: x.pool.get(x.pool.defaultSr).physical_size });
  const full = String(await x.call('VM.clone', tpl, 'guest2'));
  t.same(await x.fail('VM.provision', full), ['PROVISION_FAILED_OUT_OF_SPACE'], 'a full SR');
  x.pool.stop();
});

t.test('XenAPI double: a clean VBD.unplug of a disk Windows holds is refused (DEVICE_DETACH_REJECTED), a forced one is not', async (t) => {
  const x = api({ guest: () => ({ ip: '192.0.2.5', pvVersion: { major: 9, minor: 1, micro: 0, build: 1 }, agent: true }) });
  await x.login();
  const vm = String(await x.call('VM.clone', x.pool.templateRef, 'c'));
  await x.call('VM.set_is_a_template', vm, false);
  const data = String(await x.call('VDI.create', { SR: x.pool.defaultSr, name_label: 'data', virtual_size: 2 ** 30, type: 'user' }));
  const dataVbd = String(await x.call('VBD.create', { VM: vm, VDI: data, userdevice: '1', type: 'Disk', mode: 'RW', empty: false }));
  await x.call('VM.start', vm, false, false);
  await x.wait(() => x.pool.get(vm).guest_metrics !== NULL);
  const sys = (x.pool.get(vm).VBDs as string[]).find((b) => x.pool.get(b).userdevice === '0')!;
  t.same(await x.fail('VBD.unplug', sys), ['DEVICE_DETACH_REJECTED', 'VBD', sys, 'Device in use by the guest'], 'the system disk');
  t.equal(x.pool.get(sys).currently_attached, true, 'still attached');
  await x.call('VBD.unplug', dataVbd);
  t.equal(x.pool.get(dataVbd).currently_attached, false, 'a data disk Windows does not hold goes');
  await x.call('VBD.unplug_force', sys);
  t.equal(x.pool.get(sys).currently_attached, false, 'unplug_force does not ask the guest');
  x.pool.stop();
});

t.test('XenAPI double: guest metrics only with PV drivers, networks and PV_drivers_detected only with the agent too', async (t) => {
  let pv = false;
  let agent = false;
  const x = api({ guest: () => ({ ip: '192.0.2.5', agent, ...(pv ? { pvVersion: { major: 9, minor: 1, micro: 0, build: 1 } } : {}) }) });
  await x.login();
  const vm = String(await x.call('VM.clone', x.pool.templateRef, 'c'));
  await x.call('VM.set_is_a_template', vm, false);
  await x.call('VM.start', vm, false, false);
  await x.wait(() => x.pool.guests.has(vm));
  t.equal(x.pool.get(vm).guest_metrics, NULL, 'booted without drivers: no guest metrics');
  t.equal(x.pool.leases.get(String(x.pool.get((x.pool.get(vm).VIFs as string[])[0]).MAC).toLowerCase()), '192.0.2.5', 'but a DHCP lease for its VIF\'s MAC');
  t.same(await x.fail('VM.clean_reboot', vm), ['VM_LACKS_FEATURE_SHUTDOWN', vm], 'no clean reboot without the drivers');
  pv = true;
  await x.call('VM.hard_reboot', vm);
  await x.wait(() => x.pool.get(vm).guest_metrics !== NULL);
  const gm = x.pool.get(x.pool.get(vm).guest_metrics);
  t.equal(gm.PV_drivers_detected, false, 'drivers without the agent: xenopsd has no data/updated, PV_drivers_detected false');
  t.same(gm.networks, {}, 'and no networks: only the agent writes attr/vif/<devid>/ipv4');
  t.same(await x.fail('VM.suspend', vm), ['VM_MISSING_PV_DRIVERS', vm], 'so xapi refuses what needs PV drivers');
  agent = true;
  await x.call('VM.hard_reboot', vm);
  await x.wait(() => x.pool.get(vm).guest_metrics !== NULL && x.pool.get(x.pool.get(vm).guest_metrics).PV_drivers_detected === true);
  t.same(x.pool.get(x.pool.get(vm).guest_metrics).networks, { '0/ip': '192.0.2.5', '0/ipv4/0': '192.0.2.5' }, 'with the agent: its addresses');
  x.pool.stop();
});

t.test('the harness provisions a template that describes its disks (the system disk is the provisioned one)', async (t) => {
  const pool = await startPool({ guests: 1 });
  t.teardown(() => pool.close());
  const p = pool.srv.pool;
  for (const b of p.get(p.templateRef).VBDs as string[]) if (p.get(b).type === 'Disk') p.remove(b);
  p.set(p.templateRef, { other_config: { disks: '<provision><disk device="0" size="42949672960" sr="" bootable="true" type="system"/></provision>' } });
  const host = pool.host();
  await host.open(pool.sink, { seed: 1 });
  const g = await host.createGuest(shape('win1'), 'prov');
  const sys = (p.get(g.handle).VBDs as string[]).map((b) => p.get(b)).find((b) => b.userdevice === '0')!;
  t.equal(p.get(sys.VDI).name_description, 'Created by template provisioner', 'userdevice 0 is the disk VM.provision made, not a blank one of ours');
  await host.close();
  t.same(leftovers(pool.srv).filter((l) => !l.includes(TEMPLATE)), []);
});

t.test('bad input on a pool: a wrong template, a full SR, no host with the memory: the error names what and where (exit 3), nothing left', async (t) => {
  const pool = await startPool({ guests: 1 });
  t.teardown(() => pool.close());
  const p = pool.srv.pool;
  const host = pool.host();
  await host.open(pool.sink, { seed: 1 });

  const e1 = await rejects(host.createGuest(shape('win1', { image: 'Windows 95' }), 'tpl'));
  t.match(e1, { code: 'XAPI_NO_TEMPLATE', kind: 'host', message: /no template named 'Windows 95' on the pool/ });
  t.same(leftovers(pool.srv), []);

  p.set(p.defaultSr, { physical_utilisation: Number(p.get(p.defaultSr).physical_size) - 512 * 2 ** 20 });
  const e2 = await rejects(host.createGuest(shape('win1'), 'full'));
  t.match(e2, { code: 'XAPI_SR_FULL', kind: 'host', message: /guest full\/win1: disk hdb \(1024 MiB\) does not fit in SR 'Local storage' \(512 MiB free\)/ });
  t.same(leftovers(pool.srv), [], 'nothing left after the full SR');
  p.set(p.defaultSr, { physical_utilisation: 0 });

  for (const h of p.hostRefs) p.set(h, { memory_total: 6 * 2 ** 30 });
  const e3 = await rejects(host.createGuest(shape('win1'), 'mem'));
  t.match(e3, { code: 'XAPI_HOST_NOT_ENOUGH_FREE_MEMORY', kind: 'host', message: /guest mem\/win1 needs 4096 MiB and no pool member has that free \(at most 2048 MiB\)/ });
  t.same(leftovers(pool.srv), [], 'nothing left after no host had the memory');
  await host.close();
});

t.test('a clean unplug of the disk Windows holds: refused the way xapi refuses it, said plainly', async (t) => {
  const { pool, host, guest: g } = await poolWithGuest(t, 'unplug', { pool: { guests: 1 } });
  await host.agent(g).installDrivers({ location: makeBundle('9.1.0', 156), version: '9.1.0.156', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'] });
  await host.rebootGuest(g);
  const e = await rejects(host.backendControl!.restartBackend(g, 'vbd/768'));
  t.match(e, { code: 'XAPI_DEVICE_DETACH_REJECTED', message: /win1 refused to give up vbd\/768 \(Windows holds it/ });
  await host.backendControl!.restartBackend(g, 'vbd/832');
  t.equal(pool.srv.pool.get((pool.srv.pool.get(g.handle).VBDs as string[]).find((b) => pool.srv.pool.get(b).userdevice === '1')).currently_attached, true, 'a data disk restarts (unplug, plug)');
  await host.close();
});
