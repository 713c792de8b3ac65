// The runner drives the XenAPI backend end to end (test pool, dom0 and Windows doubles over SSH):
// scenarios in, TAP out, nothing left on the pool, no password anywhere in what the run wrote.
import t from 'tap';
import { PassThrough } from 'node:stream';
import { Parser } from 'tap-parser';
import { startPool, makeBundle, leftovers, XAPI_PW, GUEST_PW, DOM0_PW } from '../../support/xapi-pool';
import { runPlan } from '../../../src/runner';
import { XapiHost } from '../../../src/hosts/xapi/host';
import { plan } from '../../../src/plan/planner';
import { TraceWriter } from '../../../src/trace/writer';
import { TapStreamReporter } from '../../../src/report/tap';
import { loadSpecs } from '../../../src/spec/load';
import type { Scenario, Step } from '../../../src/model/scenario';
import type { DriverName } from '../../../src/model/spec';
import { writeReports } from '../../../src/report/files';
import { loadScenarios } from '../../../src/scenario/load';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { evaluate } from '../../../src/checks/evaluate';
import { readTraceFile } from '../../../src/trace/reader';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const src = { file: 'scenarios/xapi-smoke.xml' };
const DRIVERS: DriverName[] = ['xenbus', 'xenvbd', 'xenvif', 'xennet'];

function scenario(name: string, steps: Step[], extra: Partial<Scenario> = {}): Scenario {
  return {
    source: src, name, title: name, description: '', tags: ['smoke'], drivers: DRIVERS, needs: ['windows-guest'],
    guests: [{ name: 'win', os: 'windows', vcpus: 2, memoryMiB: 2048, vbds: [{ vdev: 'hda', sizeMiB: 40960, mode: 'w', backend: {} }, { vdev: 'hdb', sizeMiB: 8192, mode: 'w', backend: {} }], vifs: [{ devid: 0, backend: {} }] }],
    steps,
    checks: [
      { name: 'workload', params: { maxP99Ms: '200' } },
      ...(['xenbus-transitions', 'xenstore-keys', 'devices-connected', 'ring-invariants', 'guest-alive', 'drivers-bound', 'guest-keys'] as const).map((name) => ({ name, params: {} })),
    ], faults: [], matrix: [], timeoutMs: 60_000, ...extra,
  };
}

