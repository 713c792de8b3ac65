// `winpv run --host <pool>` end to end, as a user runs it: a config file naming the pool (password
// from the environment), the catalogue's scenario files, reports in reports/<run-id>/ with
// `latest` pointing at them, nothing left on the pool and no password in anything the run wrote.
import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../../src/cli/main';
import { LEASE_LOCK_KEY, LEASE_PREFIX } from '../../../src/model/lease';
import { startPool, leftovers, nestedBundle, TEMPLATE, XAPI_PW, GUEST_PW, type Pool } from '../../support/xapi-pool';

// Latency, not work: 58 s alone, but beside a whole suite on 2 cores the XenAPI files took 250 s and
// more (a fresh-machine rehearsal's stopped at tap's 300 s): a deadline of its own, still bounded.
t.setTimeout(900_000);

const repo = resolve(__dirname, '..', '..', '..', '..');

function io(env: NodeJS.ProcessEnv) {
  const o = { out: '', err: '' };
  return {
    o,
    ctx: { out: { write: (s: string) => ((o.out += s), true) } as never, err: { write: (s: string) => ((o.err += s), true) } as never, cwd: repo, env },
  };
}

/** The pool's entry in a user's config.json: only the names of the password variables, never a password. */
/** The user's config naming the pool as host `pool`; `entry` adds to (or overrides) that host's entry. */
function userConfig(pool: Pool, dir: string, entry: Record<string, unknown> = {}): { config: string; env: NodeJS.ProcessEnv } {
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${pool.dom0!.ssh.knownHostsLine}\n`);
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({
    hosts: {
      pool: {
        url: `xapi://root@127.0.0.1:${pool.srv.port}`, passwordEnv: 'TEST_POOL_PW', insecure: true,
        template: TEMPLATE, isoSr: 'ISOs', knownHostsFile: knownHosts, dom0Port: pool.dom0!.ssh.port,
        guestUser: 'Administrator', guestPort: pool.doubles[0]!.port, guestPasswordEnv: 'TEST_WIN_PW', guestHostKeySha256: pool.doubles[0]!.hostKeyFingerprint,
        ...entry,
      },
    },
  }, null, 2));
  return { config, env: { TEST_POOL_PW: XAPI_PW, TEST_WIN_PW: GUEST_PW, HOME: dir, WINPV_CONFIG: config } };
}

const filesBelow = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? filesBelow(join(dir, d.name)) : d.isFile() ? [join(dir, d.name)] : []));

t.test('winpv run --host pool: catalogue scenarios on the pool, reports out, nothing left', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true, dom0Password: XAPI_PW });
  t.teardown(() => pool.close());
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-cli-'));
  const { env } = userConfig(pool, dir);
  const reports = join(dir, 'reports');
  const r = io(env);
  const scenarios = ['install-connect', 'save-restore', 'suspend-resume-x3-under-io', 'hot-unplug-vbd-under-io'].map((n) => `scenarios/${n}.xml`);
  const code = await main(['run', '--host', 'pool', '--report-dir', reports, '--reporter', 'tap', ...scenarios], r.ctx);
  t.comment(r.o.out);
  t.equal(code, 0, 'exit 0, every check ok');
  t.notMatch(r.o.out, /^\s*not ok/m);
  t.match(r.o.out, /^ok \d+ - suspend-resume-x3-under-io/m);
  const runDir = join(reports, readlinkSync(join(reports, 'latest')));
  t.same(readdirSync(runDir).sort(), ['junit.xml', 'report.html', 'results.tap', 'summary.json', 'trace.jsonl'], 'the run directory holds every report (and no artifacts: nothing crashed)');
  const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
  t.match(summary, { host: { kind: 'xapi', label: `xapi://root@127.0.0.1:${pool.srv.port}` }, counts: { instances: 4, passed: 4, failed: 0 } });
  const trace = readFileSync(join(runDir, 'trace.jsonl'), 'utf8');
  t.match(trace, /"what":"restored"/, 'save-restore went through VM.suspend / VM.resume');
  t.equal((trace.match(/"what":"resumed"/g) ?? []).length, 3, 'three resumes, each followed into its new domain');
  t.same(leftovers(pool.srv), [], 'a normal run leaves nothing on the pool');
  const written = filesBelow(dir).filter((f) => !f.endsWith('config.json')).map((f) => readFileSync(f, 'utf8')).join('\n') + r.o.out + r.o.err;
  for (const pw of [XAPI_PW, GUEST_PW]) t.notMatch(written, pw, 'no password in any report, the trace or the output');
});

