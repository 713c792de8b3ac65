import t from 'tap';
import { poolWithGuest, startPool, makeBundle, shape, leftovers, rejects, POOL_DISCS, XAPI_PW, GUEST_PW } from '../../support/xapi-pool';
import { XapiFailure } from '../../support/xapi-server';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';


t.test('a Windows guest from clone to destroy: drivers, workloads, lifecycle, nothing left', async (t) => {
  const pool = await startPool();
  t.teardown(() => pool.close());
  const host = pool.host();
  await host.open(pool.sink, { seed: 1 });
  t.ok(host.capabilities.has('windows-guest') && host.capabilities.has('migrate') && host.capabilities.has('snapshot'));
  t.ok(host.capabilities.has('backend-control'), 'dom0 SSH configured: backend control');

  const g1 = await host.createGuest(shape('win1'), 'smoke');
  const vm = pool.srv.pool.get(g1.handle);
  t.equal(vm.VCPUs_max, 4);
  t.equal(vm.memory_static_max, 4096 * 2 ** 20);
  t.equal(vm.is_a_template, false);
  t.equal((vm.other_config as Record<string, string>)['winpv-run'], host.runId, 'tagged with the run');
  t.match(String(vm.name_label), `winpv:${host.runId}:smoke/win1`);
  t.equal((vm.VBDs as string[]).length, 3, 'OS disk, the new data disk, the CD drive');
  t.equal((vm.VIFs as string[]).length, 1);

  await host.startGuest(g1);
  t.ok(g1.domid > 0, `domid ${g1.domid}`);
  t.equal(await host.powerState(g1), 'running');
  t.equal(host.homePath(g1), `/local/domain/${g1.domid}`);

  const snap = await host.snapshot!.snapshot(g1, 'before-install');
  const agent = host.agent(g1);
  const before = await agent.driverStatus();
  t.same(before.bound, []);
  t.same(before.unplugged, { disks: false, nics: false }, 'emulated disk and NIC still there');

  const bundle = makeBundle('9.1.0', 156);
  const domidBefore = g1.domid;
  await agent.installDrivers({ location: bundle, version: '9.1.0.156', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'] });
  t.ok(pool.events.some((e) => e.ev === 'log' && /needs a reboot/.test(e.msg)), 'pnputil asked for a reboot (3010)');
  await host.rebootGuest(g1);
  t.not(g1.domid, domidBefore, 'the reboot made a new domain');
  const d = pool.byVm.get(g1.handle)!;
  if (POOL_DISCS) {
    t.notOk([...d.state.files.keys()].some((k) => k.startsWith('C:\\winpv\\bundle')), 'a local bundle is not copied over SFTP on XenAPI');
    const put = pool.srv.pool.calls.filter((c) => c.method === 'HTTP PUT /import_raw_vdi' && c.params[2] !== '0');
    t.equal(put.length, 1, 'it went into the pool as an ISO VDI (PUT /import_raw_vdi)');
    t.ok(d.state.scripts.some((x) => x.includes(JSON.stringify('D:\\xenbus\\xenbus.inf'))), 'and pnputil installed from the disc');
    t.same(leftovers(pool.srv).filter((l) => l.endsWith('.iso')), [], 'the disc was ejected and its VDI destroyed after the install');
    t.same(pool.srv.pool.content.size, 0, 'and its file is gone from the ISO SR');
  } else t.ok(d.state.files.has('C:\\winpv\\bundle\\9.1.0.156\\xenbus\\xenbus.sys'), 'the bundle was copied over SFTP (no xorriso here)');
  t.ok(d.state.commands.every((c) => /-EncodedCommand [A-Za-z0-9+/=]+$/.test(c)), 'every command was an encoded PowerShell script');
  const status = await agent.driverStatus();
  // xeniface comes with every driver set on a pool (the guest agent reaches xenstore through it)
    t.same(status.bound.map((b) => `${b.driver} ${b.version} ${b.service}`).sort(), ['xenbus 9.1.0.156 xenbus', 'xeniface 9.1.0.156 xeniface', 'xennet 9.1.0.156 xennet', 'xenvbd 9.1.0.156 xenvbd', 'xenvif 9.1.0.156 xenvif']);
  t.same(status.unplugged, { disks: true, nics: true });
  const gm = pool.srv.pool.get(pool.srv.pool.get(g1.handle).guest_metrics);
  t.equal(gm.PV_drivers_detected, true);

  const blk = await agent.blockWorkload({ kind: 'block', guest: 'win1', device: 'vbd/832', blockSize: 4096, queueDepth: 32, threads: 2, writePercent: 30, pattern: 'random', durationMs: 10_000, verify: true, source: { file: 's.xml' } });
  t.equal(blk.result.kind, 'block');
  t.ok(Math.abs(blk.result.iops - 42000) < 1, `IOPS ${blk.result.iops}`);
  t.equal(blk.result.verifyErrors, 0);
  t.ok(blk.result.latencyMs['99']! > 0);
  const diskspdScript = d.state.scripts.find((s) => s.startsWith('# winpv:diskspd'))!;
  t.match(diskspdScript, /"#1"/, 'diskspd ran against the data disk (XENVBD target 1), not the system disk');

  // A second guest to exchange traffic with.
  const g2 = await host.createGuest(shape('win2', { vbds: [{ vdev: 'hda', sizeMiB: 40960, mode: 'w', backend: {} }] }), 'smoke');
  await host.startGuest(g2);
  await host.agent(g2).installDrivers({ location: bundle, version: '9.1.0.156', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'] });
  await host.rebootGuest(g2);
  const net = await agent.netWorkload({ kind: 'net', guest: 'win1', device: 'vif/0', peer: 'win2', threads: 4, direction: 'send', durationMs: 5000, source: { file: 's.xml' } }, host.agent(g2));
  t.ok(net.result.mbps > 1000, `${net.result.mbps} Mbit/s`);
  t.match(net.raw!, /^<ntttcps /);

  await host.suspend!.suspend(g1);
  t.equal(await host.powerState(g1), 'suspended');
  await host.suspend!.resume(g1);
  t.equal(await host.powerState(g1), 'running');
  const resident = pool.srv.pool.get(g1.handle).resident_on;
  await host.migrate!.migrate(g1);
  t.not(pool.srv.pool.get(g1.handle).resident_on, resident, 'moved to the other pool member');

  await host.snapshot!.revert(g1, snap);
  t.equal(await host.powerState(g1), 'halted', 'a disk snapshot reverts to a halted VM');
  await host.snapshot!.deleteSnapshot(snap);
  await host.startGuest(g1);
  t.same((await agent.driverStatus()).bound, [], 'the revert took the drivers away');

  await host.shutdownGuest(g1, 'clean');
  t.equal(await host.powerState(g1), 'halted');
  await host.destroyGuest(g1);
  await host.destroyGuest(g1);
  t.equal(await host.powerState(g1), 'gone');
  await host.close();
  t.same(leftovers(pool.srv), [], 'close() removed the second guest too: nothing left');

  const whats = pool.events.filter((e) => e.ev === 'guest').map((e) => (e as { guest: string; what: string }).guest + ':' + (e as { what: string }).what);
  for (const w of ['win1:created', 'win1:started', 'win1:snapshot', 'win1:rebooted', 'win1:suspended', 'win1:resumed', 'win1:migrated', 'win1:reverted', 'win1:shutdown', 'win1:destroyed', 'win2:destroyed']) {
    t.ok(whats.includes(w), w);
  }
  const text = JSON.stringify(pool.events);
  t.notMatch(text, XAPI_PW, 'the XAPI password is in no trace event');
  t.notMatch(text, GUEST_PW, 'the guest password is in no trace event');
});

t.test('every failure path removes what the run created', async (t) => {
  const pool = await startPool({ guests: 1 });
  t.teardown(() => pool.close());
  const host = pool.host();
  await host.open(pool.sink, { seed: 1 });

  for (const method of ['VM.provision', 'VIF.create', 'VDI.create', 'VBD.create', 'VM.set_memory_limits']) {
    pool.srv.pool.failNext.set(method, new XapiFailure('SR_FULL', ['OpaqueRef:sr', '1073741824']));
    const e = await rejects(host.createGuest(shape('win1'), `fail-${method}`));
    t.equal(e.code, 'XAPI_SR_FULL', `${method} failure surfaces`);
    t.same(leftovers(pool.srv), [], `nothing left after ${method} failed`);
  }

  const e2 = await rejects(host.createGuest(shape('win1', { vbds: [{ vdev: 'hda', sizeMiB: 1, mode: 'w', backend: { 'max-ring-page-order': '0' } }] }), 'x'));
  t.equal(e2.code, 'XAPI_UNSUPPORTED_SHAPE');
  t.same(leftovers(pool.srv), []);

  // A domain that cannot be built (create starts it paused), and a driver install that fails (the
  // runner's teardown, or close(), destroys the guest).
  pool.srv.pool.failNext.set('VM.start', new XapiFailure('HOST_NOT_ENOUGH_FREE_MEMORY', ['4294967296', '1073741824']));
  const e3 = await rejects(host.createGuest(shape('win1'), 'boot-fails'));
  t.equal(e3.code, 'XAPI_HOST_NOT_ENOUGH_FREE_MEMORY');
  t.same(leftovers(pool.srv), []);
  // clean, then hard: a guest that cannot shut down cleanly (built but never booted) is halted hard.
  const gh = await host.createGuest(shape('win1'), 'hard-shutdown');
  await host.shutdownGuest(gh, 'clean');
  t.equal(await host.powerState(gh), 'halted');
  t.ok(pool.events.some((e) => e.ev === 'log' && /clean shutdown of win1 failed \(XenAPI VM.clean_shutdown failed: VM_BAD_POWER_STATE.*\); hard shutdown/.test(e.msg)), 'the fallback is logged with the reason');
  await host.destroyGuest(gh);

  const g = await host.createGuest(shape('win1'), 'unpause-fails');
  pool.srv.pool.failNext.set('VM.unpause', new XapiFailure('VM_BAD_POWER_STATE', [g.handle, 'paused', 'halted']));
  t.equal((await rejects(host.startGuest(g))).code, 'XAPI_VM_BAD_POWER_STATE');
  await host.destroyGuest(g);
  t.same(leftovers(pool.srv), []);

  const g2 = await host.createGuest(shape('win1'), 'install-fails');
  await host.startGuest(g2);
  const broken = makeBundle('9.2.0', 7, ['xenbus']);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${broken}/xenbus/xenbus.inf`, '[Version]\r\nSignature="$Windows NT$"\r\n');
  const e4 = await rejects(host.agent(g2).installDrivers({ location: broken, version: '9.2.0', drivers: ['xenbus'] }));
  t.equal(e4.code, 'GUEST_COMMAND');
  t.match(e4.message, /pnputil-add failed.*INF is invalid/);
  await host.close();
  t.same(leftovers(pool.srv), [], 'close() destroyed the guest the failed install left');
});

t.test('suspend, save and resume failures leave nothing either (no suspend image behind)', async (t) => {
  const { pool, host, guest: g } = await poolWithGuest(t, 'resume-fails', { pool: { guests: 1 } });
  t.equal((await rejects(host.suspend!.suspend(g))).code, 'XAPI_VM_MISSING_PV_DRIVERS', 'no PV drivers: XAPI refuses the suspend');
  await host.agent(g).installDrivers({ location: makeBundle('9.1.0', 2), version: '9.1.0.2', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'] });
  await host.rebootGuest(g);
  const gm = pool.srv.pool.get(pool.srv.pool.get(g.handle).guest_metrics);
  pool.srv.pool.set(String(pool.srv.pool.get(g.handle).guest_metrics), { other: { ...(gm.other as Record<string, string>), 'feature-suspend': '0' } });
  t.equal((await rejects(host.saveRestore!.save(g))).code, 'XAPI_VM_LACKS_FEATURE_SUSPEND', 'drivers that do not advertise feature-suspend: XAPI refuses');
  t.equal(await host.powerState(g), 'running');
  const last2 = pool.events.filter((e) => e.ev === 'guest').slice(-2).map((e) => (e as { what: string }).what);
  t.same(last2, ['suspending', 'resumed'], 'a refused suspend is closed in the trace: the guest went on running');
  pool.srv.pool.set(String(pool.srv.pool.get(g.handle).guest_metrics), { other: { ...(gm.other as Record<string, string>), 'feature-suspend': '1' } });
  const image = await host.saveRestore!.save(g);
  const vdi = pool.srv.pool.get(image, 'VDI');
  t.equal(vdi.type, 'suspend', 'the saved image is the suspend VDI');
  t.equal(await host.powerState(g), 'suspended');
  t.equal((await rejects(host.saveRestore!.restore(g, 'OpaqueRef:not-the-image'))).code, 'XAPI_NO_IMAGE', 'restoring another image is refused');
  pool.srv.pool.failNext.set('VM.resume', new XapiFailure('HOST_NOT_ENOUGH_FREE_MEMORY', ['4294967296', '1073741824']));
  t.equal((await rejects(host.saveRestore!.restore(g, image))).code, 'XAPI_HOST_NOT_ENOUGH_FREE_MEMORY');
  t.equal(await host.powerState(g), 'suspended', 'still suspended, the image still there');
  t.ok(leftovers(pool.srv).some((l) => l === 'VDI Suspend image'), 'leftovers would show a suspend image');
  await host.destroyGuest(g);
  t.same(leftovers(pool.srv), [], 'destroying a suspended guest discards its suspend image');
  await host.close();
});

t.test('a crash is a guest crashed event and the dump is looked for after restart', async (t) => {
  const pool = await startPool({ guests: 1 });
  t.teardown(() => pool.close());
  const host = pool.host();
  const artifactsDir = join(mkdtempSync(join(tmpdir(), 'winpv-xapi-artifacts-')), 'artifacts');
  await host.open(pool.sink, { seed: 1, artifactsDir });
  const g = await host.createGuest(shape('win1'), 'crash');
  t.equal(pool.srv.pool.get(g.handle).actions_after_crash, 'preserve');
  await host.startGuest(g);
  // Windows lists a dump it cannot hand over (gone between the listing and the copy)
  pool.byVm.get(g.handle)!.state.crashDumps.push({ path: 'C:\\Windows\\MEMORY.DMP', bytes: 1073741824 });
  pool.srv.pool.crash(g.handle);
  const deadline = Date.now() + 30_000;
  while (!pool.events.some((e) => e.ev === 'log' && /crash dump/.test(e.msg)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const crashed = pool.events.find((e) => e.ev === 'guest' && e.what === 'crashed');
  t.ok(crashed, 'crashed event');
  const log = pool.events.find((e) => e.ev === 'log' && /crash dump/.test(e.msg));
  t.match(log && log.ev === 'log' ? log.msg : '', /C:\\Windows\\MEMORY\.DMP \(1073741824 bytes\)/);
  const deadlineA = Date.now() + 30_000;
  while (!pool.events.some((e) => e.ev === 'artifact') && Date.now() < deadlineA) await new Promise((r) => setTimeout(r, 50));
  const art = pool.events.find((e) => e.ev === 'artifact');
  t.match(art, { ev: 'artifact', guest: 'win1', kind: 'crash-dump', source: 'C:\\Windows\\MEMORY.DMP', missing: /could not collect the crash dump: cannot read C:\/Windows\/MEMORY\.DMP/ }, 'a dump that cannot be copied is recorded as missing, with the reason');
  t.notOk(art && art.ev === 'artifact' && art.path, 'and names no file');
  t.same(readdirSync(artifactsDir), [], 'no partial file (or empty folder) is left');

  const domid = g.domid;
  pool.srv.pool.guestReboot(g.handle);
  const deadline1 = Date.now() + 30_000;
  while (!pool.events.some((e) => e.ev === 'guest' && e.what === 'rebooted') && Date.now() < deadline1) await new Promise((r) => setTimeout(r, 20));
  const rb = pool.events.find((e) => e.ev === 'guest' && e.what === 'rebooted');
  t.same(rb && rb.ev === 'guest' ? rb.detail : undefined, { unexpected: 1 }, 'a reboot nobody asked for is reported as unexpected');
  t.not(g.domid, domid, 'the guest ref follows the new domain');

  pool.srv.pool.guestHalt(g.handle);
  const deadline2 = Date.now() + 30_000;
  while (!pool.events.some((e) => e.ev === 'guest' && e.what === 'halted-unexpectedly') && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 50));
  t.ok(pool.events.some((e) => e.ev === 'guest' && e.what === 'halted-unexpectedly'), 'an unexpected halt is reported');
  await host.close();
  t.same(leftovers(pool.srv), []);
});

t.test('waiting for a guest that restarted by itself stops when it halts (no dump, the reason said)', async (t) => {
  const { pool, host, guest: g } = await poolWithGuest(t, 'restart-then-halt', { pool: { guests: 1 } });
  // after its own restart the guest never reports an IP (hung in boot), then powers off
  (pool.srv.pool.opts as { bootDelayMs?: number }).bootDelayMs = 10 * 60_000;
  pool.srv.pool.guestReboot(g.handle);
  const until = (what: string) => new Promise<void>((resolve) => {
    const tick = () => (pool.events.some((e) => e.ev === 'guest' && e.what === what) ? resolve() : setTimeout(tick, 20));
    tick();
  });
  await until('rebooted');
  pool.srv.pool.guestHalt(g.handle);
  await until('halted-unexpectedly');
  await host.destroyGuest(g);
  const art = pool.events.find((e) => e.ev === 'artifact');
  t.match(art, { ev: 'artifact', guest: 'win1', kind: 'crash-dump', missing: /could not collect the crash dump: stopped waiting for win1 to report its IP address/ }, 'the collection gave up when the guest halted, and says so');
  t.same(leftovers(pool.srv), []);
  await host.close();
});
