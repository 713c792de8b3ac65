import t from 'tap';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SshConnection } from '../../src/remote/ssh';
import { judgeHostKey, parseKnownHosts, knownHostsName } from '../../src/remote/known-hosts';
import { Secret } from '../../src/model/secret';
import { isWinpvError } from '../../src/model/errors';
import { generateClientKey, startTestSshServer } from '../support/ssh-server';
import { createHmac, randomBytes } from 'node:crypto';

const dir = mkdtempSync(join(tmpdir(), 'winpv-ssh-'));

t.test('exec, stdin, stream and SFTP over a real SSH connection with a pinned host key', async (t) => {
  const sftpRoot = mkdtempSync(join(tmpdir(), 'winpv-sftp-'));
  const server = await startTestSshServer({
    user: 'root',
    password: 'pw-not-used',
    authorizedKey: undefined,
    sftpRoot,
    onExec: async ({ command, stdin, stdout, stderr, channel }) => {
      if (command.startsWith('echo ')) {
        stdout(command.slice(5) + '\n');
        return 0;
      }
      if (command === 'cat') {
        stdout(stdin);
        return 0;
      }
      if (command === 'watch') {
        let n = 0;
        await new Promise<void>((resolve) => {
          const timer = setInterval(() => {
            try {
              channel.write(`event ${n++}\n`);
            } catch {
              /* closed */
            }
          }, 5);
          channel.on('close', () => {
            clearInterval(timer);
            resolve();
          });
        });
        return 0;
      }
      stderr('no such command\n');
      return 127;
    },
  });
  t.teardown(() => server.close());
  const conn = await SshConnection.connect({
    host: server.host,
    port: server.port,
    user: 'root',
    password: new Secret('pw-not-used'),
    hostKeySha256: server.hostKeyFingerprint,
  });
  t.teardown(() => conn.close());

  const r = await conn.exec(['echo', "it's a $HOME; rm -rf /"]);
  t.equal(r.code, 0);
  t.equal(server.commands.at(-1), `echo 'it'\\''s a $HOME; rm -rf /'`, 'arguments are single-quoted for sh');
  const c = await conn.execLine('cat', { stdin: 'hello\n' });
  t.equal(c.stdout, 'hello\n');
  const bad = await conn.execLine('nope');
  t.equal(bad.code, 127);
  t.equal(bad.stderr, 'no such command\n');

  const lines: string[] = [];
  const s = conn.stream('watch', (l) => lines.push(l));
  while (lines.length < 3) await new Promise((res) => setTimeout(res, 5));
  s.stop();
  await s.done;
  t.same(lines.slice(0, 3), ['event 0', 'event 1', 'event 2']);

  await conn.putFile(Buffer.from('payload'), '/C:/bundle/x.inf'.slice(1));
  t.equal(readFileSync(join(sftpRoot, 'C:/bundle/x.inf'.replace(/^[A-Za-z]:/, ''))).toString(), 'payload');
  t.equal((await conn.getFile('/bundle/x.inf')).toString(), 'payload');
});

t.test('a stream with its stdin open: written to before its channel opens and after, ended only by stop', { timeout: 60_000 }, async (t) => {
  // readStdin false: sshd runs a command at once (this double waits for the end of stdin by default)
  const server = await startTestSshServer({
    user: 'root',
    password: 'pw',
    readStdin: false,
    onExec: async ({ command, channel }) => {
      if (command !== 'answer') return 127;
      channel.on('data', (b: Buffer) => {
        for (const l of b.toString().split('\n').filter(Boolean)) channel.write(`got ${l}\n`);
      });
      await new Promise<void>((resolve) => channel.on('close', () => resolve()));
      return 0;
    },
  });
  t.teardown(() => server.close());
  const conn = await SshConnection.connect({ host: server.host, port: server.port, user: 'root', password: new Secret('pw'), hostKeySha256: server.hostKeyFingerprint });
  t.teardown(() => conn.close());
  const answers: string[] = [];
  const talk = conn.stream('answer', (l) => answers.push(l), { stdinOpen: true });
  talk.write('one\n');
  while (answers.length < 1) await new Promise((res) => setTimeout(res, 5));
  talk.write('two\n');
  while (answers.length < 2) await new Promise((res) => setTimeout(res, 5));
  talk.stop();
  await talk.done;
  t.same(answers, ['got one', 'got two'], 'each write reached the command while it ran');
  const ended = conn.stream('answer', () => undefined);
  t.throws(() => ended.write('x\n'), /without stdinOpen/, 'a stream whose stdin was ended takes no writes');
  ended.stop();
  await ended.done;
});

