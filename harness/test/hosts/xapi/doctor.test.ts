// `winpv doctor --host <pool>`: every check against the pool double, each fault in turn: the check
// fails with its fix, exit 3; a ready pool is exit 0; nothing on the pool is created or changed.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../../src/cli/main';
import { startPool, TEMPLATE, XAPI_PW, GUEST_PW, type Pool } from '../../support/xapi-pool';

const repo = resolve(__dirname, '..', '..', '..', '..');

async function doctor(pool: Pool, entry: Record<string, unknown> = {}, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-doctor-'));
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${pool.dom0!.ssh.knownHostsLine}\n`);
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({
    hosts: {
      pool: {
        url: `xapi://root@127.0.0.1:${pool.srv.port}`, passwordEnv: 'TEST_POOL_PW', insecure: true, template: TEMPLATE, isoSr: 'ISOs',
        knownHostsFile: knownHosts, dom0Port: pool.dom0!.ssh.port, guestPasswordEnv: 'TEST_WIN_PW', ...entry,
      },
    },
  }));
  const o = { out: '', err: '' };
  const ctx = { out: { write: (s: string) => ((o.out += s), true) } as never, err: { write: (s: string) => ((o.err += s), true) } as never, cwd: repo, env: { TEST_POOL_PW: XAPI_PW, TEST_WIN_PW: GUEST_PW, HOME: dir, WINPV_CONFIG: config, ...env } };
  const code = await main(['doctor', '--host', 'pool'], ctx);
  return { code, out: o.out + o.err };
}

t.test('winpv doctor: a ready pool, then each fault in turn', async (t) => {
  // XenServer's dom0 root password is the pool's
  const pool = await startPool({ guests: 1, dom0Password: XAPI_PW });
  t.teardown(() => pool.close());
  const p = pool.srv.pool;
  const writes = () => p.calls.filter((c) => !/get_|login|logout|event\.|listMethods|compute_free_memory/.test(c.method)).map((c) => c.method);

  const ok = await doctor(pool);
  t.equal(ok.code, 0, 'ready: exit 0');
  t.comment(ok.out);
  for (const c of ['api', 'template', 'network', 'sr', 'memory', 'iso', 'dom0']) t.match(ok.out, new RegExp(`^ok   ${c} `, 'm'), `${c} ok`);
  t.match(ok.out, /ready\n$/);

  const master = p.hostRefs[0]!;
  const faults: [string, () => Promise<{ code: number; out: string }>, RegExp][] = [
    ['wrong XenAPI password', () => doctor(pool, {}, { TEST_POOL_PW: 'wrong' }), /FAIL api .*SESSION_AUTHENTICATION_FAILED[^]*fix: check the password/],
    ['API too old', async () => {
      p.set(master, { API_version_major: 1, API_version_minor: 10 });
      try { return await doctor(pool); } finally { p.set(master, { API_version_major: 2, API_version_minor: 21 }); }
    }, /FAIL api +XenAPI 1\.10 .* older than 2\.6[^]*fix: upgrade/],
    ['no such template', () => doctor(pool, { template: 'Windows 95' }), /FAIL template .*no template named 'Windows 95'[^]*fix: give the name label or UUID/],
    ['no such network', () => doctor(pool, { network: 'storage-only' }), /FAIL network +no network 'storage-only'[^]*fix: /],
    ['a full SR', async () => {
      const size = p.get(p.defaultSr).physical_size;
      p.set(p.defaultSr, { physical_utilisation: Number(size) - 2 ** 30 });
      try { return await doctor(pool); } finally { p.set(p.defaultSr, { physical_utilisation: 0 }); }
    }, /FAIL sr +SR 'Local storage': 1\.0 GiB free, a run needs 60\.0 GiB[^]*fix: free space/],
    ['no host with memory', async () => {
      for (const h of p.hostRefs) p.set(h, { memory_total: 6 * 2 ** 30 });
      try { return await doctor(pool); } finally { for (const h of p.hostRefs) p.set(h, { memory_total: 64 * 2 ** 30 }); }
    }, /FAIL memory +most free memory on a host: 2\.0 GiB, a guest needs 4\.0 GiB[^]*fix: /],
    ['no such ISO SR', () => doctor(pool, { isoSr: 'Tools' }), /FAIL iso +no ISO SR 'Tools'[^]*fix: /],
    ['every host disabled (maintenance mode)', async () => {
      for (const h of p.hostRefs) p.set(h, { enabled: false });
      try { return await doctor(pool); } finally { for (const h of p.hostRefs) p.set(h, { enabled: true }); }
    }, /FAIL memory +every host of the pool is disabled[^]*fix: xe host-enable/],
    ['a dom0 busy with something else', async () => {
      pool.dom0!.faults.load1 = 21.5;
      try { return await doctor(pool); } finally { pool.dom0!.faults.load1 = 0.42; }
    }, /FAIL dom0 +dom0 root@127\.0\.0\.1: load average 21\.5 on 4 CPUs \(5\.4 per CPU, the limit is 4\)[^]*fix: wait/],
    ['dom0 SSH refused', () => doctor(pool, { dom0Port: 1 }), /FAIL dom0 +cannot SSH to dom0 root@127\.0\.0\.1[^]*fix: check dom0Port/],
    ['no DHCP lease file in dom0', () => doctor(pool, { dhcpLeaseFile: '/var/lib/misc/dnsmasq.leases' }), /FAIL dom0 +dom0 root@127\.0\.0\.1: the DHCP lease file \/var\/lib\/misc\/dnsmasq\.leases cannot be read[^]*fix: run the test network's DHCP server/],
  ];
  for (const [what, run, want] of faults) {
    const r = await run();
    t.equal(r.code, 3, `${what}: exit 3`);
    t.match(r.out, want, `${what}: the finding and its fix`);
    t.match(r.out, /not ready \(1 failed\)/, `${what}: only that check failed`);
  }
  t.same(writes(), [], 'the doctor created and changed nothing on the pool');
  t.notMatch(JSON.stringify(pool.dom0!.ssh.commands), XAPI_PW);
});

t.test('winpv doctor: bad usage is exit 2 with the reason', async (t) => {
  const o = { out: '', err: '' };
  const ctx = { out: { write: (s: string) => ((o.out += s), true) } as never, err: { write: (s: string) => ((o.err += s), true) } as never, cwd: repo, env: { HOME: mkdtempSync(join(tmpdir(), 'winpv-doctor-')) } };
  t.equal(await main(['doctor', '--host', 'sim'], ctx), 2, 'not a pool');
  t.match(o.err, /winpv doctor checks a XenAPI pool/);
  t.equal(await main(['doctor', '--host', 'xapi://root@pool.example', '--disk-gib', 'lots'], ctx), 2, 'a bad figure');
  t.match(o.err, /--disk-gib takes a positive number of GiB, not 'lots'/);
});

t.test('winpv doctor: a dom0 without Perl is a warning that names the coarser xenstore traces and the fix', async (t) => {
  const pool = await startPool({ guests: 1, dom0Password: XAPI_PW, dom0Perl: false });
  t.teardown(() => pool.close());
  const r = await doctor(pool);
  t.equal(r.code, 0, 'a warning: the pool can still be used');
  t.match(r.out, /^warn dom0 .*no Perl reader for xenstore watches[^]*fix: install perl in dom0/m);
});