t.test('install-connect, suspend-resume and save-restore on the XenAPI test pool: TAP out, nothing left', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  const bundle = makeBundle('9.1.0', 156);
  const scenarios: Scenario[] = [
    scenario('install-connect', [
      { kind: 'install-drivers', guest: 'win', bundle, reboot: true, source: src },
      { kind: 'wait', guest: 'win', path: 'device/vbd/832/state', equals: '4', timeoutMs: 10_000, source: src },
      { kind: 'wait', guest: 'win', path: 'device/vif/0/state', equals: '4', timeoutMs: 10_000, source: src },
      { kind: 'block', guest: 'win', device: 'vbd/832', blockSize: 4096, queueDepth: 16, threads: 2, writePercent: 30, pattern: 'random', durationMs: 2000, verify: true, source: src },
    ]),
    scenario('suspend-resume', [
      // builtin:<version> on a pool: the bundle ISO winpv-<version>.iso from the ISO SR, in the CD drive
      { kind: 'install-drivers', guest: 'win', bundle: 'builtin:9.1.0', reboot: true, source: src },
      { kind: 'wait', guest: 'win', path: 'control/feature-suspend', equals: '1', timeoutMs: 10_000, source: src },
      { kind: 'suspend-resume', guest: 'win', source: src },
      { kind: 'wait', guest: 'win', path: 'control/feature-suspend', equals: '1', timeoutMs: 10_000, source: src },
    ], { needs: ['windows-guest', 'suspend'] }),
    // save-restore as the catalogue's scenario has it, on the IDE disk XAPI gives an HVM guest
    scenario('save-restore', [
      { kind: 'install-drivers', guest: 'win', bundle: 'builtin:9.1.0', reboot: true, source: src },
      { kind: 'wait', guest: 'win', path: 'device/vbd/768/state', equals: '4', timeoutMs: 10_000, source: src },
      { kind: 'wait', guest: 'win', path: 'device/vif/0/state', equals: '4', timeoutMs: 10_000, source: src },
      { kind: 'block', guest: 'win', device: 'vbd/768', blockSize: 4096, queueDepth: 8, threads: 1, writePercent: 50, pattern: 'random', durationMs: 1000, verify: true, source: src },
      { kind: 'save-restore', guest: 'win', source: src },
      { kind: 'wait', guest: 'win', path: 'device/vbd/768/state', equals: '4', timeoutMs: 10_000, source: src },
      { kind: 'wait', guest: 'win', path: 'device/vif/0/state', equals: '4', timeoutMs: 10_000, source: src },
      { kind: 'block', guest: 'win', device: 'vbd/768', blockSize: 4096, queueDepth: 8, threads: 1, writePercent: 50, pattern: 'random', durationMs: 1000, verify: true, source: src },
    ], { needs: ['windows-guest', 'save-restore'] }),
    scenario('needs-grant-audit', [{ kind: 'sleep', durationMs: 1, source: src }], { needs: ['grant-audit'] }),
  ];
  const host = pool.host();
  const runPlanned = plan(scenarios, { seed: 7, capabilities: host.capabilities, hostKind: host.kind });
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-run-'));
  const trace = new TraceWriter({ file: join(dir, 'trace.jsonl') });
  const out = new PassThrough();
  let tap = '';
  out.on('data', (b) => (tap += b));
  const outcome = await runPlan({
    host, plan: runPlanned, specs: loadSpecs(), specHashes: {}, trace, reporter: new TapStreamReporter(out),
    openBundle: async (path, drivers) => ({ bundle: { location: path, version: '9.1.0.156', drivers }, cleanup: async () => undefined }),
  });
  t.comment(tap);

  const results: { ok: boolean; name: string }[] = [];
  const p = new Parser();
  p.on('assert', (a: { ok: boolean; name: string }) => results.push(a));
  await new Promise<void>((resolve) => {
    p.on('complete', () => resolve());
    p.end(tap);
  });
  t.equal(outcome.hostError, undefined, 'no host failure');
  t.same(results.map((r) => r.name.split(' ')[0]), ['install-connect', 'suspend-resume', 'save-restore', 'needs-grant-audit']);
  t.ok(results[0].ok, 'install-connect passes every check on the pool');
  t.ok(results[1].ok, 'suspend-resume passes every check: guest-keys follows the guest into the domain VM.resume built');
  t.ok(results[2].ok, 'save-restore (VM.suspend into a suspend VDI, VM.resume into a new domain) passes every check');
  t.match(tap, /# SKIP.*grant-audit/i, 'a scenario needing a capability XenAPI lacks is skipped with the reason');
  const ends = trace.events.filter((e) => e.ev === 'scenario.end');
  t.same(ends.map((e) => (e as { status: string }).status), ['completed', 'completed', 'completed'], 'every runnable scenario completed every step');
  const lifecycle = (inst: string) => trace.events.filter((e) => e.ev === 'guest' && e.inst === inst).map((e) => e.ev === 'guest' ? `${e.what}:${e.domid}` : '');
  const sr = lifecycle('suspend-resume');
  const at = (l: string[], what: string) => Number(l.find((x) => x.startsWith(`${what}:`))?.split(':')[1]);
  t.ok(sr.indexOf(`suspending:${at(sr, 'suspended')}`) >= 0 && sr.indexOf(`suspending:${at(sr, 'suspended')}`) < sr.indexOf(`suspended:${at(sr, 'suspended')}`), `suspending comes before suspended, in the old domain: ${sr.join(' ')}`);
  t.not(at(sr, 'resumed'), at(sr, 'suspended'), 'VM.resume built a new domain (new domid)');
  t.ok(trace.events.some((e) => e.ev === 'xs' && e.inst === 'suspend-resume' && e.guest === 'win' && e.path === `/local/domain/${at(sr, 'resumed')}/control/feature-suspend` && e.value === '1'),
    'the probe followed the guest into its new domain and saw control/feature-suspend written again');
  const sv = lifecycle('save-restore');
  t.ok(at(sv, 'restored') > at(sv, 'saved'), `save-restore: restored under a new domid (${sv.join(' ')})`);
  const blk = trace.events.find((e) => e.ev === 'workload');
  t.ok(blk && blk.ev === 'workload' && blk.result.kind === 'block' && blk.result.iops > 10000, 'the diskspd result is in the trace');
  t.ok(trace.events.some((e) => e.ev === 'xs' && /device\/vbd\/832\/state$/.test(e.path) && e.value === '4'), 'the xenstore probe recorded the frontend connecting');
  t.ok(trace.events.some((e) => e.ev === 'guest' && e.what === 'suspended') && trace.events.some((e) => e.ev === 'guest' && e.what === 'resumed'));
  const fromIso = trace.events.filter((e) => e.ev === 'drivers' && e.inst === 'suspend-resume');
  t.ok(fromIso.length > 0 && fromIso.every((e) => e.ev === 'drivers' && e.bound.every((b) => b.version === '9.1.0')), 'the drivers came from the pool ISO winpv-9.1.0.iso');
  t.same(leftovers(pool.srv), [], 'a normal run leaves nothing on the pool');
  writeReports(dir, outcome.summary, { runId: host.runId, startedAt: '2026-11-24T06:00:00Z', inputs: ['scenarios/xapi-smoke.xml'], command: 'winpv run --host xapi://root@pool-master.test' }, trace.events);
  const files = readdirSync(dir);
  t.same(files.sort(), ['junit.xml', 'report.html', 'results.tap', 'summary.json', 'trace.jsonl']);
  const all = files.map((f) => readFileSync(join(dir, f), 'utf8')).join('\n') + tap;
  for (const pw of [XAPI_PW, GUEST_PW, DOM0_PW]) t.notMatch(all, pw, 'no password in any report, the trace or the TAP');
});

