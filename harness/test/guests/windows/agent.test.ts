import t from 'tap';
import { makeBundle, rejects } from '../../support/xapi-pool';
import { agentOnDouble } from '../../support/windows-agent';
import type { BlockWorkloadStep } from '../../../src/model/scenario';
import { runPsJson } from '../../../src/guests/windows/powershell';
import { msiExitMeaning, parseVerifierQuery } from '../../../src/guests/windows/installer';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PW = 'planted-Agent-pw-1b7';


const blk = (over: Partial<BlockWorkloadStep> = {}): BlockWorkloadStep => ({ kind: 'block', guest: 'w', device: 'vbd/832', blockSize: 65536, queueDepth: 8, threads: 1, writePercent: 0, pattern: 'sequential', durationMs: 3000, verify: false, source: { file: 's.xml' }, ...over });

t.test('the Windows agent against the guest double over SSH', async (t) => {
  const { d, agent, logs, conn } = await agentOnDouble(t, PW);

  const before = await agent.driverStatus();
  t.same(before.bound, []);
  t.same(before.unplugged, { disks: false, nics: false });
  t.match(before.unbound[0]!.reason, /CM problem 28/);

  const e1 = await rejects(agent.installDrivers({ location: makeBundle('9.1.0', 3, ['xenbus']), version: '9.1.0.3', drivers: ['xenbus', 'xenvbd'] }));
  t.equal(e1.code, 'BUNDLE_DRIVER_MISSING');
  t.equal(e1.kind, 'input');
  const e2 = await rejects(agent.installDrivers({ location: makeBundle('9.1.0', 3, ['xenbus']), version: '9.1.0;rm', drivers: ['xenbus'] }));
  t.equal(e2.code, 'BUNDLE_VERSION', 'a version that is not a safe folder name is refused before anything runs');
  const e3 = await rejects(agent.installDrivers({ location: 'builtin:9.1.0', version: '9.1.0', drivers: ['xenbus'] }));
  t.equal(e3.code, 'BUNDLE_ISO_UNSUPPORTED', 'a builtin bundle needs a host that can insert the ISO');

  await agent.installDrivers({ location: makeBundle('9.1.0', 3), version: '9.1.0.3', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'], verifier: true });
  t.same(d.state.verifier, ['xenbus.sys', 'xenvif.sys', 'xennet.sys', 'xenvbd.sys'], 'Driver Verifier was enabled for the drivers');
  t.equal(agent.rebootPendingFor, '9.1.0.3');
  t.same((await agent.driverStatus()).verified, [], 'before the reboot Driver Verifier checks nothing yet (verifier /query, not next boot\'s /querysettings)');
  d.boot();
  t.ok((await agent.rebootPending()).pending, 'the children asked for the unplug: Windows wants a second restart');
  d.boot();
  const after = await agent.driverStatus();
  t.equal(after.bound.length, 4);
  t.same(after.unplugged, { disks: true, nics: true });
  t.same(after.verified, ['xenbus.sys', 'xenvif.sys', 'xennet.sys', 'xenvbd.sys'], 'driverStatus says what Driver Verifier checks now (verifier /query)');

  d.state.failNextDiskspd = true;
  const e4 = await rejects(agent.blockWorkload(blk()));
  t.equal(e4.code, 'DISKSPD_REPORTED_ERROR', 'a diskspd document carrying <Error> fails the workload');
  d.state.verifyMismatches = 3;
  const r = await agent.blockWorkload(blk({ verify: true }));
  t.equal(r.result.verifyErrors, 3, 'blocks that read back different are data errors');
  t.match(d.state.scripts.at(-2)!, /"-si65536"/, 'sequential I/O');
  t.same(d.state.verifyRuns.at(-1), { disk: 1, flags: 0xa0000000, proves: true }, 'the read-back is unbuffered and write-through, on the data disk');
  t.same(d.state.diskspdRuns.at(-1)!.target, '#1');
  t.ok(d.state.diskspdRuns.at(-1)!.cacheBypassed, 'diskspd ran with -Sh (no OS cache, write-through)');
  const e6 = await rejects(agent.blockWorkload(blk({ device: 'vbd/768', verify: true })));
  t.equal(e6.code, 'VERIFY_SYSTEM_DISK', 'a verifying workload on the system disk, with no way to add a data disk, is refused');
  t.equal(d.state.verifyRuns.length, 1, '... before anything ran');

  const e5 = await rejects(agent.netWorkload({ kind: 'net', guest: 'w', device: 'vif/0', threads: 1, direction: 'send', durationMs: 1000, source: { file: 's.xml' } }));
  t.equal(e5.code, 'NOT_IMPLEMENTED');

  d.state.crashDumps.push({ path: 'C:\\Windows\\Minidump\\112426-01.dmp', bytes: 262144 });
  t.same(await agent.findCrashDump(), { path: 'C:\\Windows\\Minidump\\112426-01.dmp', bytes: 262144 });

  const raw = await conn()!.execLine('pnputil /enum-devices');
  t.not(raw.code, 0, 'the double (like the adapter) accepts only encoded PowerShell');
  t.ok(logs.some((l) => /needs a reboot/.test(l)));
});

t.test('a verifying workload aimed at the system disk runs on the run\'s data disk, where the cache cannot answer the read-back', async (t) => {
  const asked: string[] = [];
  const { d, agent, logs } = await agentOnDouble(t, PW, {
    dataDisk: async () => {
      asked.push('data disk');
      d.state.dataDisks.add(4); // userdevice 4, xvde: XENVBD target 4
      return { dev: 'vbd/51776', label: 'xvde (VDI winpv:verify)' };
    },
  });
  d.state.verifyMismatches = 2; // the backend loses two acknowledged writes
  const r = await agent.blockWorkload(blk({ device: 'vbd/768', verify: true, writePercent: 50 }));
  t.same(asked, ['data disk']);
  t.equal(r.result.verifyErrors, 2, 'the lost writes are seen: the read-back came from the disk');
  t.same(d.state.verifyRuns, [{ disk: 4, flags: 0xa0000000, proves: true }], 'verified on the data disk, unbuffered and write-through');
  t.same(d.state.diskspdRuns.map((x) => [x.target, x.cacheBypassed]), [['#4', true]], 'diskspd wrote the data disk (raw, -Sh), not a file on C:');
  t.ok(logs.some((l) => /runs on the run's data disk xvde/.test(l)), 'the trace says where it ran');
  await agent.blockWorkload(blk({ device: 'vbd/768', verify: false }));
  t.equal(d.state.diskspdRuns.at(-1)!.target, 'C:\\winpv\\diskspd.dat', 'an unverified workload on the system disk uses a test file there');
});

t.test('the double: a read-back through the cache proves nothing', async (t) => {
  // What the harness did before: a buffered (write-through only) pass on a file of the system
  // disk. The lost writes stay hidden: the double answers such a pass from the cache, as Windows does.
  const { d, conn, agent } = await agentOnDouble(t, PW);
  d.state.verifyMismatches = 5;
  await agent.driverStatus();
  const cached = await runPsJson<{ mismatches: number }>(conn()!, 'verify', { disk: -1, mib: 64, seed: 1, flags: 0x80000000 }, '# the old pass');
  t.equal(cached.mismatches, 0, 'buffered, system disk: the cache answers');
  const noWt = await runPsJson<{ mismatches: number }>(conn()!, 'verify', { disk: 1, mib: 64, seed: 1, flags: 0x20000000 }, '# no write-through');
  t.equal(noWt.mismatches, 0, 'without write-through the write may sit in a cache too');
  t.same(d.state.verifyRuns.map((v) => v.proves), [false, false]);
});

t.test('the vendor installer: the .msi at the bundle root, msiexec quiet without a restart', async (t) => {
  const { d, agent } = await agentOnDouble(t, PW);
  const bundle = makeBundle('9.2.0', 7);
  const none = await rejects(agent.installDrivers({ location: bundle, version: '9.2.0.7', drivers: ['xenbus'], installer: true }));
  t.equal(none.code, 'BUNDLE_NO_INSTALLER', 'a bundle without an .msi cannot be installed by its installer');
  writeFileSync(join(bundle, 'XenPVTools x64.msi'), Buffer.from('d0cf11e0a1b11ae1', 'hex'));
  d.state.failNextInstaller = 1603;
  const failed = await rejects(agent.installDrivers({ location: bundle, version: '9.2.0.7', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'], installer: true }));
  t.equal(failed.kind, 'guest', 'a failed guest command fails the scenario (kind guest), not the input');
  t.match(failed.message, /vendor installer C:\\winpv\\bundle\\9\.2\.0\.7\\XenPVTools x64\.msi failed \(1603: fatal error during installation\); its log is C:\\Windows\\Temp\\winpv-install-9\.2\.0\.7\.log/);
  await agent.installDrivers({ location: bundle, version: '9.2.0.7', drivers: ['xenbus', 'xenvif', 'xennet', 'xenvbd'], installer: true });
  t.same(d.state.installers.at(-1), 'C:\\winpv\\bundle\\9.2.0.7\\XenPVTools x64.msi', 'msiexec ran the uploaded installer (a path with a space, passed as one argument)');
  t.notOk(d.state.scripts.some((s) => s.startsWith('# winpv:pnputil-add')), 'pnputil was not used');
  t.equal(agent.rebootPendingFor, '9.2.0.7', 'exit 3010: the scenario\'s reboot finishes the install');
  d.boot();
  d.boot();
  t.same((await agent.driverStatus()).bound.map((b) => `${b.driver} ${b.version}`).sort(), ['xenbus 9.2.0.7', 'xennet 9.2.0.7', 'xenvbd 9.2.0.7', 'xenvif 9.2.0.7']);
});

t.test('verifier /query and msiexec exit codes', async (t) => {
  t.same(parseVerifierQuery('Level: 000209BB\r\n\r\nName: xenbus.sys, loads: 1, unloads: 0\r\nName: XENVBD.SYS, loads: 1, unloads: 0\r\n'), ['xenbus.sys', 'xenvbd.sys']);
  t.same(parseVerifierQuery('Ebene: 000209BB\r\n\r\nName: xenvif.sys, Ladevorgänge: 1, Entladevorgänge: 0\r\n'), ['xenvif.sys'], 'German labels');
  t.same(parseVerifierQuery('No drivers are currently verified.'), []);
  t.equal(msiExitMeaning(1618), 'another installation is already in progress');
  t.equal(msiExitMeaning(1234), 'Windows Installer error 1234');
});