t.test('host keys: known_hosts trusted, mismatch and unknown are judged; a mismatch refuses to connect', async (t) => {
  const client = generateClientKey();
  const keyFile = join(dir, 'id');
  writeFileSync(keyFile, client.privateKey, { mode: 0o600 });
  const server = await startTestSshServer({ user: 'u', authorizedKey: client.publicKey, onExec: () => 0 });
  t.teardown(() => server.close());
  const good = join(dir, 'known_hosts');
  writeFileSync(good, server.knownHostsLine + '\n');
  const conn = await SshConnection.connect({ host: server.host, port: server.port, user: 'u', identityFile: keyFile, knownHostsFile: good });
  t.equal((await conn.execLine('x')).code, 0, 'public-key auth and a known host');
  await conn.close();

  const other = await startTestSshServer({ user: 'u', onExec: () => 0 });
  t.teardown(() => other.close());
  const wrong = join(dir, 'known_hosts_wrong');
  writeFileSync(wrong, server.knownHostsLine.replace(String(server.port), String(other.port)) + '\n');
  const err = await SshConnection.connect({ host: other.host, port: other.port, user: 'u', identityFile: keyFile, knownHostsFile: wrong }).catch((e) => e);
  t.ok(isWinpvError(err), 'a WinpvError');
  t.equal(err.code, 'SSH_HOSTKEY');
  t.match(err.message, /MISMATCH/);

  const none = join(dir, 'known_hosts_empty');
  writeFileSync(none, '');
  const err2 = await SshConnection.connect({ host: other.host, port: other.port, user: 'u', knownHostsFile: none }).catch((e) => e);
  t.equal(err2.code, 'SSH_HOSTKEY');
  t.match(err2.message, /unknown host key/);
});

t.test('known_hosts parsing: hashed names, ports, revoked keys', async (t) => {
  const key = randomBytes(32);
  const salt = randomBytes(20);
  const name = knownHostsName('10.0.0.5', 2222);
  t.equal(name, '[10.0.0.5]:2222');
  const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  const entries = parseKnownHosts(`# comment\n${hashed} ssh-ed25519 ${key.toString('base64')}\n@revoked * ssh-ed25519 ${Buffer.from('bad').toString('base64')}\n`);
  t.equal(judgeHostKey(entries, name, key), 'trusted');
  t.equal(judgeHostKey(entries, name, randomBytes(32)), 'mismatch');
  t.equal(judgeHostKey(entries, 'other', key), 'unknown');
  t.equal(judgeHostKey(entries, name, Buffer.from('bad')), 'revoked');
});

t.test('a dropped connection is reported to onClose and fails commands', async (t) => {
  const server = await startTestSshServer({ user: 'u', password: 'p', onExec: () => new Promise<number>(() => undefined) });
  t.teardown(() => server.close());
  const conn = await SshConnection.connect({ host: server.host, port: server.port, user: 'u', password: new Secret('p'), hostKeySha256: server.hostKeyFingerprint });
  const closed = new Promise<Error | undefined>((res) => conn.onClose(res));
  const pending = conn.execLine('hang').catch((e) => e);
  await new Promise((res) => setTimeout(res, 50));
  server.dropAll();
  const e = await closed;
  t.equal((e as { code?: string })?.code, 'SSH_DROPPED');
  const r = await pending;
  t.ok(isWinpvError(r) || (r && r.code === null), 'the pending command ends');
  const after = await conn.execLine('x').catch((x) => x);
  t.equal(after.code, 'SSH_DROPPED');
});

t.test('a wrong password is SSH_AUTH and the password never appears in the error', async (t) => {
  const server = await startTestSshServer({ user: 'u', password: 'right', onExec: () => 0 });
  t.teardown(() => server.close());
  const e = await SshConnection.connect({ host: server.host, port: server.port, user: 'u', password: new Secret('s3cret-planted'), hostKeySha256: server.hostKeyFingerprint }).catch((x) => x);
  t.equal(e.code, 'SSH_AUTH');
  t.notMatch(JSON.stringify({ m: e.message, s: String(e) }), /s3cret-planted/);
});

t.test('a peer that times out the handshake and then drops the socket gives one SSH_TIMEOUT, not an uncaught error', async (t) => {
  // What a wedged dom0 does: sshd's TCP accept answers (the kernel's backlog), the banner never
  // comes, and the socket is reset later. ssh2 emits a timeout error and then "Connection lost
  // before handshake"; the second must not reach the process as an unhandled 'error' event.
  const { createServer } = await import('node:net');
  const sockets: import('node:net').Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    setTimeout(() => s.destroy(), 400);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as import('node:net').AddressInfo).port;
  const err = await SshConnection.connect({ host: '127.0.0.1', port, user: 'root', password: new Secret('x'), hostKeySha256: 'SHA256:none' }, { timeoutMs: 150 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(isWinpvError(err) && err.code === 'SSH_TIMEOUT', `SSH_TIMEOUT: ${String(err)}`);
  await new Promise((r) => setTimeout(r, 700)); // the reset arrives after the rejection
  t.pass('no uncaught error after the socket was reset');
});