t.test('winpv run --host pool: a Windows crash is not ok and its dump is in reports/<run-id>/artifacts', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true, dom0Password: XAPI_PW });
  t.teardown(() => pool.close());
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-cli-'));
  const { env } = userConfig(pool, dir);
  const scenarioFile = join(dir, 'bugcheck-under-io.xml');
  writeFileSync(scenarioFile, readFileSync(join(repo, 'scenarios', 'install-connect.xml'), 'utf8')
    .replace('name="install-connect"', 'name="bugcheck-under-io"')
    .replace(/<net [^>]*\/>/, '<sleep duration="3s"/>'));
  // The guest bugchecks a moment after it first reports PV drivers (after the install's reboot);
  // Windows writes MEMORY.DMP from the page file when XAPI restarts it.
  let dump: Buffer | undefined;
  pool.srv.pool.listeners.add((cls, op, _ref, rec) => {
    if (dump || cls !== 'VM_guest_metrics' || op !== 'add' || rec?.PV_drivers_detected !== true) return;
    const [vm, d] = [...pool.byVm][0]!;
    dump = d.writeCrashDump('full').data;
    setTimeout(() => pool.srv.pool.crash(vm), 1500);
  });
  const reports = join(dir, 'reports');
  const r = io(env);
  const code = await main(['run', '--host', 'pool', '--report-dir', reports, scenarioFile], r.ctx);
  t.equal(code, 1, 'exit 1: a check failed');
  t.match(r.o.out, /guest-alive/);
  const runDir = join(reports, readlinkSync(join(reports, 'latest')));
  const copied = readFileSync(join(runDir, 'artifacts', 'bugcheck-under-io', 'win-MEMORY.DMP'));
  const sha = createHash('sha256').update(dump!).digest('hex');
  t.equal(createHash('sha256').update(copied).digest('hex'), sha, 'the dump Windows wrote is in the run directory');
  const tap = readFileSync(join(runDir, 'results.tap'), 'utf8');
  t.match(tap, new RegExp(`not ok \\d+ - guest-alive: win \\(domid \\d+\\) crashed; crash dump artifacts/bugcheck-under-io/win-MEMORY\\.DMP`));
  t.match(tap, new RegExp(`"sha256":"${sha}"`));
  t.match(readFileSync(join(runDir, 'junit.xml'), 'utf8'), /crash dump artifacts\/bugcheck-under-io\/win-MEMORY\.DMP/, 'JUnit names it too');
  t.match(readFileSync(join(runDir, 'report.html'), 'utf8'), /<a href="artifacts\/bugcheck-under-io\/win-MEMORY\.DMP">/);
  const check = io(env);
  t.equal(await main(['check', join(runDir, 'trace.jsonl')], check.ctx), 1, 'winpv check judges the stored trace the same');
  t.equal(check.o.out, tap, 'byte for byte the TAP of the live run');
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
});

/** install-connect with its bundle replaced (a path, or iso:/builtin:) and, optionally, another template. */
function installScenario(dir: string, bundle: string, name: string): string {
  const file = join(dir, `${name}.xml`);
  writeFileSync(file, readFileSync(join(repo, 'scenarios', 'install-connect.xml'), 'utf8')
    .replace('name="install-connect"', `name="${name}"`)
    .replace('bundle="builtin:9.1.0"', `bundle="${bundle}"`));
  return file;
}

