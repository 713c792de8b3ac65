import t from 'tap';
import { RESTART_BACKEND_SCRIPT, XlHost } from '../../../src/hosts/xl/xl-host';
import { FAULTS, type FaultName } from '../../../src/model/catalog';
import type { HostNeeds } from '../../../src/model/host';
import type { DeviceRef, GuestShape } from '../../../src/model/scenario';
import type { TraceEventInput } from '../../../src/model/trace';
import { FakeDom0 } from './fake-dom0';

const shape: GuestShape = {
  name: 'g1', os: 'linux', vcpus: 1, memoryMiB: 128,
  vbds: [{ vdev: 'xvda', sizeMiB: 64, mode: 'w', backend: { 'max-ring-page-order': '0' } }],
  vifs: [{ devid: 0, backend: {} }],
};

async function open() {
  const fake = new FakeDom0();
  const events: TraceEventInput[] = [];
  const host = new XlHost({ label: 'fake', connect: async () => fake });
  await host.open({ emit: (e) => events.push(e) }, { seed: 1 });
  return { fake, host, events };
}

t.test('destroy: a domain that went away on its own after xl domid, or that xl built again, still has its disks released; one still there keeps them and fails', async (t) => {
  const { fake, host } = await open();
  const g = await host.createGuest(shape, 'inst1');
  await host.startGuest(g);
  // the guest's own poweroff ends the domain between `xl domid` and `xl destroy`, as on the lab
  const exec = fake.exec.bind(fake);
  fake.exec = async (argv, opts) => {
    if (argv[0] === 'xl' && argv[1] === 'destroy') fake.domains.delete(g.handle);
    return exec(argv, opts);
  };
  await host.destroyGuest(g);
  t.equal(fake.loops.size, 0, 'loop device released');
  t.notOk(fake.files.has('/var/lib/winpv/run/winpv-inst1-g1.cfg'), 'config removed');
  // xl's own restart of a domain that was rebooting: the old domain gone when xl destroy looks, the
  // new one under the name a moment later
  const g3 = await host.createGuest({ ...shape, name: 'g3' }, 'inst3');
  await host.startGuest(g3);
  let restarts = 0;
  const config = fake.domains.get(g3.handle)!.config;
  fake.exec = async (argv, opts) => {
    if (argv[0] === 'xl' && argv[1] === 'destroy' && restarts++ === 0) {
      fake.domains.delete(g3.handle);
      const r = await exec(argv, opts);
      fake.domains.set(g3.handle, { name: g3.handle, domid: 77, state: 'r-----', config }); // xl restarts it from its config
      return r;
    }
    return exec(argv, opts);
  };
  await host.destroyGuest(g3);
  t.equal(fake.domains.has(g3.handle), false, 'the restarted domain destroyed too');
  t.equal(fake.loops.size, 0, 'and its disks released');
  // xl destroy refused while the domain stays: its disks are its own still
  const g2 = await host.createGuest({ ...shape, name: 'g2' }, 'inst2');
  fake.exec = async (argv, opts) => (argv[0] === 'xl' && argv[1] === 'destroy' ? { code: 1, stdout: '', stderr: 'libxl: error: cannot destroy\n' } : exec(argv, opts));
  await t.rejects(host.destroyGuest(g2), { code: 'XL_COMMAND', message: new RegExp(`xl destroy ${g2.domid} failed.*cannot destroy`) }, 'given up after three tries');
  t.equal(fake.loops.size, 1, 'its loop device kept');
  await host.close();
});

