// The runner drives the XenAPI backend end to end (test pool, dom0 and Windows doubles over SSH):
// scenarios in, TAP out, nothing left on the pool, no password anywhere in what the run wrote.
import t from 'tap';
import { Parser } from 'tap-parser';
import { startPool, makeBundle, leftovers, XAPI_PW, GUEST_PW, DOM0_PW } from '../../support/xapi-pool';
import { runPlanned } from '../../support/run-plan';
import type { Scenario } from '../../../src/model/scenario';
import { writeReports } from '../../../src/report/files';
import { loadScenarios } from '../../../src/scenario/load';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scenario, src } from './pool-scenarios';

// Latency, not work: 127 s alone, but beside a whole suite on 2 cores the XenAPI files took 250 s and
// more (a fresh-machine rehearsal's stopped at tap's 300 s): a deadline of its own, still bounded.
t.setTimeout(900_000);

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
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-run-'));
  const { outcome, trace, tap } = await runPlanned({
    host, plan: scenarios, seed: 7, traceFile: join(dir, 'trace.jsonl'), tap: true,
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
  const { outcome, trace, tap } = await runPlanned({ host, plan: loadScenarios(files, repo), seed: 11, tap: true });
  t.comment(tap);
  t.equal(outcome.hostError, undefined);
  // backend-restart restarts a data disk's backend (VBD.unplug + VBD.plug on XenAPI; the system
  // disk would be refused with DEVICE_DETACH_REJECTED, tested in reality.test.ts).
  t.same([...tap.matchAll(/^not ok \d+ - (\S+)/gm)].map((m) => m[1]), [], 'every runnable catalogue scenario passes on the pool');
  const skipped = [...tap.matchAll(/^ok \d+ - (\S+) # SKIP (.*)$/gm)].map((m) => `${m[1]}: ${m[2]}`);
  t.ok(skipped.every((s) => /lacks '(backend-keys|linux-guest|balloon|destination-backend-keys|xeniface-store|disk-backend)'|has no artefact for builtin:\d[\d.]*@[A-Z]{2} .*name the real one in the "bundles" of/.test(s)), `skips name the capability XenAPI lacks, or the artefact its config does not name: ${skipped.join('; ')}`);
  // items 4 and 5 of the field scenarios name another vendor's tools, which this pool's config does
  // not name (vendor-packages.test.ts runs them with the tools named)
  for (const name of ['staged-update-one-reboot', 'coexistence-over-other-vendor[device=0001]', 'coexistence-installer-refuses[device=0002]']) {
    t.ok(skipped.some((s) => s.startsWith(`${name}: host xapi has no artefact for builtin:`)), `${name} skipped for the artefact, not a capability`);
  }
  const ran = trace.events.filter((e) => e.ev === 'scenario.end').map((e) => (e as { inst: string }).inst);
  for (const name of ['backend-restart', 'install-connect', 'vbd-connect', 'multi-disk-parallel-io', 'hot-unplug-vbd-under-io', 'upgrade-over-older', 'two-guests-traffic', 'vif-replug-x3', 'migrate-under-io', 'save-restore', 'suspend-resume-x3-under-io']) {
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
  const logs = trace.events.filter((e) => e.ev === 'log').map((e) => (e as { msg: string }).msg);
  t.ok(logs.some((m) => /^backend-restart of win vbd\/\d+ on xapi: replug \(toolstack unplug and plug/.test(m)), 'every backend-restart names its kind: replug on XenAPI');
  t.ok(logs.some((m) => /data disk xvde .* created and plugged/.test(m)), 'verifying workloads aimed at xvda ran on a data disk of the run');
  t.ok(pool.doubles.every((d) => d.state.verifyRuns.every((v) => v.proves)), 'every verify pass was unbuffered and write-through, on a data disk');
  t.ok(pool.doubles.every((d) => d.state.diskspdRuns.every((r) => r.cacheBypassed)), 'every diskspd run bypassed the caches (-Sh)');
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
  t.notMatch(JSON.stringify(trace.events) + tap, XAPI_PW);
});
