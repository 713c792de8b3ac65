// The XenAPI backend's guest-side paths end to end on the test pool: keys not rewritten after a
// resume, crashes and their dumps, the vendor installer and Driver Verifier, guests kept between
// scenarios, and workloads in flight across a suspend and a migration.
import t from 'tap';
import { startPool, makeBundle, leftovers, GUEST_PW, XAPI_PW } from '../../support/xapi-pool';
import { runPlanned } from '../../support/run-plan';
import { XapiHost } from '../../../src/hosts/xapi/host';
import { TraceWriter } from '../../../src/trace/writer';
import { loadSpecs } from '../../../src/spec/load';
import { writeReports } from '../../../src/report/files';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { evaluate } from '../../../src/checks/evaluate';
import { readTraceFile } from '../../../src/trace/reader';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scenario, src } from './pool-scenarios';


t.test('drivers that do not write their keys again after a XenAPI resume fail guest-keys', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  pool.dom0!.faults.keysLostAfterResume = true;
  const host = pool.host();
  const s = scenario('suspend-resume-keys-lost', [
    { kind: 'install-drivers', guest: 'win', bundle: 'builtin:9.1.0', reboot: true, source: src },
    { kind: 'wait', guest: 'win', path: 'control/feature-suspend', equals: '1', timeoutMs: 10_000, source: src },
    { kind: 'suspend-resume', guest: 'win', source: src },
    { kind: 'wait', guest: 'win', path: 'device/vbd/768/state', equals: '4', timeoutMs: 10_000, source: src },
    { kind: 'sleep', durationMs: 500, source: src },
  ], { needs: ['windows-guest', 'suspend'], checks: [{ name: 'guest-keys', params: { limitMs: '400' } }, { name: 'devices-connected', params: {} }] });
  const { outcome, trace, tap } = await runPlanned({ host, plan: [s], seed: 3, tap: true });
  t.equal(outcome.hostError, undefined);
  const keys = outcome.summary.instances[0]!.checks.find((c) => c.check === 'guest-keys')!;
  t.equal(keys.verdict, 'fail', 'guest-keys is not ok');
  const resumed = trace.events.find((e) => e.ev === 'guest' && e.what === 'resumed');
  t.match(keys.message, /win: (drivers\/<N>|control\/feature-suspend) is missing after the guest was resumed/);
  t.match(String(keys.diagnostics?.path), new RegExp(`^/local/domain/${resumed && resumed.ev === 'guest' ? resumed.domid : 'x'}/`), 'judged in the new domain VM.resume built');
  t.equal(outcome.summary.instances[0]!.checks.find((c) => c.check === 'devices-connected')!.verdict, 'pass', 'only guest-keys fails: the devices did reconnect');
  t.match(tap, /not ok \d+ - guest-keys/);
  t.same(leftovers(pool.srv), [], 'nothing left on the pool (no suspend VDI either)');
});