t.test('destroy: a domain left nameless by xl\'s monitor stopped mid-destroy is found by its UUID and destroyed', async (t) => {
  const { fake, host } = await open();
  const g = await host.createGuest(shape, 'inst1');
  await host.startGuest(g);
  t.match(fake.files.get(`/var/lib/winpv/run/${g.handle}.cfg`)!, /^uuid = "[0-9a-f-]{36}"$/m, 'the config gives the domain its UUID');
  // the guest powered off; xl's monitor began on_poweroff="destroy" and the teardown stopped it
  fake.stopMonitorMidDestroy(g.handle);
  await host.destroyGuest(g);
  t.same([...fake.domains.values()].map((d) => `${d.name}/${d.domid}`), [], 'no (null) domain left holding the guest\'s memory');
  t.ok(fake.lines.some((l) => l === `xl destroy ${g.domid}`), 'destroyed by its domid');
  t.equal(fake.loops.size, 0, 'its loop device released');
  // another guest's domain is never taken for this one
  const other = await host.createGuest({ ...shape, name: 'g2' }, 'inst2');
  const mine = await host.createGuest({ ...shape, name: 'g3' }, 'inst3');
  fake.stopMonitorMidDestroy(other.handle);
  await host.destroyGuest(mine);
  t.same([...fake.domains.values()].map((d) => d.domid), [other.domid], 'the other guest\'s nameless domain stays');
  await host.close();
});

t.test('destroy: the monitor\'s stop and the listing are one dom0 command, the last destroy and the release another; a refused destroy before the last keeps the disks', async (t) => {
  const { fake, host } = await open();
  const g = await host.createGuest(shape, 'inst1');
  await host.startGuest(g);
  const n0 = fake.lines.length;
  await host.destroyGuest(g);
  // each command sent is an SSH session and a shell in dom0 (0.3-0.4 s on the lab under TCG);
  // fake.lines also shows the xl each script runs, as `xl ...` lines of their own
  const teardown = fake.lines.slice(n0).filter((l) => /pkill|xl (list|destroy)|losetup/.test(l) && !l.startsWith('xl '));
  t.equal(teardown.length, 2, `two commands: ${teardown.join(' ; ')}`);
  t.match(teardown[0], /pkill .*xl list -v/);
  t.match(teardown[1], /xl destroy .*losetup --detach/);
  t.equal(fake.loops.size, 0, 'released');
  // two domains with the guest's UUID (the old one and xl's rebuilt one); the first refuses
  const g2 = await host.createGuest({ ...shape, name: 'g2' }, 'inst2');
  await host.startGuest(g2);
  const d = fake.domains.get(g2.handle)!;
  fake.domains.set('(null)#90', { ...d, name: '(null)', domid: 90, state: '--ps--' });
  const exec = fake.exec.bind(fake);
  fake.exec = async (argv, opts) => (argv[0] === 'xl' && argv[1] === 'destroy' && argv[2] === String(Math.min(90, d.domid)) ? { code: 1, stdout: '', stderr: 'libxl: error: cannot destroy\n' } : exec(argv, opts));
  await t.rejects(host.destroyGuest(g2), { code: 'XL_COMMAND' });
  t.equal(fake.loops.size, 1, 'the disk of a domain still there is not released');
  await host.close();
});

