// Items 4 and 5 of the field scenarios on the XenAPI test pool (XenAPI double, Windows guest double):
// the catalogue's staged-update-one-reboot, coexistence-over-other-vendor and
// coexistence-installer-refuses name builtin:<version>@<vendor> bundles, the simulator's models of
// another vendor's tools. A pool runs them with the real tools its config names ("bundles": an ISO
// on its ISO SR); without them each instance is skipped saying what to provide. With them they pass,
// and each fails with its planted fault where the Windows double has one. Beside them, the vendor
// installer's uninstall (msiexec /x) on the pool, and its 1603.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPool, vendorToolsDisc, type Pool } from '../../support/xapi-pool';
import { runPlanned } from '../../support/run-plan';
import { loadScenarios } from '../../../src/scenario/load';
import type { TraceEvent } from '../../../src/model/trace';
import { scenario, src } from './pool-scenarios';

const repo = join(__dirname, '..', '..', '..', '..');
const scenarios = (...names: string[]) => loadScenarios(names.map((f) => join(repo, 'scenarios', `${f}.xml`)), repo);
const XS_900 = 'XenServer-VM-Tools-9.0.0.iso';
const XS_910 = 'XenServer-VM-Tools-9.1.0.iso';

/** The pool with XenServer's tools on its ISO SR and named in the host's config. */
async function poolWithVendorTools(t: Test, named = true): Promise<Pool> {
  const pool = await startPool({ guests: 1, dom0: true });
  t.teardown(() => pool.close());
  pool.addIso(XS_900, vendorToolsDisc('XenServer', '9.0.0'));
  pool.addIso(XS_910, vendorToolsDisc('XenServer', '9.1.0'));
  if (named) pool.cfg.bundles = { '9.0.0@XS': `iso:${XS_900}`, '9.1.0@XS': `iso:${XS_910}` };
  return pool;
}

async function run(t: Test, pool: Pool, names: string[], extra: { artifactsDir?: string } = {}, plan = scenarios(...names)): Promise<{ tap: string; events: TraceEvent[] }> {
  const { tap, trace } = await runPlanned({ host: pool.host(), plan, seed: 3, tap: true, ...extra });
  t.comment(tap);
  return { tap, events: trace.events };
}

