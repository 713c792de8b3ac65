// Finding a guest before any Xen driver runs, the ways a host entry names in order, and the doubles
// as strict as a pool: guest metrics name an address only once the PV drivers and the guest agent
// run; dom0's neighbour table learns a MAC only after the guest's lease and traffic, and forgets a
// halted guest's confirmation; the test network's DHCP leases in dom0 are a second way. Also each
// reboot of a driver install as its own traced event (reason, duration), bounded by maxInstallReboots.
import t from 'tap';
import { poolWithGuest, makeBundle, shape, leftovers, rejects, XAPI_PW } from '../../support/xapi-pool';
import { parseLeases } from '../../../src/hosts/xapi/guest-address';
import { xapiConfigFrom } from '../../../src/hosts/xapi/config';
import { resolveHost } from '../../../src/cli/config';
import { SshConnection } from '../../../src/remote/ssh';
import { sshTarget } from '../../../src/hosts/xapi/config';
import { metricsOf } from '../../../src/model/metrics';
import type { TraceEvent } from '../../../src/model/trace';

const logs = (events: { ev: string }[]) => events.filter((e): e is { ev: 'log'; msg: string } => e.ev === 'log').map((e) => e.msg);
const guestEvents = (events: TraceEvent[], what: string) => events.filter((e): e is Extract<TraceEvent, { ev: 'guest' }> => e.ev === 'guest' && e.what === what);
const DRIVERS = ['xenbus', 'xenvif', 'xennet', 'xenvbd'] as const;

t.test('DHCP lease files: dnsmasq and ISC dhcpd, expired and inactive leases do not count', async (t) => {
  const mac = '02:aa:bb:cc:dd:ee';
  const now = 1_800_000_000;
  t.equal(parseLeases(`${now - 5} ${mac} 10.0.0.5 win *\n${now + 600} 02:aa:bb:cc:dd:ef 10.0.0.6 x *\n`, mac, now), undefined, 'dnsmasq: expired');
  t.equal(parseLeases(`${now + 600} ${mac.toUpperCase()} 10.0.0.7 WIN-1 01:${mac}\n`, mac, now), '10.0.0.7', 'dnsmasq: current');
  t.equal(parseLeases(`0 ${mac} 10.0.0.8 * *\n`, mac, now), '10.0.0.8', 'dnsmasq: 0 is an infinite lease');
  const isc = `lease 10.0.0.9 {\n  starts 4 2026/12/03 10:00:00;\n  binding state free;\n  hardware ethernet ${mac};\n}\nlease 10.0.0.10 {\n  binding state active;\n  next binding state free;\n  hardware ethernet ${mac};\n}\n`;
  t.equal(parseLeases(isc, mac, now), '10.0.0.10', 'ISC: the active lease (next binding state is not the state)');
  t.equal(parseLeases(isc.replace('binding state active;', 'binding state expired;'), mac, now), undefined, 'ISC: none active');
});

t.test('the neighbour table learns the MAC only after lease and traffic, and a halted guest\'s entry goes STALE, then FAILED', async (t) => {
  const { pool, host, guest: g } = await poolWithGuest(t, 'neigh', { pool: { guests: 1, trafficDelayMs: 3000 }, configure: (pool) => { pool.cfg.discovery = ['dom0-neighbour']; } });
  const asks = pool.dom0!.ssh.commands.filter((c) => c === 'ip -4 neigh show').length;
  t.ok(asks >= 2, `dom0 was asked ${asks} times: the first answers came before the guest had sent anything`);
  t.match(guestEvents(pool.events, 'started')[0], { detail: { address: '127.0.0.2', foundBy: 'dom0-neighbour' } }, 'the guest\'s started event says where and how it was found (the report shows it)');
  const mac = String(pool.srv.pool.get((pool.srv.pool.get(g.handle).VIFs as string[])[0]).MAC);
  await host.shutdownGuest(g, 'hard');
  const dom0 = await SshConnection.connect(sshTarget(pool.cfg.dom0!, '127.0.0.1'), { timeoutMs: 20_000 });
  t.teardown(() => dom0.close());
  t.match((await dom0.exec(['ip', '-4', 'neigh', 'show'])).stdout, `127.0.0.2 dev xenbr0 lladdr ${mac} STALE`, 'halted: STALE, the old address kept');
  pool.dom0!.faults.staleMs = 0;
  const failed = (await dom0.exec(['ip', '-4', 'neigh', 'show'])).stdout;
  t.match(failed, '127.0.0.2 dev xenbr0  FAILED', 'probed without an answer: FAILED, no lladdr');
  t.notMatch(failed, mac);
  await host.close();
  t.same(leftovers(pool.srv), []);
});