t.test('a Windows crash on the pool: not ok, and the crash dump is in the run directory', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  const host = pool.host();
  const crashDuringSleep = (name: string) => scenario(name, [
    { kind: 'install-drivers', guest: 'win', bundle: 'builtin:9.1.0', reboot: true, source: src },
    { kind: 'sleep', durationMs: 3000, source: src },
  ], { checks: [{ name: 'guest-alive', params: {} }] });
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-crash-'));
  const trace = new TraceWriter({ file: join(dir, 'trace.jsonl') });
  // The guest bugchecks while the scenario sleeps: the first time Windows writes MEMORY.DMP, the second time no dump at all.
  const crashes: { inst: string; dump?: Buffer }[] = [];
  const timer = setInterval(() => {
    const sleeping = trace.events.filter((e) => e.ev === 'step.start' && e.kind === 'sleep').map((e) => (e as { inst: string }).inst);
    for (const inst of sleeping) {
      if (crashes.some((c) => c.inst === inst)) continue;
      const [vm, d] = [...pool.byVm][0]!;
      // the guest's memory held the passwords it was reached with (sshd, LSASS): they are in the dump
      crashes.push({ inst, dump: inst === 'crash-with-dump' ? d.writeCrashDump('full', undefined, [Buffer.from(GUEST_PW, 'utf16le'), Buffer.from(XAPI_PW, 'utf8')]).data : undefined });
      pool.srv.pool.crash(vm);
    }
  }, 20);
  t.teardown(() => clearInterval(timer));
  const { outcome } = await runPlanned({ host, plan: [crashDuringSleep('crash-with-dump'), crashDuringSleep('crash-without-dump')], seed: 5, trace, tap: true, artifactsDir: join(dir, 'artifacts') });
  clearInterval(timer);
  t.equal(outcome.hostError, undefined);
  t.same(crashes.map((c) => c.inst), ['crash-with-dump', 'crash-without-dump'], 'the guest crashed once in each scenario');
  const [withDump, without] = outcome.summary.instances;
  const alive = (r: typeof withDump) => r!.checks.find((c) => c.check === 'guest-alive')!;
  t.equal(withDump!.verdict, 'fail', 'a crash is not ok');
  t.match(alive(withDump).message, /win \(domid \d+\) crashed; crash dump artifacts\/crash-with-dump\/win-MEMORY\.DMP/);
  // what the report keeps: the dump Windows wrote with the run's secrets masked, nothing else changed
  const masked = Buffer.from(crashes[0]!.dump!);
  for (const p of [Buffer.from(GUEST_PW, 'utf16le'), Buffer.from(XAPI_PW, 'utf8')]) for (let i = masked.indexOf(p); i >= 0; i = masked.indexOf(p, i + 1)) masked.fill(0x2a, i, i + p.length);
  t.not(masked.compare(crashes[0]!.dump!), 0, 'the dump did hold the passwords');
  const expected = createHash('sha256').update(masked).digest('hex');
  t.same(alive(withDump).diagnostics?.crashDump, { path: 'artifacts/crash-with-dump/win-MEMORY.DMP', bytes: crashes[0]!.dump!.length, sha256: expected, source: 'C:\\Windows\\MEMORY.DMP', secretsMasked: 2 });
  const copied = readFileSync(join(dir, 'artifacts', 'crash-with-dump', 'win-MEMORY.DMP'));
  t.equal(createHash('sha256').update(copied).digest('hex'), expected, 'the dump in the run directory is the one Windows wrote, byte for byte but for the masked passwords');
  for (const pw of [GUEST_PW, XAPI_PW]) t.ok(copied.indexOf(Buffer.from(pw, 'utf8')) < 0 && copied.indexOf(Buffer.from(pw, 'utf16le')) < 0, 'no password in the copied dump, in either encoding');
  t.same(readdirSync(join(dir, 'artifacts', 'crash-with-dump')), ['win-MEMORY.DMP'], 'no temporary file left beside it');

  t.equal(without!.verdict, 'fail');
  t.match(alive(without).message, /crashed; no crash dump$/);
  t.same(alive(without).diagnostics?.crashDump, { none: 'Windows wrote no crash dump (C:\\Windows\\MEMORY.DMP, C:\\Windows\\Minidump\\*.dmp)' }, 'a crash with no dump says so');
  t.notOk(existsSync(join(dir, 'artifacts', 'crash-without-dump')), 'and collects nothing');

  writeReports(dir, outcome.summary, { runId: host.runId, startedAt: '2026-11-24T06:00:00Z', inputs: [], command: 'winpv run --host xapi://root@pool-master.test' }, trace.events);
  const tapFile = readFileSync(join(dir, 'results.tap'), 'utf8');
  t.match(tapFile, new RegExp(`crashDump: \\{"path":"artifacts/crash-with-dump/win-MEMORY\\.DMP","bytes":${crashes[0]!.dump!.length},"sha256":"${expected}"`), 'the TAP YAML diagnostics of guest-alive name the dump and its sha256');
  t.match(tapFile, /crashDump: \{"none":"Windows wrote no crash dump/);
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  t.match(html, /<a href="artifacts\/crash-with-dump\/win-MEMORY\.DMP">/, 'the HTML report links the dump');
  t.match(html, new RegExp(`sha256 ${expected}`));
  // the stored trace judges the same: `winpv check` gives the same diagnostics offline
  const again = evaluate(readTraceFile(join(dir, 'trace.jsonl')).events, loadSpecs());
  t.same(again.map((r) => r.checks.find((c) => c.check === 'guest-alive')!.diagnostics?.crashDump), [alive(withDump).diagnostics?.crashDump, alive(without).diagnostics?.crashDump]);
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
  t.notMatch(tapFile + html + readFileSync(join(dir, 'trace.jsonl'), 'utf8'), GUEST_PW, 'no password in the reports');
  t.notMatch(readFileSync(join(dir, 'artifacts', 'crash-with-dump', 'win-MEMORY.DMP'), 'latin1'), XAPI_PW);
});

t.test('install with the vendor installer and Driver Verifier when the scenario asks', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  const host = pool.host();
  const vendor = (name: string) => scenario(name, [
    { kind: 'install-drivers', guest: 'win', bundle: 'builtin:9.1.0', reboot: true, method: 'installer', verifier: true, source: src },
    { kind: 'wait', guest: 'win', path: 'device/vbd/768/state', equals: '4', timeoutMs: 10_000, source: src },
  ]);
  const trace = new TraceWriter();
  // the second time, a policy keeps Driver Verifier off although verifier.exe accepted the settings
  const timer = setInterval(() => {
    const d = pool.doubles[0]!;
    if (trace.events.some((e) => e.ev === 'scenario.start' && e.inst === 'vendor-verifier-blocked')) d.state.verifierIgnored = true;
  }, 5);
  t.teardown(() => clearInterval(timer));
  const { outcome } = await runPlanned({ host, plan: [vendor('vendor-verifier'), vendor('vendor-verifier-blocked')], seed: 9, trace });
  clearInterval(timer);
  t.equal(outcome.hostError, undefined);
  const [ok, blocked] = outcome.summary.instances;
  t.equal(ok!.verdict, 'pass', `the vendor install with Driver Verifier passes every check: ${ok!.checks.filter((c) => c.verdict === 'fail').map((c) => c.message).join('; ')}`);
  t.ok(pool.doubles[0]!.state.installers.some((m) => m === 'D:\\XenPVTools-x64.msi'), 'msiexec ran the installer from the bundle disc');
  t.notOk(pool.doubles[0]!.state.scripts.some((s) => s.startsWith('# winpv:pnputil-add')), 'pnputil was not used');
  const drv = trace.events.find((e) => e.ev === 'drivers' && e.inst === 'vendor-verifier');
  t.match(drv, { verified: ['xenbus.sys', 'xenvbd.sys', 'xenvif.sys', 'xennet.sys'], expected: { verifier: true } }, 'the drivers event carries what Driver Verifier checks');
  const bound = blocked!.checks.find((c) => c.check === 'drivers-bound')!;
  t.equal(bound.verdict, 'fail', 'Driver Verifier asked for but not on: drivers-bound is not ok');
  t.match(bound.message, /win: xenbus\.sys is not under Driver Verifier/);
  t.same(leftovers(pool.srv), []);
});