t.test('without the other vendor\'s tools named, each instance is skipped saying exactly what to provide', async (t) => {
  const pool = await poolWithVendorTools(t, false);
  const { tap } = await run(t, pool, ['staged-update-one-reboot', 'coexistence-installer-refuses', 'coexistence-over-other-vendor']);
  t.notMatch(tap, /^not ok/m);
  const skips = [...tap.matchAll(/^ok \d+ - (\S+) # SKIP (.*)$/gm)].map((m) => [m[1], m[2]]);
  t.equal(skips.length, 5, 'all five instances skipped');
  t.match(Object.fromEntries(skips), {
    'staged-update-one-reboot': /has no artefact for builtin:9\.1\.0@XS \(the Xen PV tools of vendor XS, version 9\.1\.0\), a model only the simulator has: name the real one in the "bundles" of xapi:\/\/root@pool-master\.test's entry in the config file, "9\.1\.0@XS": "iso:<its ISO file on the pool's ISO SR>" or "<absolute path of a bundle directory, ISO or zip with manifest\.json>"/,
    'coexistence-over-other-vendor[device=0001]': /builtin:9\.0\.0@XS .*"9\.0\.0@XS": "iso:/,
  });
  t.equal(pool.srv.pool.calls.filter((c) => c.method === 'VM.clone').length, 0, 'no guest was made for a skipped instance');
});

t.test('with XenServer\'s tools named: the three scenarios run on the pool and pass, the installer\'s 1603 log collected', async (t) => {
  const pool = await poolWithVendorTools(t);
  const dir = mkdtempSync(join(tmpdir(), 'winpv-vendor-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { tap, events } = await run(t, pool, ['staged-update-one-reboot', 'coexistence-installer-refuses', 'coexistence-over-other-vendor'], { artifactsDir: join(dir, 'artifacts') });
  t.same([...tap.matchAll(/^(not ok|ok) \d+ - (\S+)/gm)].map((m) => `${m[1]} ${m[2]}`), [
    'ok staged-update-one-reboot', 'ok coexistence-installer-refuses[device=0001]', 'ok coexistence-installer-refuses[device=0002]',
    'ok coexistence-over-other-vendor[device=0001]', 'ok coexistence-over-other-vendor[device=0002]',
  ], 'every instance ran and passed');
  t.notMatch(tap, /^ok \d+ - \S+ # SKIP/m, 'no instance skipped');
  const logs = events.filter((e) => e.ev === 'log').map((e) => (e as { msg: string }).msg);
  t.ok(logs.some((m) => m.includes(`builtin:9.0.0@XS is iso:${XS_900} on this host`)), 'the trace says which artefact stood in for the builtin');
  t.ok(logs.some((m) => /removed .*xenbus 9\.0\.0 of XenServer/.test(m)), 'vendor="XS" removed XenServer\'s packages by their provider');
  const artifacts = events.filter((e) => e.ev === 'artifact' && e.kind === 'installer-log');
  t.equal(artifacts.length, 2, 'one installer log per 1603 (one per device id)');
  const first = artifacts[0] as { path?: string; source?: string };
  t.match(first.source, /^C:\\Windows\\Temp\\winpv-install-9\.1\.0\.log$/);
  t.match(readFileSync(join(dir, first.path!)).toString('utf16le'), /other Xen PV drivers are installed: .*\(XenServer\)/, 'the collected log says why the installer failed');
  t.ok(events.some((e) => e.ev === 'log' && /failed \(1603: fatal error during installation\); its log is artifacts\//.test((e as { msg: string }).msg)), 'the 1603 names where its log is in the report');
});

const planted: { scenario: string; plant: (pool: Pool) => void; cause: RegExp }[] = [
  { scenario: 'staged-update-one-reboot', plant: (p) => { p.doubles[0]!.state.rebootRequestLost = true; }, cause: /not ok \d+ - drivers-bound: win: xenv(if|bd): 9\.1\.0 installed, start refused until a reboot, no reboot requested/ },
  { scenario: 'coexistence-over-other-vendor', plant: (p) => { p.doubles[0]!.state.nicSettingsNotCopied = true; }, cause: /not ok \d+ - nic-settings: win vif\/1 .*lost its static configuration/ },
  { scenario: 'coexistence-installer-refuses', plant: (p) => { p.doubles[0]!.state.removalVetoed.add('xenvbd'); }, cause: /pnputil kept xenvbd\.inf 9\.0\.0 of XenServer/ },
];

for (const p of planted) {
  t.test(`planted on the pool: ${p.scenario} fails, naming the cause`, async (t) => {
    const pool = await poolWithVendorTools(t);
    p.plant(pool);
    const plan = scenarios(p.scenario);
    // one instance is enough (the device id does not change what the fault does)
    if (plan[0]!.matrix.length) plan[0]!.matrix = [{ ...plan[0]!.matrix[0]!, values: ['0002'] }];
    const { tap } = await run(t, pool, [], {}, plan);
    t.match(tap, new RegExp(`^not ok 1 - ${p.scenario}`, 'm'));
    t.match(tap, p.cause);
  });
}

const viaInstaller = () => scenario('installer-lifecycle', [
  { kind: 'install-drivers', guest: 'win', bundle: 'builtin:9.1.0', method: 'installer', reboot: true, source: src },
  { kind: 'uninstall-drivers', guest: 'win', method: 'installer', reboot: true, source: src },
], { needs: ['windows-guest', 'vendor-installer', 'driver-uninstall'], checks: [{ name: 'drivers-bound', params: {} }, { name: 'guest-alive', params: {} }] });

t.test('the vendor installer\'s uninstall on the pool: msiexec /x of the product the install registered; after the reboot nothing is bound', async (t) => {
  const pool = await poolWithVendorTools(t);
  const { tap } = await run(t, pool, [], {}, [viaInstaller()]);
  t.match(tap, /^ok 1 - installer-lifecycle/m);
  t.ok(pool.doubles[0]!.state.scripts.some((s) => /^# winpv:msiexec-uninstall/.test(s)), 'msiexec /x ran in the guest');
  t.same(pool.doubles[0]!.state.products.size, 0);
});

t.test('planted on the pool: the uninstall\'s custom action fails: the step is not ok with 1603, its log collected', async (t) => {
  const pool = await poolWithVendorTools(t);
  pool.doubles[0]!.state.failNextUninstall = 1603;
  const dir = mkdtempSync(join(tmpdir(), 'winpv-uninstall-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { tap, events } = await run(t, pool, [], { artifactsDir: join(dir, 'artifacts') }, [viaInstaller()]);
  t.match(tap, /^not ok 1 - installer-lifecycle/m);
  t.match(tap, /msiexec \/x \{[0-9A-F-]+\} \(Xen PV Drivers for Windows 9\.1\.0\) failed \(1603: fatal error during installation\); its log is artifacts\//);
  const log = events.find((e) => e.ev === 'artifact' && e.kind === 'installer-log') as { path?: string } | undefined;
  t.ok(log?.path, 'the uninstall log is an installer-log artifact of the run');
  t.match(readFileSync(join(dir, log!.path!)).toString('utf16le'), /UninstallDrivers returned actual error code 1603/);
});