t.test('the catalogue on the XenAPI test pool: every scenario the pool can run passes, the rest are skipped with the reason', async (t) => {
  const pool = await startPool({ guests: 2, dom0: true });
  t.teardown(() => pool.close());
  const repo = join(__dirname, '..', '..', '..', '..');
  const files = readdirSync(join(repo, 'scenarios')).filter((f) => f.endsWith('.xml')).map((f) => join(repo, 'scenarios', f));
  const host = pool.host();
  const trace = new TraceWriter();
  const out = new PassThrough();
  let tap = '';
  out.on('data', (b) => (tap += b));
  const outcome = await runPlan({ host, plan: plan(loadScenarios(files, repo), { seed: 11, capabilities: host.capabilities, hostKind: host.kind }), specs: loadSpecs(), specHashes: {}, trace, reporter: new TapStreamReporter(out) });
  t.comment(tap);
  t.equal(outcome.hostError, undefined);
  t.notMatch(tap, /^\s*not ok/m, 'every check of every runnable catalogue scenario passes on the pool');
  const skipped = [...tap.matchAll(/^ok \d+ - (\S+) # SKIP (.*)$/gm)].map((m) => `${m[1]}: ${m[2]}`);
  t.ok(skipped.every((s) => /lacks '(backend-keys|linux-guest)'/.test(s)), `skips name the capability XenAPI lacks: ${skipped.join('; ')}`);
  const ran = trace.events.filter((e) => e.ev === 'scenario.end').map((e) => (e as { inst: string }).inst);
  for (const name of ['install-connect', 'vbd-connect', 'multi-disk-parallel-io', 'hot-unplug-vbd-under-io', 'upgrade-over-older', 'two-guests-traffic', 'vif-replug-x3', 'migrate-under-io', 'save-restore', 'suspend-resume-x3-under-io']) {
    t.ok(ran.includes(name), `${name} ran on the pool`);
  }
  // The scenarios name disks the Xen way (xvda = vbd/51712); XAPI put userdevice 0 of the HVM guest on
  // IDE, so the runner resolved waits and workloads to vbd/768 and said so in the trace.
  t.ok(trace.events.some((e) => e.ev === 'log' && /xvda \(vbd\/51712\) is vbd\/768/.test(e.msg)), 'the trace says where xvda went');
  const blockDevs = new Set(trace.events.filter((e) => e.ev === 'workload' && e.result.kind === 'block').map((e) => (e as { dev: string }).dev));
  t.ok(blockDevs.has('vbd/768') && !blockDevs.has('vbd/51712'), `block workloads ran on the devices the guest has: ${[...blockDevs].join(', ')}`);
  t.ok(pool.dom0!.ntttcpRuns.length >= 4, 'network workloads without a peer guest ran against ntttcp-for-linux in dom0');
  t.ok(pool.dom0!.ntttcpRuns.every((r) => /^(-r -N -m \d+,\*,127\.0\.0\.1|-s -N -m \d+,\*,127\.0\.0\.[23]) -t \d+$/.test(r)), `dom0 received from the guest at its own address, or sent to the guest's (no sync handshake): ${pool.dom0!.ntttcpRuns.join(' | ')}`);
  const nets = trace.events.filter((e) => e.ev === 'workload' && e.result.kind === 'net');
  t.ok(nets.length >= 3, `${nets.length} NTttcp results in the trace`);
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
  t.notMatch(JSON.stringify(trace.events) + tap, XAPI_PW);
});

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
  const trace = new TraceWriter();
  const out = new PassThrough();
  let tap = '';
  out.on('data', (b) => (tap += b));
  const outcome = await runPlan({ host, plan: plan([s], { seed: 3, capabilities: host.capabilities, hostKind: host.kind }), specs: loadSpecs(), specHashes: {}, trace, reporter: new TapStreamReporter(out) });
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
      crashes.push({ inst, dump: inst === 'crash-with-dump' ? d.writeCrashDump('full').data : undefined });
      pool.srv.pool.crash(vm);
    }
  }, 20);
  t.teardown(() => clearInterval(timer));
  const out = new PassThrough();
  let tap = '';
  out.on('data', (b) => (tap += b));
  const outcome = await runPlan({
    host, plan: plan([crashDuringSleep('crash-with-dump'), crashDuringSleep('crash-without-dump')], { seed: 5, capabilities: host.capabilities, hostKind: host.kind }),
    specs: loadSpecs(), specHashes: {}, trace, reporter: new TapStreamReporter(out), artifactsDir: join(dir, 'artifacts'),
  });
  clearInterval(timer);
  t.equal(outcome.hostError, undefined);
  t.same(crashes.map((c) => c.inst), ['crash-with-dump', 'crash-without-dump'], 'the guest crashed once in each scenario');
  const [withDump, without] = outcome.summary.instances;
  const alive = (r: typeof withDump) => r!.checks.find((c) => c.check === 'guest-alive')!;
  t.equal(withDump!.verdict, 'fail', 'a crash is not ok');
  t.match(alive(withDump).message, /win \(domid \d+\) crashed; crash dump artifacts\/crash-with-dump\/win-MEMORY\.DMP/);
  const expected = createHash('sha256').update(crashes[0]!.dump!).digest('hex');
  t.same(alive(withDump).diagnostics?.crashDump, { path: 'artifacts/crash-with-dump/win-MEMORY.DMP', bytes: crashes[0]!.dump!.length, sha256: expected, source: 'C:\\Windows\\MEMORY.DMP' });
  const copied = readFileSync(join(dir, 'artifacts', 'crash-with-dump', 'win-MEMORY.DMP'));
  t.equal(createHash('sha256').update(copied).digest('hex'), expected, 'the dump in the run directory is the one Windows wrote, byte for byte');
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
  const outcome = await runPlan({ host, plan: plan([vendor('vendor-verifier'), vendor('vendor-verifier-blocked')], { seed: 9, capabilities: host.capabilities, hostKind: host.kind }), specs: loadSpecs(), specHashes: {}, trace, reporter: new TapStreamReporter(new PassThrough()) });
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
  const outcome = await runPlan({
    host, plan: plan(order, { seed: 1, capabilities: host.capabilities, hostKind: host.kind }), specs: loadSpecs(), specHashes: {}, trace, reporter: new TapStreamReporter(new PassThrough()),
    openBundle: async (path, drivers) => ({ bundle: { location: path, version: /9\.2\.0/.test(readFileSync(join(path, 'xenbus', 'xenbus.inf'), 'utf8')) ? '9.2.0.1' : '9.1.0.1', drivers }, cleanup: async () => undefined }),
  });
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
  const outcome = await runPlan({ host, plan: plan([s], { seed: 2, capabilities: host.capabilities, hostKind: host.kind }), specs: loadSpecs(), specHashes: {}, trace, reporter: new TapStreamReporter(new PassThrough()), artifactsDir: join(dir, 'artifacts') });
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
  const trace = new TraceWriter();
  const outcome = await runPlan({ host, plan: plan([s], { seed: 4, capabilities: host.capabilities, hostKind: host.kind }), specs: loadSpecs(), specHashes: {}, trace, reporter: new TapStreamReporter(new PassThrough()) });
  const r = outcome.summary.instances[0]!;
  t.equal(r.aborted, undefined, `every step completed: ${JSON.stringify(r.aborted)}`);
  t.equal(trace.events.filter((e) => e.ev === 'workload').length, 2, 'both diskspd runs came back');
  t.equal(r.verdict, 'pass', r.checks.filter((c) => c.verdict === 'fail').map((c) => c.message).join('; '));
});