t.test('a verifying workload aimed at the system disk runs on a data disk of the run, unbuffered and write-through, and finds lost writes', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  const host = pool.host();
  const d = pool.doubles[0]!;
  d.state.verifyMismatches = 2; // the disk lost two acknowledged writes: only a read of the disk itself shows them
  const s = scenario('verify-on-system-disk', [
    { kind: 'install-drivers', guest: 'win', bundle: 'builtin:9.1.0', reboot: true, source: src },
    { kind: 'wait', guest: 'win', path: 'device/vbd/768/state', equals: '4', timeoutMs: 10_000, source: src },
    { kind: 'block', guest: 'win', device: 'vbd/768', blockSize: 65536, queueDepth: 8, threads: 1, writePercent: 50, pattern: 'random', durationMs: 1000, verify: true, source: src },
  ], { checks: [{ name: 'workload', params: {} }, { name: 'guest-alive', params: {} }] });
  const { outcome, trace } = await runPlanned({ host, plan: [s], seed: 4 });
  t.equal(outcome.hostError, undefined);
  const wl = outcome.summary.instances[0]!.checks.find((c) => c.check === 'workload')!;
  t.equal(wl.verdict, 'fail', 'the lost writes make the workload check not ok');
  t.same(d.state.verifyRuns, [{ disk: 4, flags: 0xa0000000, proves: true }], 'the read-back ran on the data disk (userdevice 4), unbuffered and write-through');
  t.same(d.state.diskspdRuns.map((r) => [r.target, r.cacheBypassed]), [['#4', true]], 'diskspd ran raw on the data disk with -Sh');
  t.ok(trace.events.some((e) => e.ev === 'log' && /data disk xvde .* created and plugged/.test(e.msg)), 'the trace says which disk was made');
  t.same(leftovers(pool.srv), [], 'the data disk (VBD and VDI) went with the guest');
});