t.test('winpv run --host pool: a bundle refused as bad input exits 2 (not 1), nothing left on the pool', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true, dom0Password: XAPI_PW });
  t.teardown(() => pool.close());
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-cli-'));
  const { env } = userConfig(pool, dir);
  const bundle = await nestedBundle('9.1.0.42');
  const m = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'));
  writeFileSync(join(bundle, 'manifest.json'), JSON.stringify({ ...m, arch: 'x86' }));
  const r = io(env);
  const code = await main(['run', '--host', 'pool', '--report-dir', join(dir, 'reports'), '--reporter', 'tap', installScenario(dir, bundle, 'x86-bundle')], r.ctx);
  t.equal(code, 2, 'exit 2: bad input (BUNDLE_ARCH), not a failed test');
  t.match(r.o.out, /not ok \d+ - steps[^\n]*BUNDLE_ARCH|BUNDLE_ARCH/);
  const runDir = join(dir, 'reports', readlinkSync(join(dir, 'reports', 'latest')));
  const check = io(env);
  t.equal(await main(['check', join(runDir, 'trace.jsonl')], check.ctx), 2, 'winpv check of the stored trace exits the same');
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
});

t.test('winpv run --host pool: a test-signed build under Secure Boot exits 2, the guest untouched', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true, dom0Password: XAPI_PW });
  t.teardown(() => pool.close());
  pool.doubles[0]!.state.secureBoot = true;
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-cli-'));
  const { env } = userConfig(pool, dir);
  const r = io(env);
  const code = await main(['run', '--host', 'pool', '--report-dir', join(dir, 'reports'), '--reporter', 'tap', installScenario(dir, await nestedBundle('9.1.0.42'), 'testsign-secure-boot')], r.ctx);
  t.equal(code, 2, 'exit 2: SECURE_BOOT_TEST_SIGNED is bad input');
  t.match(r.o.out, /SECURE_BOOT_TEST_SIGNED/);
  t.equal(pool.doubles[0]!.state.store.size, 0, 'no driver package reached the guest');
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
});

t.test('winpv run --host pool: an ISO the pool does not have is found by the preflight: exit 3 (not 1), nothing left', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true, dom0Password: XAPI_PW });
  t.teardown(() => pool.close());
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-cli-'));
  const { env } = userConfig(pool, dir);
  // the pool answers, but has no ISO by that name: the preflight (winpv doctor's checks, asked of
  // every real host before it gets work) says so before anything is created; the install's own
  // refusal (XAPI_NO_ISO, when the ISO goes between the preflight and the install) is iso-disc.test's,
  // the clone's XAPI_NO_TEMPLATE reality.test's
  const r = io(env);
  const code = await main(['run', '--host', 'pool', '--report-dir', join(dir, 'reports'), '--reporter', 'tap', installScenario(dir, 'iso:no-such.iso', 'missing-iso')], r.ctx);
  t.equal(code, 3, 'exit 3: a host error, although the pool still answers');
  t.match(r.o.out, /Bail out! host failure: preflight: iso: no ISO 'no-such\.iso' in ISO SR\s+'ISOs'/);
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
});

