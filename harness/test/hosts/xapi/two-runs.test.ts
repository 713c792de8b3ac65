// Issue #16: two whole `winpv run` processes (two CI jobs) against one pool of capacity 1. The first
// takes the pool's one lease; the second says it waits, naming the holder, and starts only when the
// first has given the slot back; both end ok and the pool is left with no lease and no VM. Proven by
// what the pool saw (the lease holder at every VM the runs created), never by timing; every wait has
// a deadline far beyond a loaded machine.
import t from 'tap';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startPool, leftovers, TEMPLATE, XAPI_PW, GUEST_PW, type Pool } from '../../support/xapi-pool';
import { decodeLease, leaseKey, LEASE_PREFIX } from '../../../src/model/lease';

const repo = resolve(__dirname, '..', '..', '..', '..');
const DEADLINE_MS = 15 * 60_000;
// two winpv processes compiling the sources on a loaded machine: well past the suite's 300 s
t.setTimeout(DEADLINE_MS + 120_000);

function config(pool: Pool, dir: string): NodeJS.ProcessEnv {
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${pool.dom0!.ssh.knownHostsLine}\n`);
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({
    hosts: {
      pool: {
        url: `xapi://root@127.0.0.1:${pool.srv.port}`, passwordEnv: 'TEST_POOL_PW', insecure: true, capacity: 1,
        template: TEMPLATE, isoSr: 'ISOs', knownHostsFile: knownHosts, dom0Port: pool.dom0!.ssh.port,
        guestUser: 'Administrator', guestPort: pool.doubles[0]!.port, guestPasswordEnv: 'TEST_WIN_PW', guestHostKeySha256: pool.doubles[0]!.hostKeyFingerprint,
      },
    },
  }));
  return { ...process.env, TEST_POOL_PW: XAPI_PW, TEST_WIN_PW: GUEST_PW, HOME: dir, WINPV_CONFIG: file, CI: '' };
}

interface Run { child: ChildProcess; err: string; out: string; done: Promise<number | null> }

function winpvRun(env: NodeJS.ProcessEnv, reports: string): Run {
  const child = fork(join(repo, 'harness', 'test', 'support', 'winpv-process.ts'),
    ['run', '--host', 'pool', '--db', 'none', '--reporter', 'tap', '--lease-timeout', '20m', '--report-dir', reports, 'scenarios/vbd-connect.xml'],
    { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const run: Run = { child, err: '', out: '', done: new Promise((r) => child.on('exit', (code) => r(code))) };
  child.stdout!.on('data', (b: Buffer) => (run.out += b));
  child.stderr!.on('data', (b: Buffer) => (run.err += b));
  return run;
}

/** Resolves when `cond` holds, checked at every change of the pool and of the runs' output; rejects
 *  after the deadline or when a run ended first. */
function until(pool: Pool, runs: Run[], what: string, cond: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!cond()) return;
      finish();
      resolve();
    };
    const ended = () => {
      if (cond()) return check();
      finish();
      reject(new Error(`a run ended before ${what}:\n${runs.map((r) => r.err).join('\n---\n')}`));
    };
    const timer = setTimeout(() => { finish(); reject(new Error(`no ${what} within ${DEADLINE_MS / 60_000} min`)); }, DEADLINE_MS);
    const finish = () => {
      clearTimeout(timer);
      pool.srv.pool.listeners.delete(check);
      for (const r of runs) { r.child.stderr!.off('data', check); r.child.off('exit', ended); }
    };
    pool.srv.pool.listeners.add(check);
    for (const r of runs) { r.child.stderr!.on('data', check); r.child.on('exit', ended); }
    check();
  });
}

t.test('two winpv run processes, one pool of capacity 1: one takes the lease, the other waits with its message, then runs; both ok, nothing left', { timeout: DEADLINE_MS + 60_000 }, async (t) => {
  const pool = await startPool({ guests: 2, dom0: true, dom0Password: XAPI_PW });
  t.teardown(() => pool.close());
  const dir = mkdtempSync(join(tmpdir(), 'winpv-two-runs-'));
  const env = config(pool, dir);
  const p = pool.srv.pool;
  const holder = () => {
    const v = (p.get(p.poolRef).other_config as Record<string, string>)[leaseKey(0)];
    return v ? decodeLease(v)?.holder : undefined;
  };
  // What the pool saw: each VM the runs created, with the lease holder at that moment.
  const created: { vm: string; holder: string | undefined; winpvVms: number }[] = [];
  const winpvVms = () => p.all('VM').filter(([, r]) => !r.is_a_snapshot && String(r.name_label).startsWith('winpv:')).length;
  p.listeners.add((cls, op, ref, rec) => {
    if (cls === 'VM' && op === 'add' && rec && !rec.is_a_snapshot) created.push({ vm: ref, holder: holder(), winpvVms: winpvVms() });
  });

  // The first run's disk workload stays in flight until the second run is seen waiting: the two
  // runs overlap whatever the machine's speed.
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  for (const d of pool.doubles) d.state.workloadGate = gate;
  t.teardown(() => open());
  const first = winpvRun(env, join(dir, 'reports-1'));
  t.teardown(() => first.child.kill('SIGKILL'));
  await until(pool, [first], 'lease taken by the first run', () => holder() === undefined ? false : holder()!.endsWith(`pid ${first.child.pid}`));
  const second = winpvRun(env, join(dir, 'reports-2'));
  t.teardown(() => second.child.kill('SIGKILL'));
  await until(pool, [first, second], 'waiting message of the second run', () => /waiting for capacity/.test(second.err));
  t.match(second.err, new RegExp(`winpv: waiting for capacity on pool 'test pool' .*held by \\S+ pid ${first.child.pid} run `), 'the second run says it waits and who holds the pool');
  t.equal(first.child.exitCode, null, 'the first run is still running then (its workload is held)');
  open();

  const [a, b] = await Promise.all([first.done, second.done]);
  t.comment(`first:\n${first.out}\n${first.err}\nsecond:\n${second.out}\n${second.err}`);
  t.equal(a, 0, 'the first run ends ok');
  t.equal(b, 0, 'the second run ends ok');
  t.match(first.out, /^ok \d+ - vbd-connect/m);
  t.match(second.out, /^ok \d+ - vbd-connect/m);
  t.equal((second.err.match(/waiting for capacity/g) ?? []).length, 1, 'the waiting run said so once');
  t.notMatch(first.err, /waiting for capacity/, 'the first run did not wait');

  const byFirst = created.filter((c) => c.holder?.endsWith(`pid ${first.child.pid}`));
  const bySecond = created.filter((c) => c.holder?.endsWith(`pid ${second.child.pid}`));
  t.ok(byFirst.length > 0 && bySecond.length > 0, `each run built its guests while holding the lease (${byFirst.length} and ${bySecond.length} VMs)`);
  t.same(created.filter((c) => !byFirst.includes(c) && !bySecond.includes(c)), [], 'no VM was created without the lease');
  t.ok(created.indexOf(bySecond[0]!) > created.indexOf(byFirst.at(-1)!), 'every VM of the second run came after the first run\'s');
  t.equal(bySecond[0]!.winpvVms, 1, 'when the second run built its first guest, nothing of the first run was left on the pool');
  t.same(Object.keys(p.get(p.poolRef).other_config as Record<string, string>).filter((k) => k.startsWith(LEASE_PREFIX)), [], 'no lease (and no lease mutex) left on the pool');
  t.same(leftovers(pool.srv), [], 'and no VM, VDI or snapshot');
});