t.test('create paused from a generated config, backend overrides before unpause, destroy idempotent', async (t) => {
  const { fake, host, events } = await open();
  const g = await host.createGuest(shape, 'inst1');
  t.equal(g.handle, 'winpv-inst1-g1');
  t.equal(await host.powerState(g), 'paused');
  const cfg = fake.files.get('/var/lib/winpv/run/winpv-inst1-g1.cfg')!;
  t.match(cfg, /on_crash = "preserve"/);
  t.match(cfg, /target=\/dev\/loop0"/, 'the disk is a loop device set up by the backend, not by the hotplug script');
  const create = fake.lines.findIndex((l) => l.startsWith('xl create -p'));
  const override = fake.lines.findIndex((l) => l.includes('max-ring-page-order'));
  t.ok(create >= 0 && override > create, 'override written after the paused create');
  t.equal(fake.xs.get(`/local/domain/0/backend/vbd/${g.domid}/51712/max-ring-page-order`), '0');
  await host.startGuest(g);
  t.equal(await host.powerState(g), 'running');
  t.same(await host.devices(g), ['vbd/51712', 'vif/0']);
  await host.destroyGuest(g);
  await host.destroyGuest(g);
  t.equal(await host.powerState(g), 'gone');
  t.equal(fake.loops.size, 0, 'loop devices released');
  t.notOk(fake.files.has('/var/lib/winpv/run/winpv-inst1-g1.cfg'), 'its config removed');
  t.same(events.map((e) => (e as { what: string }).what), ['created', 'started', 'destroyed']);
  await host.close();
});

t.test('VIF MACs: derived per run, instance, guest and device (never libxl\'s random pick, never the scenario\'s fixed one shared by every run on the bridge)', async (t) => {
  const fixed: GuestShape = { ...shape, vifs: [{ devid: 0, mac: '00:16:3e:00:00:01', backend: {} }, { devid: 1, backend: {} }] };
  const macs: string[] = [];
  for (const runId of ['run-a', 'run-b']) {
    const fake = new FakeDom0();
    const events: TraceEventInput[] = [];
    const host = new XlHost({ label: 'fake', connect: async () => fake, runId });
    await host.open({ emit: (e) => events.push(e) }, { seed: 1 });
    const g = await host.createGuest(fixed, 'inst1');
    const cfg = fake.files.get('/var/lib/winpv/run/winpv-inst1-g1.cfg')!;
    const vifMacs = [...cfg.matchAll(/devid=(\d+),(?:script=[^,"]*,)?mac=([0-9a-f:]{17})/g)].map((m) => m[2]!);
    t.equal(vifMacs.length, 2, `${runId}: every VIF gets a MAC in the config`);
    for (const m of vifMacs) t.equal(parseInt(m.slice(0, 2), 16) & 3, 2, `${m}: locally administered unicast`);
    t.equal(fake.xs.get(`/local/domain/${g.domid}/device/vif/0/mac`), vifMacs[0], 'the frontend sees the MAC the config gave');
    t.ok(events.some((e) => e.ev === 'log' && /instead of the scenario's 00:16:3e:00:00:01/.test(e.msg)), 'the replaced fixed MAC is said in the trace');
    await host.hotplug!.attachVif(g, { devid: 2, backend: {} });
    const attach = fake.lines.find((l) => l.startsWith('xl network-attach'));
    t.match(attach, /mac=[0-9a-f:]{17}/, 'a hot-plugged VIF gets one too');
    macs.push(...vifMacs);
    await host.destroyGuest(g);
    await host.close();
  }
  t.equal(new Set(macs).size, 4, 'two runs on one bridge: no MAC shared');
});

t.test('a crashed domain (preserved by on_crash) is reported as crashed', async (t) => {
  const { fake, host } = await open();
  const g = await host.createGuest(shape, 'c');
  fake.domains.get(g.handle)!.state = '----c-';
  t.equal(await host.powerState(g), 'crashed');
});

t.test('the backend forced to Closing is a xenstore write of state 5 in the backend directory', async (t) => {
  const { fake, host } = await open();
  const g = await host.createGuest(shape, 'b');
  await host.backendControl.forceBackendState(g, 'vbd/51712', 5);
  t.equal(fake.xs.get(`/local/domain/0/backend/vbd/${g.domid}/51712/state`), '5');
  // written where the frontend's backend key points (a tapdisk3 disk: backend/vbd3), never at a guessed path
  fake.setKey(`/local/domain/${g.domid}/device/vbd/51728/backend`, `/local/domain/0/backend/vbd3/${g.domid}/51728`);
  fake.setKey(`/local/domain/0/backend/vbd3/${g.domid}/51728/state`, '4');
  await host.backendControl.forceBackendState(g, 'vbd/51728', 5);
  t.equal(fake.xs.get(`/local/domain/0/backend/vbd3/${g.domid}/51728/state`), '5');
  t.equal(fake.xs.get(`/local/domain/0/backend/vbd/${g.domid}/51728/state`), undefined, 'no stray backend/vbd node');
  await t.rejects(host.backendControl.forceBackendState(g, 'vbd/51744', 5), { code: 'XL_NO_DEVICE' });
  t.ok((await host.devices(g)).includes('vbd/51728'), 'a vbd3 backend is one of the guest\'s disks');
  // a surprise unplug removes the backend directory the frontend names, vbd3 included
  await host.hotplug.detach(g, 'vbd/51728', { surprise: true });
  t.equal(fake.xs.get(`/local/domain/0/backend/vbd3/${g.domid}/51728/state`), undefined, 'the vbd3 backend directory went');
  t.equal(fake.xs.get(`/local/domain/0/backend/vbd/${g.domid}/51712/state`), '5', 'the other disk is untouched');
});

t.test('a failing xl command is a host error naming it; a dropped connection fails what follows', async (t) => {
  const { fake, host } = await open();
  fake.files.set('/var/lib/winpv/run/x.cfg', 'garbage');
  const g = await host.createGuest(shape, 'd');
  fake.domains.delete(g.handle);
  await t.rejects(host.startGuest(g), { code: 'XL_COMMAND', message: /xl unpause/ });
  fake.drop();
  await t.rejects(host.powerState(g), { code: 'SSH_DROPPED' });
});

t.test('a host without xl is refused at open', async (t) => {
  const fake = new FakeDom0();
  fake.other = () => ({ code: 127, stdout: '', stderr: 'xl: not found' });
  const orig = fake.exec.bind(fake);
  fake.exec = async (argv) => (argv[0] === 'xl' ? { code: 127, stdout: '', stderr: 'xl: not found' } : orig(argv));
  const host = new XlHost({ label: 'nox', connect: async () => fake });
  await t.rejects(host.open({ emit: () => undefined }, { seed: 1 }), { code: 'XL_UNAVAILABLE' });
});

t.test('a Windows (HVM image) guest has no Linux agent', async (t) => {
  const { host } = await open();
  const g = await host.createGuest({ ...shape, os: 'windows', image: '/img/w.raw' }, 'w');
  t.throws(() => host.agent(g), { code: 'NOT_SUPPORTED', kind: 'guest' }, 'the scenario fails, the run goes on');
});

t.test('an HVM guest from a user image: the image goes behind a loop device (released at destroy, the file kept); a Linux image gets the console agent', async (t) => {
  const { fake, host } = await open();
  const g = await host.createGuest({ ...shape, image: '/var/lib/winpv-lab/guest/linux-hvm.img' }, 'hvm');
  const cfg = fake.files.get(`/var/lib/winpv/run/${g.handle}.cfg`)!;
  t.match(cfg, /^type = "hvm"$/m);
  t.match(cfg, /vdev=xvda,access=rw,script=\/var\/lib\/winpv\/run\/block-phy,target=\/dev\/loop0"/, 'the boot disk is the image through a loop device');
  t.equal(fake.loops.get('/dev/loop0'), '/var/lib/winpv-lab/guest/linux-hvm.img');
  t.ok(host.agent(g), 'a Linux HVM guest runs the console agent');
  await host.destroyGuest(g);
  t.equal(fake.loops.size, 0, 'loop released');
  t.notOk(fake.lines.some((l) => l.startsWith('rm ') && l.includes('linux-hvm.img')), 'the user image itself is not removed');
  const orig = fake.exec.bind(fake);
  fake.exec = async (argv) => (argv[0] === 'test' && argv.includes('/nope.img') ? { code: 1, stdout: '', stderr: '' } : orig(argv));
  await t.rejects(host.createGuest({ ...shape, image: '/nope.img' }, 'x'), { code: 'XL_NO_IMAGE', message: /\/nope.img is not a readable file in dom0/ });
});

t.test('the final blkback counters go into the trace when a guest is destroyed', async (t) => {
  const { fake, host, events } = await open();
  fake.other = (a) => (a[0] === 'grep' && a[3]?.includes('/vbd-') ? { code: 0, stdout: `${a[3]}/rd_req:3\n${a[3]}/wr_req:512\n`, stderr: '' } : { code: 1, stdout: '', stderr: '' });
  const g = await host.createGuest(shape, 's');
  await host.destroyGuest(g);
  const stats = events.filter((e) => e.ev === 'backend.stats');
  t.same(stats.map((e) => (e as { dev: string; stats: unknown }).stats), [{ rd_req: 3, wr_req: 512 }]);
  t.equal((stats[0] as { dev: string }).dev, 'vbd/51712');
});

t.test('faults real Xen can have: backend forced to Closing, surprise removal; the rest refused', async (t) => {
  const { fake, host, events } = await open();
  const g = await host.createGuest(shape, 'f');
  await host.faults.inject({ name: 'backend-closing', params: {} }, g);
  t.equal(fake.xs.get(`/local/domain/0/backend/vbd/${g.domid}/51712/state`), '5');
  await host.faults.inject({ name: 'surprise-unplug', device: 'vif/0', params: {} }, g);
  t.equal(fake.xs.get(`/local/domain/0/backend/vif/${g.domid}/0/state`), undefined, 'backend directory removed');
  await t.rejects(host.faults.inject({ name: 'missed-notify', params: {} }, g), { code: 'NOT_SUPPORTED' });
  t.same(events.filter((e) => e.ev === 'fault').map((e) => (e as { name: string }).name), ['backend-closing', 'surprise-unplug']);
});

const guestEvents = (events: TraceEventInput[]) => events.filter((e) => e.ev === 'guest').map((e) => (e as { what: string }).what);

t.test('guest-crash on a running Linux guest whose agent is busy or not up: xl sysrq c, the guest kernel panics, crash detection reports it', async (t) => {
  const { fake, host, events } = await open();
  const g = await host.createGuest(shape, 'k');
  await host.startGuest(g);
  await host.faults.inject({ name: 'guest-crash', params: {} }, g);
  t.ok(fake.lines.includes(`xl sysrq ${g.handle} c`), 'the panic is asked of the guest kernel');
  t.notOk(fake.lines.some((l) => l.startsWith('xl destroy')), 'the domain is not destroyed by the fault');
  const fault = events.find((e) => e.ev === 'fault') as unknown as { detail: { how: string } };
  t.match(fault.detail.how, /xl sysrq c/);
  t.same(guestEvents(events), ['created', 'started', 'crashed'], 'crashed is in the trace when inject returns');
  t.same((events.find((e) => e.ev === 'guest' && e.what === 'crashed') as { detail: unknown }).detail, { flags: '---sc-' });
  t.equal(await host.powerState(g), 'crashed', 'preserved by on_crash, listed as crashed');
  await host.destroyGuest(g);
  t.equal(fake.domains.size, 0, 'teardown destroys the preserved domain');
  t.same(guestEvents(events), ['created', 'started', 'crashed', 'destroyed'], 'reported once; our own destroy is not a crash');
});

t.test('guest-crash on a guest with no agent (an HVM user image) falls back to xl destroy and says so; detection reports it', async (t) => {
  const { fake, host, events } = await open();
  const g = await host.createGuest({ ...shape, os: 'windows', image: '/img/w.raw' }, 'h');
  await host.startGuest(g);
  await host.faults.inject({ name: 'guest-crash', params: {} }, g);
  t.ok(fake.lines.includes(`xl destroy ${g.handle}`));
  t.match((events.find((e) => e.ev === 'fault') as unknown as { detail: { how: string } }).detail.how, /no agent.*fallback/);
  t.same(guestEvents(events), ['created', 'started', 'halted-unexpectedly']);
});

t.test('guest-crash before the guest runs: the panic waits in control/sysrq, the fault does not wait for it', async (t) => {
  const { fake, host, events } = await open();
  const g = await host.createGuest(shape, 'p');
  await host.faults.inject({ name: 'guest-crash', params: {} }, g);
  t.ok(fake.lines.includes(`xl sysrq ${g.handle} c`));
  t.same(guestEvents(events), ['created']);
});

t.test('a guest kernel that ignores the panic request fails the fault with GUEST_NO_CRASH (not a silent pass)', async (t) => {
  const fake = new FakeDom0();
  const host = new XlHost({ label: 'fake', connect: async () => fake, crashDetectMs: 50 });
  await host.open({ emit: () => undefined }, { seed: 1 });
  const g = await host.createGuest(shape, 'n');
  await host.startGuest(g);
  const orig = fake.exec.bind(fake);
  fake.exec = async (argv) => (argv[0] === 'xl' && argv[1] === 'sysrq' ? { code: 0, stdout: '', stderr: '' } : orig(argv));
  await t.rejects(host.faults.inject({ name: 'guest-crash', params: {} }, g), { code: 'GUEST_NO_CRASH', message: /still running/ });
});

t.test('crash detection: a guest that crashes on its own is reported once on @releaseDomain; a destroy of ours is not a crash', async (t) => {
  const { fake, host, events } = await open();
  const g = await host.createGuest(shape, 'd');
  await host.startGuest(g);
  fake.releaseDomain(); // some other domain went away: nothing to report
  await new Promise((r) => setTimeout(r, 20));
  t.same(guestEvents(events), ['created', 'started']);
  fake.domains.get(g.handle)!.state = '---sc-';
  fake.releaseDomain();
  fake.releaseDomain();
  for (let i = 0; i < 50 && !guestEvents(events).includes('crashed'); i++) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  t.same(guestEvents(events), ['created', 'started', 'crashed'], 'reported once');
  const other = await host.createGuest(shape, 'e');
  await host.startGuest(other);
  await host.destroyGuest(other);
  await new Promise((r) => setTimeout(r, 20));
  t.same(guestEvents(events).slice(3), ['created', 'started', 'destroyed'], 'a destroy of ours is no halted-unexpectedly');
});

t.test('crash detection: an xl list taken while our own reboot ran is stale, not a guest that went away', async (t) => {
  const { fake, host, events } = await open();
  const g = await host.createGuest(shape, 's');
  await host.startGuest(g);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let listing = false;
  const orig = fake.exec.bind(fake);
  fake.exec = async (argv) => {
    if (argv.join(' ') !== 'xl list') return orig(argv);
    listing = true;
    await gate; // answered after the reboot, with what dom0 saw in the middle of it: the guest absent
    return { code: 0, stdout: 'Name  ID   Mem VCPUs\tState\tTime(s)\nDomain-0   0  1536     2     r-----     9.0\n', stderr: '' };
  };
  fake.other = (a) => {
    if (a[1] === 'reboot') fake.domains.set(g.handle, { name: g.handle, domid: 42, state: 'r-----' });
    return { code: 0, stdout: '', stderr: '' };
  };
  fake.releaseDomain();
  while (!listing) await new Promise((r) => setImmediate(r));
  await host.rebootGuest(g);
  t.equal(g.domid, 42);
  release();
  await new Promise((r) => setTimeout(r, 20));
  t.same(guestEvents(events), ['created', 'started', 'rebooted'], 'no halted-unexpectedly from the stale listing');
});

t.test('reboot: xl reboot -w returns with the old domain gone; the new one, built later by xl, is waited for', async (t) => {
  const { fake, host, events } = await open();
  const g = await host.createGuest(shape, 'rb');
  await host.startGuest(g);
  fake.other = (a) => {
    if (a[1] === 'reboot') {
      fake.domains.delete(g.handle);
      fake.releaseDomain();
      setTimeout(() => fake.domains.set(g.handle, { name: g.handle, domid: 77, state: 'r-----' }), 1500);
    }
    return { code: 0, stdout: '', stderr: '' };
  };
  await host.rebootGuest(g);
  t.equal(g.domid, 77, 'the guest under its new domid');
  await new Promise((r) => setTimeout(r, 20));
  t.same(guestEvents(events), ['created', 'started', 'rebooted'], 'the gap between the two domains is not a halt');
});

t.test('reboot: a guest whose new domain never comes is a guest error, not a hang', async (t) => {
  const fake = new FakeDom0();
  const host = new XlHost({ label: 'fake', connect: async () => fake, rebuildMs: 10 });
  await host.open({ emit: () => undefined }, { seed: 1 });
  const g = await host.createGuest(shape, 'rn');
  await host.startGuest(g);
  fake.other = (a) => {
    if (a[1] === 'reboot') fake.domains.delete(g.handle);
    return { code: 0, stdout: '', stderr: '' };
  };
  await t.rejects(host.rebootGuest(g), { code: 'GUEST_NOT_REBOOTED' });
});

t.test('backend-restart: the backend device is unbound from its driver and bound again through sysfs', async (t) => {
  const { fake, host, events } = await open();
  const g = await host.createGuest(shape, 'r');
  const seen: string[][] = [];
  fake.other = (a) => {
    if (a[0] === 'sh' && a[2]?.includes('xen-backend')) {
      seen.push(a.slice(4));
      return a[4] === `vbd-${g.domid}-51712` ? { code: 0, stdout: 'vbd\n', stderr: '' } : { code: 1, stdout: '', stderr: `no backend device ${a[4]} bound to a driver in /sys/bus/xen-backend` };
    }
    return { code: 127, stdout: '', stderr: '' };
  };
  await host.backendControl.restartBackend(g, 'vbd/51712');
  t.same(seen, [[`vbd-${g.domid}-51712`, `/local/domain/0/backend/vbd/${g.domid}/51712`, '']], 'device name and backend path are arguments, not spliced into the script');
  t.match(RESTART_BACKEND_SCRIPT, /unbind"\n[^\n]*\/bind"/, "unbind, then bind");
  t.match((events.find((e) => e.ev === 'log') as { msg: string }).msg, /backend vbd-\d+-51712 unbound from vbd and bound again/);
  await t.rejects(host.backendControl.restartBackend(g, 'vif/0'), { code: 'XL_COMMAND', message: /no backend device vif-\d+-0/ });
  t.same(seen[1], [`vif-${g.domid}-0`, `/local/domain/0/backend/vif/${g.domid}/0`, `vif${g.domid}.0`], 'a vif restart names the netdev its hotplug script brings up');
  await t.rejects(host.backendControl.restartBackend(g, 'vif/3'), { code: 'XL_NO_DEVICE', message: /no backend for vif\/3/ }, 'a device without a backend');
  t.equal(seen.length, 2, '... is refused before anything runs in dom0');
  // a disk served by tapdisk3 (backend/vbd3) or QEMU (qdisk) has no kernel driver to rebind
  fake.setKey(`/local/domain/${g.domid}/device/vbd/51728/backend`, `/local/domain/0/backend/vbd3/${g.domid}/51728`);
  await t.rejects(host.backendControl.restartBackend(g, 'vbd/51728'), { code: 'UNSUPPORTED', message: /its backend is vbd3 .* no kernel driver/ });
  t.equal(seen.length, 2, 'nothing was written to a sysfs node that does not exist');
  t.equal(host.backendControl.restartKind, 'rebind');
  t.match(RESTART_BACKEND_SCRIPT, /"\$script" online type_if=vif/, 'netback connects only after the hotplug script ran: it is run as libxl runs it');
  await t.rejects(host.backendControl.restartBackend(g, 'vbd/51712; reboot' as DeviceRef), { code: 'XL_NO_DEVICE' });
});

t.test('faults.supported says exactly which faults inject() accepts (the planner skips the others)', async (t) => {
  const { host } = await open();
  t.same([...host.faults.supported!].sort(), ['backend-closing', 'guest-crash', 'surprise-unplug']);
  for (const name of Object.keys(FAULTS) as FaultName[]) {
    if (host.faults.supported!.has(name)) continue;
    const g = await host.createGuest(shape, `u-${name}`);
    await t.rejects(host.faults.inject({ name, params: {} }, g), { code: 'NOT_SUPPORTED', message: /cannot be injected on an xl host/ }, name);
  }
});

t.test('after the SSH connection dropped, the run fails but teardown reconnects and destroys what it created', async (t) => {
  const first = new FakeDom0();
  const second = new FakeDom0();
  let connects = 0;
  const host = new XlHost({ label: 'drop', connect: async () => (++connects === 1 ? first : second) });
  await host.open({ emit: () => undefined }, { seed: 1 });
  const g = await host.createGuest(shape, 'cut');
  second.domains.set(g.handle, { ...first.domains.get(g.handle)! });
  first.drop();
  await t.rejects(host.startGuest(g), { code: 'SSH_DROPPED' });
  await host.destroyGuest(g);
  t.equal(connects, 2, 'one new connection for the teardown');
  t.ok(second.lines.some((l) => l === `xl destroy ${g.domid}`), 'the domain is destroyed over it');
  t.equal(second.domains.size, 0);
});

t.test('preflight: free memory from `xl info` and dom0\'s load; each shortfall named, a healthy dom0 passes', async (t) => {
  const { fake, host } = await open();
  const needs: HostNeeds = { memoryBytes: 1024 * 2 ** 20, diskBytes: 0, isos: [] };
  t.same(await host.preflight(needs), [], 'enough memory, quiet dom0');
  fake.freeMemoryMiB = 512;
  t.match(await host.preflight(needs), [/^memory: `xl info` on fake: 512 MiB free, an instance's guests need 1024 MiB$/], 'memory short');
  fake.freeMemoryMiB = 3900;
  fake.loadavg = '30.00 20.00 10.00 9/180 4242';
  t.match(await host.preflight(needs), [/^dom0: dom0 of fake: load average 30 on 4 CPUs \(7\.5 per CPU, the limit is 4\)$/], 'dom0 overloaded');
  await host.close();
});

t.test('migrate: xl migrate within dom0, the receiver paused until xenconsoled reopened its logs; the guest under a new domid', async (t) => {
  const { fake, host, events } = await open();
  const g = await host.createGuest(shape, 'm');
  await host.startGuest(g);
  const old = g.domid;
  const moved = await host.migrate.migrate(g, undefined, {});
  t.not(moved.domid, old, 'a new domid');
  t.equal(moved.handle, g.handle, 'the same domain name (xl renamed <name>--incoming to it)');
  t.same([...fake.domains.keys()], [g.handle], 'neither <name>--migratedaway nor <name>--incoming is left');
  t.equal(await host.powerState(moved), 'running');
  const after = fake.lines.slice(fake.lines.findIndex((l) => l.startsWith('xl migrate')));
  t.same(after.filter((l) => /^(xl migrate|pkill|xl unpause)/.test(l)), [`xl migrate -s '' ${g.handle} 'xl migrate-receive -p'`, 'pkill -HUP -x xenconsoled', `xl unpause ${g.handle}`], 'xl migrate, then the log reopened, then the guest unpaused');
  t.same(guestEvents(events), ['created', 'started', 'suspending', 'migrated']);
  t.same((events.find((e) => e.ev === 'guest' && e.what === 'migrated') as { detail: unknown }).detail, { from: old, domid: moved.domid });
  t.match((events.find((e) => e.ev === 'log' && /xl migrate:/.test(e.msg)) as { msg: string }).msg, /Migration successful\./, 'xl\'s words in the trace');
  await t.rejects(host.migrate.migrate(moved, 'other-host', {}), { code: 'UNSUPPORTED' }, 'another dom0 is not followed');
});

t.test('migrate: what xl refuses is a host error with its exit code and words', async (t) => {
  const { fake, host } = await open();
  const g = await host.createGuest(shape, 'mr');
  await host.startGuest(g);
  fake.domains.delete(g.handle);
  await t.rejects(host.migrate.migrate(g, undefined, {}), { code: 'XL_MIGRATE', message: `xl migrate of ${g.handle} failed on fake (exit 1): ${g.handle} is an invalid domain identifier (rc=-6)` });
});

t.test('migrate: a PV guest on a Xen without shadow paging (the lab\'s Debian build) fails with xl\'s words and the reason', async (t) => {
  const { fake, host } = await open();
  fake.virtCaps = 'pv hvm hap';
  const g = await host.createGuest(shape, 'ms');
  await host.startGuest(g);
  const old = g.domid;
  await t.rejects(host.migrate.migrate(g, undefined, {}), {
    code: 'XL_MIGRATE',
    message: /Failed to enable logdirty: 95,22,0 .* \| Migration failed, failed to suspend at sender\. \(a PV guest's live migration needs shadow paging .* virt_caps is 'pv hvm hap'.*\) \(the guest is still in its old domain\)$/,
  });
  t.equal(g.domid, old);
  t.same([...fake.domains.keys()], [g.handle], 'the receiver\'s domain is gone, the guest runs on');
});