t.test('a STALE entry from the previous boot is not taken for the guest: found again only once it talks', async (t) => {
  const { pool, host, guest: g } = await poolWithGuest(t, 'stale', { pool: { guests: 1 }, configure: (pool) => { pool.cfg.discovery = ['dom0-neighbour']; pool.cfg.timeouts.bootMs = 2500; } });
  await host.shutdownGuest(g, 'hard');
  pool.dom0!.faults.silentGuests = false;
  // the next boot never talks: only last boot's STALE entry is there
  pool.srv.pool.opts.trafficDelayMs = 60_000;
  const e = await rejects(host.startGuest(g));
  t.equal(e.code, 'XAPI_GUEST_NOT_FOUND', 'the STALE entry was not taken');
  await host.close();
});

t.test('dhcp-leases: the test network\'s DHCP server in dom0 finds a guest that dom0 never heard', async (t) => {
  const { pool, host, guest: g } = await poolWithGuest(t, 'dhcp', { pool: { guests: 1 }, configure: (pool) => { pool.dom0!.faults.silentGuests = true; pool.dom0!.faults.dhcpInDom0 = true; pool.cfg.discovery = ['guest-metrics', 'dom0-neighbour', 'dhcp-leases']; pool.cfg.dhcpLeaseFile = '/var/lib/misc/dnsmasq.leases'; } });
  const mac = String(pool.srv.pool.get((pool.srv.pool.get(g.handle).VIFs as string[])[0]).MAC);
  t.ok(logs(pool.events).includes(`win1 found at 127.0.0.2 by the test network's DHCP leases in dom0 (MAC ${mac})`), 'the trace says which way found it');
  t.match(guestEvents(pool.events, 'started')[0], { detail: { foundBy: 'dhcp-leases' } });
  t.ok(pool.dom0!.ssh.commands.includes('cat /var/lib/misc/dnsmasq.leases'));
  t.same((await host.agent(g).driverStatus()).bound, [], 'and the guest answers at that address');
  await host.close();
  t.same(leftovers(pool.srv), []);
});

t.test('no way finds the guest: a host error naming every way tried, in order, nothing left', async (t) => {
  // the guest stays silent and dnsmasq does not run in dom0: no lease file
  const { pool, host, guest: g } = await poolWithGuest(t, 'lost', { pool: { guests: 1 }, configure: (pool) => { pool.dom0!.faults.silentGuests = true; pool.cfg.discovery = ['dom0-neighbour', 'dhcp-leases', 'guest-metrics']; pool.cfg.dhcpLeaseFile = '/var/lib/misc/dnsmasq.leases'; pool.cfg.timeouts.bootMs = 1500; }, start: false });
  const e = await rejects(host.startGuest(g));
  t.equal(e.code, 'XAPI_GUEST_NOT_FOUND');
  t.equal(e.kind, 'host');
  t.match(e.message, /tried, in order: dom0's neighbour table: no entry for MAC [0-9a-f:]{17}; the test network's DHCP leases in dom0: no entry for MAC [0-9a-f:]{17} in \/var\/lib\/misc\/dnsmasq\.leases; its guest agent \(VM_guest_metrics\.networks\): no address/);
  await host.close();
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
});