t.test('reuseGuests: one VM serves the scenarios of one shape, reverted to its pre-install snapshot', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  const host = new XapiHost({ ...pool.cfg, reuseGuests: true }, { runId: '20261124T060000Z-reuse1' });
  const install = (name: string, version: string) => scenario(name, [
    { kind: 'install-drivers', guest: 'win', bundle: makeBundle(version, 1), reboot: true, source: src },
    { kind: 'wait', guest: 'win', path: 'device/vbd/832/state', equals: '4', timeoutMs: 10_000, source: src },
    { kind: 'block', guest: 'win', device: 'vbd/832', blockSize: 4096, queueDepth: 8, threads: 1, writePercent: 30, pattern: 'random', durationMs: 1000, verify: true, source: src },
  ]);
  const crashing = scenario('crash-c', [
    { kind: 'install-drivers', guest: 'win', bundle: 'builtin:9.1.0', reboot: true, source: src },
    { kind: 'sleep', durationMs: 2000, source: src },
  ], { checks: [{ name: 'guest-alive', params: {} }] });
  const trace = new TraceWriter();
  const timer = setInterval(() => {
    if (!trace.events.some((e) => e.ev === 'step.start' && e.inst === 'crash-c' && e.kind === 'sleep') || trace.events.some((e) => e.ev === 'guest' && e.what === 'crashed')) return;
    pool.srv.pool.crash([...pool.byVm][0]![0]);
  }, 20);
  t.teardown(() => clearInterval(timer));
  const order = [install('a-first', '9.1.0'), install('b-reverted', '9.2.0'), crashing, install('d-after-crash', '9.1.0')];
  const { outcome } = await runPlanned({ host, plan: order, seed: 1, trace, openBundle: async (path, drivers) => ({ bundle: { location: path, version: /9\.2\.0/.test(readFileSync(join(path, 'xenbus', 'xenbus.inf'), 'utf8')) ? '9.2.0.1' : '9.1.0.1', drivers }, cleanup: async () => undefined }) });
  clearInterval(timer);
  t.equal(outcome.hostError, undefined);
  t.same(outcome.summary.instances.map((r) => `${r.inst}:${r.verdict}`), ['a-first:pass', 'b-reverted:pass', 'crash-c:fail', 'd-after-crash:pass'], 'every scenario judged as without reuse');
  const calls = (m: string) => pool.srv.pool.calls.filter((c) => c.method === m || c.method === `Async.${m}`).length;
  t.equal(calls('VM.clone'), 2, 'one clone for the first scenario, one after the crashed guest was destroyed (never reused)');
  t.equal(calls('VM.revert'), 2, 'b-reverted and crash-c got the first VM back at its pre-install snapshot');
  const created = trace.events.filter((e) => e.ev === 'guest' && e.what === 'created').map((e) => (e as { detail?: Record<string, unknown> }).detail?.reverted ?? 'new');
  t.same(created, ['new', 'pre-install snapshot', 'pre-install snapshot', 'new']);
  const drivers = trace.events.filter((e) => e.ev === 'drivers').map((e) => (e as { bound: { driver: string; version: string }[] }).bound.find((b) => b.driver === 'xenbus')?.version);
  t.same(drivers, ['9.1.0.1', '9.2.0.1', '9.1.0', '9.1.0.1'], 'each scenario bound what it installed: the revert took the earlier drivers away');
  t.same(leftovers(pool.srv), [], 'close() destroyed the kept VM, its snapshot and disks: nothing left');
});

