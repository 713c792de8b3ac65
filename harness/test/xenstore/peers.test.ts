// winpv's xenstored against real clients: Debian's xenstore-utils, Xen's test-xenstore and pyxs,
// all finding the daemon through XENSTORED_PATH.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { XenstoreServer } from '../../src/xenstore/server';
import { XenstoreClient } from '../../src/xenstore/client';
import { debianPython, missing, needTool, run } from './tools';
import { main } from '../../src/cli/main';

const dir = mkdtempSync(join(tmpdir(), 'winpv-xs-peers-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function serve(t: Test) {
  const server = new XenstoreServer();
  const socket = join(dir, `xs-${Math.random().toString(36).slice(2)}.sock`);
  const net = await server.listen(socket);
  t.teardown(() => new Promise<void>((r) => net.close(() => r())));
  t.teardown(() => server.connections().forEach((c) => c.close()));
  return { server, socket, env: { XENSTORED_PATH: socket } };
}

t.test('xenstore-utils: read, write, ls, list, rm, chmod, exists, watch', async (t) => {
  const tools = ['xenstore-read', 'xenstore-write', 'xenstore-ls', 'xenstore-list', 'xenstore-rm', 'xenstore-chmod', 'xenstore-exists', 'xenstore-watch'];
  const bin: Record<string, string> = {};
  for (const name of tools) {
    const p = needTool(t, name, 'xenstore-utils');
    if (!p) return;
    bin[name] = p;
  }
  const { env } = await serve(t);
  t.equal((await run(bin['xenstore-write'], ['/u/a', 'hello world', '/u/b/c', 'x'], env)).code, 0);
  t.same(await run(bin['xenstore-read'], ['/u/a'], env), { code: 0, stdout: 'hello world\n', stderr: '' });
  t.same((await run(bin['xenstore-list'], ['/u'], env)).stdout, 'a\nb\n');
  t.same((await run(bin['xenstore-ls'], ['-f', '/u'], env)).stdout, '/u/a = "hello world"\n/u/b = ""\n/u/b/c = "x"\n');
  t.equal((await run(bin['xenstore-exists'], ['/u/b'], env)).code, 0);
  t.not((await run(bin['xenstore-exists'], ['/u/zz'], env)).code, 0, 'exists fails for a missing node');
  const missing = await run(bin['xenstore-read'], ['/u/zz'], env);
  t.not(missing.code, 0);
  t.match(missing.stderr, /couldn't read path \/u\/zz/);
  t.not((await run(bin['xenstore-write'], ['/u/bad name', 'x'], env)).code, 0, 'an invalid name is refused');
  t.equal((await run(bin['xenstore-chmod'], ['/u/a', 'r0', 'w0'], env)).code, 0);
  t.match((await run(bin['xenstore-ls'], ['-p', '/u'], env)).stdout, /a = "hello world" .*\(r0,w0\)/);
  t.equal((await run(bin['xenstore-rm'], ['/u/b'], env)).code, 0);
  t.same((await run(bin['xenstore-list'], ['/u'], env)).stdout, 'a\n');
  // xenstore-watch prints the registration event and then each change; -n stops after three.
  const watch = spawn(bin['xenstore-watch'], ['-n', '3', '/u'], { env: { ...process.env, ...env } });
  let out = '';
  watch.stdout.on('data', (d) => (out += d));
  const done = new Promise<number | null>((r) => watch.on('close', r));
  while (!out.includes('/u\n') && watch.exitCode === null) await new Promise((r) => setTimeout(r, 10));
  await run(bin['xenstore-write'], ['/u/w1', '1'], env);
  await run(bin['xenstore-rm'], ['/u/a'], env);
  t.equal(await done, 0);
  t.equal(out, '/u\n/u/w1\n/u/a\n');
});

t.test("Xen's test-xenstore passes all 12 tests", async (t) => {
  const bin = needTool(t, '/usr/lib/xen-4.17/bin/test-xenstore', 'xen-utils-4.17');
  if (!bin) return;
  const { env } = await serve(t);
  const r = await run(bin, [], env, 240_000);
  t.equal(r.code, 0, r.stderr || r.stdout);
  const lines = r.stdout.split('\n').filter((l) => /^\S.*:\s+\d+ ns$/.test(l));
  t.equal(lines.length, 12, r.stdout);
  t.notMatch(r.stdout, /Exhaustive transaction retries/);
});

t.test('python3-pyxs as a third client', async (t) => {
  const py = debianPython();
  if (!py || (await run(py, ['-c', 'import pyxs; pyxs.Client'] /* an empty pyxs directory imports as a namespace package */)).code !== 0) return missing(t, 'python3-pyxs');
  const { env, socket } = await serve(t);
  const r = await run(py, [join(__dirname, 'fixtures', 'pyxs-peer.py'), socket], env);
  t.equal(r.code, 0, r.stderr);
  t.equal(
    r.stdout,
    [
      'read 1',
      'list a',
      'perms n0',
      'perms b0,r3',
      'domain-path /local/domain/5',
      'exists False',
      'read-missing errno 2',
      'commit True',
      'read x',
      'event /py tok',
      'event /py/w tok',
      'exists False',
      'introduced True',
      '',
    ].join('\n'),
  );
});

t.test('winpv xenstored runs in the foreground, serves clients and stops on SIGTERM', async (t) => {
  const socket = join(dir, 'cli.sock');
  const trace = join(dir, 'cli.trace');
  const bin = join(__dirname, '..', '..', 'bin', 'winpv');
  const child = spawn(process.execPath, [bin, 'xenstored', '--socket', socket, '--trace', trace], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('close', r));
  // its own deadline: the daemon warms its JIT before listening (seconds on a loaded machine)
  for (const until = Date.now() + 60_000; !err.includes('listening') && Date.now() < until; ) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.match(err, /listening on .*cli\.sock/);
  t.match(err, /warmed up \(\d+ requests on a throwaway store/, 'the request path was compiled before the first client');
  const c = await XenstoreClient.connectSocket(socket);
  await c.write('/cli/x', 'y');
  t.equal(await c.read('/cli/x'), 'y');
  await c.close();
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  const lines = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.ok(lines.some((l) => l.ev === 'in' && l.type === 'WRITE' && l.payload === '/cli/x\0y'), 'the trace has the request');
  t.ok(lines.some((l) => l.ev === 'out' && l.type === 'READ' && l.payload === 'y'), 'and the reply');
  t.notOk(lines.some((l) => JSON.stringify(l).includes('/warm')), 'the warm-up left nothing in the trace');
});

t.test('winpv xenstored without a socket is a usage error', async (t) => {
  let err = '';
  const code = await main(['xenstored'], { env: {}, err: { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream });
  t.equal(code, 2);
  t.match(err, /--socket PATH is required/);
});
