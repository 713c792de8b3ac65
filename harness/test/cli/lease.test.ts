// winpv lease list|release and winpv run's lease wait, against the XAPI test server.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../../src/model/errors';
import { runWinpv } from '../support/cli-io';
import { startXapiServer } from '../support/xapi-server';
import { encodeLease, leaseKey } from '../../src/model/lease';

const PW = 'planted-lease-cli-pw-0b7e';

t.test('lease list shows holders, release frees a slot, run waits for capacity then exits 3', async (t) => {
  const srv = await startXapiServer({ user: 'root', password: PW, tls: true });
  t.teardown(() => srv.close());
  const port = new URL(srv.url).port;
  const dir = mkdtempSync(join(tmpdir(), 'winpv-lease-cli-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ hosts: { pool: { url: `xapi://root@127.0.0.1:${port}`, insecure: true, passwordEnv: 'POOL_PW', capacity: 1, dom0Ssh: false } } }));
  const env = { PATH: process.env.PATH, POOL_PW: PW, WINPV_CONFIG: config };
  // Another run (another CI job) holds the pool's one slot, heartbeating.
  const now = Date.now();
  const other = { holder: 'ci@other-job pid 7', runId: 'run-other', slot: 0, takenAt: now, heartbeatAt: now, expiresAt: now + 600_000 };
  srv.pool.set(srv.pool.poolRef, { other_config: { [leaseKey(0)]: encodeLease(other) } });

  const listed = await runWinpv(['lease', 'list', '--host', 'pool'], { env });
  t.equal(listed.code, ExitCode.ok);
  t.match(listed.out, /slot 0 {2}ci@other-job pid 7 {2}run run-other .*expires/);

  const run = await runWinpv(['run', '--host', 'pool', '--lease-timeout', '1s', '--report-dir', dir, 'scenarios/vbd-connect.xml'], { env, cwd: join(__dirname, '..', '..', '..') });
  t.equal(run.code, ExitCode.hostError, 'no capacity within --lease-timeout: exit 3');
  t.match(run.err, /waiting for capacity on pool 'test pool'.*held by ci@other-job pid 7 run run-other/);
  t.match(run.err, /LEASE_TIMEOUT|no free capacity/);
  t.notMatch(run.out + run.err, new RegExp(PW), 'the password is never printed');

  const bad = await runWinpv(['run', '--host', 'pool', '--lease-timeout', 'soon', 'scenarios/vbd-connect.xml'], { env });
  t.equal(bad.code, ExitCode.badInput);
  t.match(bad.err, /--lease-timeout takes a duration/);

  const freed = await runWinpv(['lease', 'release', '0', '--host', 'pool'], { env });
  t.equal(freed.code, ExitCode.ok);
  t.match(freed.out, /released slot 0 \(held by ci@other-job pid 7, run run-other\)/);
  const after = await runWinpv(['lease', 'list', '--host', 'pool'], { env });
  t.match(after.out, /: 0 leases/);
  const sim = await runWinpv(['lease', 'list', '--host', 'sim'], { env });
  t.equal(sim.code, ExitCode.badInput);
  t.match(sim.err, /keeps no leases/);
});
