// Leases on an xl host: a lock directory in dom0's /run, over SSH (hosts/xl/lease.ts), against a
// dom0 whose shell and file system are real (support/lease-dom0.ts): the rename is atomic, a killed
// holder's lease expires and is taken over, and `winpv lease list|release` work for xl hosts.
import t from 'tap';
import { fork } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SshConnection } from '../../../src/remote/ssh';
import { Secret } from '../../../src/model/secret';
import { XlLeaseStore } from '../../../src/hosts/xl/lease';
import { acquireLease, listLeases } from '../../../src/hosts/lease';
import { ExitCode } from '../../../src/model/errors';
import { startLeaseDom0 } from '../../support/lease-dom0';
import { runWinpv } from '../../support/cli-io';

t.test('xl leases in dom0: atomic add, expiry of a killed holder, lease list|release', async (t) => {
  const dom0 = await startLeaseDom0();
  t.teardown(() => dom0.close());
  const connect = () => SshConnection.connect({ host: '127.0.0.1', port: dom0.ssh.port, user: 'root', password: new Secret(dom0.password), knownHostsFile: dom0.knownHosts });
  const c = await connect();
  t.teardown(() => c.close());
  const store = new XlLeaseStore(c, 'dom0 of the test host');

  t.test('of many adds of one key at once exactly one wins; a reader never sees a key without its value', async (t) => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, k) => store.add('winpv-lease-race', JSON.stringify({ k }))));
    t.equal(results.filter(Boolean).length, 1, 'one add won');
    const all = await store.read();
    const k = JSON.parse(all['winpv-lease-race']!).k as number;
    t.ok(results[k], 'the stored value is the winner\'s');
    await store.remove('winpv-lease-race');
    t.same(await store.read(), {}, 'removed');
    t.same(readdirSync(dom0.leaseDir), [], 'no temporary directory left behind');
    await t.rejects(store.add('../etc', 'x'), /not a lease key/);
  });

  t.test('a holder killed with SIGKILL stops heartbeating: its lease expires and the next run takes it', async (t) => {
    const child = fork(join(__dirname, '..', '..', 'support', 'lease-holder.ts'), [String(dom0.ssh.port), dom0.knownHosts, '10000'], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, LEASE_DOM0_PW: dom0.password } });
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error('the holder did not take its lease within 60 s')), 60_000);
      child.stdout!.on('data', (b: Buffer) => {
        if (/held slot 0/.test(String(b))) {
          clearTimeout(timer);
          done();
        }
      });
      child.on('exit', () => fail(new Error('the holder exited')));
    }).catch((e) => {
      child.kill('SIGKILL');
      throw e;
    });
    const [before] = await listLeases(store);
    t.equal(before?.runId, 'run-killed', 'the holder holds slot 0');
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
    // what the dead holder left: its last heartbeat's expiry (it renews no more)
    const [left] = await listLeases(store);
    t.equal(left?.runId, 'run-killed', 'the dead holder\'s lease is still there');
    const waits: string[] = [];
    const mine = await acquireLease(store, { capacity: 1, holder: 'the next run', runId: 'run-next', timeoutMs: 60_000, ttlMs: 5_000, onWait: (m) => waits.push(m) });
    t.teardown(() => mine.release());
    t.ok(mine.record.takenAt >= left!.expiresAt, 'taken only once it had expired');
    // how long the next run had to wait depends on the machine's load; when it waited it said why
    if (waits.length) t.match(waits[0], /waiting for capacity on dom0 of the test host \(capacity 1, held by holder pid \d+ run run-killed/, 'it waited, saying who held it');
    t.equal(mine.record.slot, 0);
    const [after] = await listLeases(store);
    t.equal(after?.runId, 'run-next', 'the expired lease was taken over');
    await mine.release();
    t.same(await listLeases(store), [], 'released: nothing left in dom0');
  });

  t.test('winpv lease list and release for an xl host', async (t) => {
    const config = join(dom0.leaseDir, '..', 'config.json');
    writeFileSync(config, JSON.stringify({ hosts: { box: { url: `xl://root@127.0.0.1:${dom0.ssh.port}`, passwordEnv: 'BOX_PW', knownHostsFile: dom0.knownHosts, capacity: 2 } } }));
    const env = { PATH: process.env.PATH, BOX_PW: dom0.password, WINPV_CONFIG: config };
    const held = await acquireLease(store, { capacity: 2, holder: 'ci@job-1 pid 9', runId: 'run-1', timeoutMs: 5_000 });
    held.abandon();
    const listed = await runWinpv(['lease', 'list', '--host', 'box'], { env });
    t.equal(listed.code, ExitCode.ok, listed.err);
    t.match(listed.out, /slot 0 {2}ci@job-1 pid 9 {2}run run-1/);
    t.match(listed.out, /dom0 of xl:\/\/root@127\.0\.0\.1:\d+: 1 lease/);
    const freed = await runWinpv(['lease', 'release', '0', '--host', 'box'], { env });
    t.equal(freed.code, ExitCode.ok, freed.err);
    t.match(freed.out, /released slot 0 \(held by ci@job-1 pid 9, run run-1\)/);
    t.same(await listLeases(store), []);
    t.notOk(existsSync(join(dom0.leaseDir, 'winpv-lease-0')));
    t.notMatch(listed.out + listed.err + freed.out + freed.err, new RegExp(dom0.password), 'the password is never printed');
  });
});
