// Health before use (issue #16): each real host of a run is asked winpv doctor's questions for the
// run's largest instance before it gets work (XenAPI: login, template, network, SR space, a host with
// memory, the ISOs the run installs, dom0 SSH and load). A host that fails is left out with the
// reason in the trace, its lease given back, and its instances run on the others.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ExitCode } from '../../src/model/errors';
import { runWinpv } from '../support/cli-io';
import { startPool, TEMPLATE, XAPI_PW, GUEST_PW, type Pool } from '../support/xapi-pool';

const repo = resolve(__dirname, '..', '..', '..');
const runDir = (root: string) => join(root, readdirSync(root).filter((d) => /^\d{8}-/.test(d))[0]!);

function configFor(pool: Pool, dir: string): string {
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${pool.dom0!.ssh.knownHostsLine}\n`);
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({
    hosts: {
      'a-pool': {
        url: `xapi://root@127.0.0.1:${pool.srv.port}`, passwordEnv: 'TEST_POOL_PW', insecure: true, template: TEMPLATE, isoSr: 'ISOs',
        knownHostsFile: knownHosts, dom0Port: pool.dom0!.ssh.port, guestPasswordEnv: 'TEST_WIN_PW', capacity: 1, labels: ['w'],
      },
      'b-sim': { url: 'sim', capacity: 2, labels: ['w'] },
    },
  }));
  return config;
}

t.test('a pool whose dom0 is overloaded or whose SR is full is left out with the reason; the others run its instances', async (t) => {
  const pool = await startPool({ guests: 1, dom0Password: XAPI_PW });
  t.teardown(() => pool.close());
  const p = pool.srv.pool;
  const dir = mkdtempSync(join(tmpdir(), 'winpv-preflight-'));
  const env = { PATH: process.env.PATH, HOME: dir, TEST_POOL_PW: XAPI_PW, TEST_WIN_PW: GUEST_PW, WINPV_CONFIG: configFor(pool, dir) };
  const scenarios = ['scenarios/vbd-connect.xml', 'scenarios/vif-connect.xml'];

  pool.dom0!.faults.load1 = 30;
  const busy = await runWinpv(['run', '--host', 'label:w', '--report-dir', join(dir, 'busy'), ...scenarios], { env, cwd: repo });
  t.equal(busy.code, ExitCode.ok, busy.err);
  t.match(busy.err, /host a-pool skipped: preflight: dom0: dom0 root@127\.0\.0\.1: load average 30 on 4 CPUs \(7\.5 per CPU, the limit is 4\)/, 'the reason is said');
  t.match(readFileSync(join(runDir(join(dir, 'busy')), 'trace.jsonl'), 'utf8'), /"msg":"host a-pool skipped: preflight: dom0: /, 'and written in the trace');
  t.match(readFileSync(join(runDir(join(dir, 'busy')), 'results.tap'), 'utf8'), /ok 1 - vbd-connect[\s\S]*ok 2 - vif-connect/, 'both instances ran on the simulator');
  pool.dom0!.faults.load1 = 0.42;

  const size = Number(p.get(p.defaultSr).physical_size);
  p.set(p.defaultSr, { physical_utilisation: size - 2 ** 20 });
  const full = await runWinpv(['run', '--host', 'label:w', '--report-dir', join(dir, 'full'), ...scenarios], { env, cwd: repo });
  t.equal(full.code, ExitCode.ok, full.err);
  t.match(full.err, /host a-pool skipped: preflight: sr: SR 'Local storage': 0\.0 GiB free, a run needs \d+\.\d GiB/, 'a full SR: the reason is said');
  p.set(p.defaultSr, { physical_utilisation: 0 });

  t.same(Object.keys((p.get(p.poolRef).other_config ?? {}) as Record<string, string>).filter((k) => k.startsWith('winpv')), [], 'the left-out pool\'s lease was given back');
  t.same(p.calls.filter((c) => /^VM\.(clone|copy|provision|start)/.test(c.method)).map((c) => c.method), [], 'nothing was created on the left-out pool');
});

t.test('one real host with one worker is asked too: a failing preflight ends the run with exit 3 and the reason, before anything is created', async (t) => {
  const pool = await startPool({ guests: 1, dom0Password: XAPI_PW });
  t.teardown(() => pool.close());
  const p = pool.srv.pool;
  const dir = mkdtempSync(join(tmpdir(), 'winpv-preflight-one-'));
  const env = { PATH: process.env.PATH, HOME: dir, TEST_POOL_PW: XAPI_PW, TEST_WIN_PW: GUEST_PW, WINPV_CONFIG: configFor(pool, dir) };
  pool.dom0!.faults.load1 = 30;
  const r = await runWinpv(['run', '--host', 'a-pool', '--report-dir', join(dir, 'r'), 'scenarios/vbd-connect.xml'], { env, cwd: repo });
  t.equal(r.code, ExitCode.hostError, r.err);
  t.match(r.err, /preflight: dom0: dom0 root@127\.0\.0\.1: load average 30 on 4 CPUs/, 'the reason is said');
  t.match(readFileSync(join(runDir(join(dir, 'r')), 'results.tap'), 'utf8'), /preflight: dom0/, 'and the report is complete, with the reason');
  t.same(p.calls.filter((c) => /^VM\.(clone|copy|provision|start)/.test(c.method)).map((c) => c.method), [], 'nothing was created');
  t.same(Object.keys((p.get(p.poolRef).other_config ?? {}) as Record<string, string>).filter((k) => k.startsWith('winpv')), [], 'no lease left');
});