t.test('the host entry says which ways, in order; a way this host cannot use is refused as bad input', async (t) => {
  const env = { POOL_PW: XAPI_PW };
  const cfg = (entry: Record<string, unknown>) => xapiConfigFrom(resolveHost('pool', { hosts: { pool: { url: 'xapi://root@pool.example', passwordEnv: 'POOL_PW', ...entry } } }, env));
  t.same(cfg({}).discovery, ['guest-metrics', 'dom0-neighbour'], 'default: agent, then the neighbour table');
  t.same(cfg({ dhcpLeaseFile: '/var/lib/misc/dnsmasq.leases' }).discovery, ['guest-metrics', 'dom0-neighbour', 'dhcp-leases'], 'with a lease file, the leases too');
  t.same(cfg({ dom0Ssh: false }).discovery, ['guest-metrics'], 'without dom0 only the agent');
  t.same(cfg({ guestDiscovery: ['dhcp-leases', 'guest-metrics'], dhcpLeaseFile: '/l' }).discovery, ['dhcp-leases', 'guest-metrics']);
  t.throws(() => cfg({ guestDiscovery: ['arp'] }), { code: 'CONFIG_INVALID', message: /names 'arp', which is none of guest-metrics, dom0-neighbour, dhcp-leases/ });
  t.throws(() => cfg({ guestDiscovery: ['dhcp-leases'] }), { code: 'CONFIG_INVALID', message: /needs dhcpLeaseFile/ });
  t.throws(() => cfg({ guestDiscovery: ['dom0-neighbour'], dom0Ssh: false }), { code: 'CONFIG_INVALID', message: /reads dom0, and dom0Ssh is false/ });
  t.equal(cfg({}).maxInstallReboots, 4);
  t.equal(cfg({ maxInstallReboots: 6 }).maxInstallReboots, 6);
  t.throws(() => cfg({ maxInstallReboots: 0 }), { code: 'CONFIG_INVALID', message: /maxInstallReboots must be a whole number from 1 to 20/ });
});

t.test('driver install reboots: each its own event with reason and duration, summed by the results store; the limit is the host entry\'s', async (t) => {
  const { pool, host, guest: g } = await poolWithGuest(t, 'reboots', { pool: { guests: 1 } });
  await host.agent(g).installDrivers({ location: makeBundle('9.1.0', 156), version: '9.1.0.156', drivers: [...DRIVERS] });
  await host.rebootGuest(g);
  const reboots = guestEvents(pool.events, 'install-reboot');
  t.same(reboots.map((e) => e.detail?.n), [1, 2], 'xenbus first, then the restart the children asked for');
  t.match(reboots[0]!.detail, { reason: /pending PnP restart \(pnputil: xenbus\)/, ms: Number, foundBy: 'dom0-neighbour' }, 'the install\'s own reboot: why, how long');
  t.match(reboots[1]!.detail, { reason: /emulated-device unplug \(XENBUS\\VEN_XP0001&DEV_(VIF|VBD)/, ms: Number });
  t.ok(logs(pool.events).some((m) => /win1: driver install finished: PV drivers 9\.1\.0\.156 reported by the guest agent/.test(m)), 'with xeniface installed alongside, the agent reports the drivers');
  const stamped = pool.events.map((e, i) => ({ ...e, t: i })) as TraceEvent[];
  const sum = reboots.reduce((a, e) => a + Number(e.detail!.ms), 0);
  t.match(metricsOf(stamped).find((m) => m.name === 'time.install-reboot'), { value: sum, unit: 'ms', better: 'lower' }, 'the results store sums the install reboots');

  // a driver that asks for a restart at every boot: the loop stops at the host entry's limit
  const g2 = await (async () => {
    await host.destroyGuest(g);
    const x = await host.createGuest(shape('win1'), 'loop');
    await host.startGuest(x);
    return x;
  })();
  pool.cfg.maxInstallReboots = 3;
  pool.doubles[0]!.state.stuckRestart = 'xenvif';
  await host.agent(g2).installDrivers({ location: makeBundle('9.1.0', 156), version: '9.1.0.156', drivers: [...DRIVERS] });
  const e = await rejects(host.rebootGuest(g2));
  t.equal(e.code, 'GUEST_REBOOT_LOOP');
  t.match(e.message, /still asks for a restart after 3 reboots of the driver install \(emulated-device unplug .*\); .*maxInstallReboots in the host entry/);
  t.equal(guestEvents(pool.events, 'install-reboot').filter((x) => x.inst === 'loop').length, 3, 'three reboots, each traced');
  await host.close();
  t.same(leftovers(pool.srv), []);
});