t.test('winpv run --host pool: a wrong template and a full SR exit 3 naming what and where, nothing left', async (t) => {
  const pool = await startPool({ guests: 1, dom0: true, dom0Password: XAPI_PW });
  t.teardown(() => pool.close());
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-cli-'));
  const { config, env } = userConfig(pool, dir);
  const c = JSON.parse(readFileSync(config, 'utf8'));
  c.hosts.pool.template = 'Windows Server 2019 (no such template)';
  writeFileSync(config, JSON.stringify(c));
  const r = io(env);
  t.equal(await main(['run', '--host', 'pool', '--report-dir', join(dir, 'reports'), '--reporter', 'tap', 'scenarios/install-connect.xml'], r.ctx), 3, 'wrong template: exit 3');
  t.match(r.o.out, /preflight: template: no template named 'Windows\s+Server 2019 \(no such template\)'/, 'found by the preflight');
  c.hosts.pool.template = TEMPLATE;
  writeFileSync(config, JSON.stringify(c));
  const p = pool.srv.pool;
  p.set(p.defaultSr, { physical_utilisation: Number(p.get(p.defaultSr).physical_size) - 2 ** 20 });
  const full = io(env);
  t.equal(await main(['run', '--host', 'pool', '--report-dir', join(dir, 'reports'), '--reporter', 'tap', 'scenarios/install-connect.xml'], full.ctx), 3, 'full SR: exit 3');
  // found by the preflight before the clone (sm's own refusal, error 44 "There is insufficient
  // space", and XAPI_SR_FULL are host.test's and reality.test's)
  t.match(full.o.out, /preflight: sr: SR 'Local storage': 0\.0 GiB free, a\s+run needs \d+\.\d GiB/);
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
});

t.test('winpv run --host pool: a run of one instance leases one slot of a pool of capacity 2, leaving the other to other runs', { timeout: 120_000 }, async (t) => {
  const pool = await startPool({ guests: 1, dom0: true, dom0Password: XAPI_PW });
  t.teardown(() => pool.close());
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-cli-'));
  const { env } = userConfig(pool, dir, { capacity: 2 });
  // the leases the run holds, as another run sees them: slot keys in the pool's other_config
  const p = pool.srv.pool;
  const slotsHeld = () => Object.keys(p.get(p.poolRef).other_config as Record<string, string>).filter((k) => k.startsWith(LEASE_PREFIX) && k !== LEASE_LOCK_KEY).length;
  let most = 0;
  const sampler = setInterval(() => (most = Math.max(most, slotsHeld())), 10);
  t.teardown(() => clearInterval(sampler));
  const r = io(env);
  const code = await main(['run', '--host', 'pool', '--report-dir', join(dir, 'reports'), '--reporter', 'tap', 'scenarios/install-connect.xml'], r.ctx);
  clearInterval(sampler);
  t.equal(code, 0, r.o.err);
  t.equal(most, 1, 'one slot held during the run (the default, the pool\'s capacity, would hold both)');
  t.equal(slotsHeld(), 0, 'and given back');
});

t.test('winpv run --host pool: two instances at once on a pool of capacity 2, each judged on its own guest', { timeout: 180_000 }, async (t) => {
  // Each driver install reboots its guest into a new domain; while the runner learns the new domid the
  // xenstore probe watches every domain of the host, so each instance's section also records the
  // other's domain (checks/view.ts: keys of a domain none of the instance's guests had are not judged).
  const pool = await startPool({ guests: 2, dom0: true, dom0Password: XAPI_PW });
  t.teardown(() => pool.close());
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xapi-cli-'));
  const { env } = userConfig(pool, dir, { capacity: 2 });
  let most = 0;
  const sampler = setInterval(() => (most = Math.max(most, pool.srv.pool.all('VM').filter(([, v]) => !v.is_a_template && !v.is_control_domain && v.power_state === 'Running').length)), 10);
  t.teardown(() => clearInterval(sampler));
  const r = io(env);
  const code = await main(['run', '--host', 'pool', '--report-dir', join(dir, 'reports'), '--reporter', 'tap', '--repeat-each', '2', 'scenarios/install-connect.xml'], r.ctx);
  clearInterval(sampler);
  t.comment(r.o.out);
  t.equal(code, 0, 'exit 0: both instances pass');
  t.notMatch(r.o.out, /^\s*not ok/m);
  t.equal(most, 2, 'the two guests ran at once');
  t.same(leftovers(pool.srv), [], 'nothing left on the pool');
});