t.test('Windows restarting by itself after a bugcheck: not ok, with the minidump it wrote', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  const host = pool.host();
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-bsod-'));
  const s = scenario('bugcheck-autorestart', [
    { kind: 'install-drivers', guest: 'win', bundle: 'builtin:9.1.0', reboot: true, source: src },
    { kind: 'sleep', durationMs: 3000, source: src },
  ], { checks: [{ name: 'guest-alive', params: {} }] });
  const trace = new TraceWriter();
  let dump: Buffer | undefined;
  const timer = setInterval(() => {
    if (dump || !trace.events.some((e) => e.ev === 'step.start' && e.kind === 'sleep')) return;
    const [vm, d] = [...pool.byVm][0]!;
    dump = d.writeCrashDump('mini').data;
    pool.srv.pool.guestReboot(vm);
  }, 20);
  t.teardown(() => clearInterval(timer));
  const { outcome } = await runPlanned({ host, plan: [s], seed: 2, trace, artifactsDir: join(dir, 'artifacts') });
  clearInterval(timer);
  const alive = outcome.summary.instances[0]!.checks.find((c) => c.check === 'guest-alive')!;
  t.equal(alive.verdict, 'fail');
  t.match(alive.message, /win rebooted with no reboot step running; crash dump artifacts\/bugcheck-autorestart\/win-112426-00001-01\.dmp/);
  const copied = readFileSync(join(dir, 'artifacts', 'bugcheck-autorestart', 'win-112426-00001-01.dmp'));
  t.equal(createHash('sha256').update(copied).digest('hex'), createHash('sha256').update(dump!).digest('hex'), 'the minidump, byte for byte');
  t.match(alive.diagnostics?.crashDump, { path: 'artifacts/bugcheck-autorestart/win-112426-00001-01.dmp', source: 'C:\\Windows\\Minidump\\112426-00001-01.dmp' });
  t.same(leftovers(pool.srv), []);
});

t.test('a workload in flight survives a suspend-resume and a live migration of its guest', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  pool.doubles[0]!.state.workloadMs = 1500; // diskspd answers 1.5 s after it was started
  const host = pool.host();
  const s = scenario('io-across-suspend-and-migrate', [
    { kind: 'install-drivers', guest: 'win', bundle: 'builtin:9.1.0', reboot: true, source: src },
    { kind: 'wait', guest: 'win', path: 'device/vbd/832/state', equals: '4', timeoutMs: 10_000, source: src },
    { kind: 'parallel', source: src, branches: [
      [{ kind: 'block', guest: 'win', device: 'vbd/832', blockSize: 4096, queueDepth: 8, threads: 1, writePercent: 30, pattern: 'random', durationMs: 1000, verify: true, source: src }],
      [{ kind: 'sleep', durationMs: 200, source: src }, { kind: 'suspend-resume', guest: 'win', source: src }],
    ] },
    { kind: 'parallel', source: src, branches: [
      [{ kind: 'block', guest: 'win', device: 'vbd/832', blockSize: 4096, queueDepth: 8, threads: 1, writePercent: 30, pattern: 'random', durationMs: 1000, verify: true, source: src }],
      [{ kind: 'sleep', durationMs: 200, source: src }, { kind: 'migrate', guest: 'win', source: src }],
    ] },
  ], { needs: ['windows-guest', 'suspend', 'migrate'] });
  const { outcome, trace } = await runPlanned({ host, plan: [s], seed: 4 });
  const r = outcome.summary.instances[0]!;
  t.equal(r.aborted, undefined, `every step completed: ${JSON.stringify(r.aborted)}`);
  t.equal(trace.events.filter((e) => e.ev === 'workload').length, 2, 'both diskspd runs came back');
  t.equal(r.verdict, 'pass', r.checks.filter((c) => c.verdict === 'fail').map((c) => c.message).join('; '));
});
