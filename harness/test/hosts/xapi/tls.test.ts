// TLS to the pool is verified unless the host entry opts out. A pool whose certificate comes from
// its own CA is trusted the Node way, NODE_EXTRA_CA_CERTS (read when the process starts, hence a
// child process), with verification still on; without it the same pool is refused.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startPool, XAPI_PW } from '../../support/xapi-pool';

const repo = resolve(__dirname, '..', '..', '..', '..');
const CERT = join(repo, 'harness', 'test', 'support', 'xapi-server', 'tls', 'cert.pem');

/** `winpv <args>` in a fresh Node process (the sources compiled as the tests load them, support/ts-require.cjs). */
function winpv(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  const script = `require(${JSON.stringify(join(repo, 'harness', 'src', 'cli', 'main.ts'))}).main(process.argv.slice(1), { out: process.stdout, err: process.stderr, cwd: process.cwd(), env: process.env }).then((c) => process.exit(c))`;
  return new Promise((res) => {
    execFile(process.execPath, ['-r', join(repo, 'harness', 'test', 'support', 'ts-require.cjs'), '-e', script, ...args], { cwd: repo, env: { PATH: process.env.PATH, ...env } }, (e, out, err) => {
      res({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err });
    });
  });
}

t.test('a pool certificate from a private CA: trusted with NODE_EXTRA_CA_CERTS, refused without', async (t) => {
  const pool = await startPool({ guests: 1 });
  t.teardown(() => pool.close());
  const dir = mkdtempSync(join(tmpdir(), 'winpv-tls-'));
  const config = join(dir, 'config.json');
  // no "insecure": TLS is verified; the certificate names 127.0.0.1
  writeFileSync(config, JSON.stringify({ hosts: { pool: { url: `xapi://root@127.0.0.1:${pool.srv.port}`, passwordEnv: 'TEST_POOL_PW' } } }));
  const env = { TEST_POOL_PW: XAPI_PW, HOME: dir, WINPV_CONFIG: config };
  const trusted = await winpv(['xapi', 'gc', '--host', 'pool', '--dry-run'], { ...env, NODE_EXTRA_CA_CERTS: CERT });
  t.equal(trusted.code, 0, `verified against the pool's CA: ${trusted.err}`);
  t.match(trusted.out, /0 found, 0 removed/);
  const refused = await winpv(['xapi', 'gc', '--host', 'pool', '--dry-run'], env);
  t.equal(refused.code, 3, 'an unknown CA is a host error');
  t.match(refused.err, /certificate|self.signed|CERT/i);
  t.notMatch(trusted.out + trusted.err + refused.out + refused.err, XAPI_PW);
});
