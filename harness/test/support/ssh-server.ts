// A real SSH server for tests (ssh2's Server): password or public-key auth, exec requests answered
// by a handler, and a small SFTP subsystem rooted in a local directory. Guest doubles (Windows over
// OpenSSH), stand-in builders and dom0 doubles are built on it.
import { Server, utils, type AuthContext, type Connection, type ServerChannel, type SFTPWrapper } from 'ssh2';
import { mkdirSync, openSync, readSync, writeSync, closeSync, fstatSync, statSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { sha256Fingerprint } from '../../src/remote/known-hosts';

export interface ExecContext {
  command: string;
  stdin: Buffer;
  stdout(s: string | Buffer): void;
  stderr(s: string | Buffer): void;
  /** A channel for long-lived commands: the handler may keep writing until it is closed. */
  channel: ServerChannel;
}

/** Returns the exit code; a long-lived handler returns a promise that resolves when it is done. */
export type ExecHandler = (ctx: ExecContext) => number | Promise<number>;

export interface TestSshServerOptions {
  user: string;
  password?: string;
  /** OpenSSH public key line (`ssh-ed25519 AAAA...`) accepted for the user. */
  authorizedKey?: string;
  onExec: ExecHandler;
  /** Remote absolute paths map into this directory for SFTP (and C:\ style paths with \ -> /). */
  sftpRoot?: string;
  /** Wait for stdin EOF before calling onExec (default true). */
  readStdin?: boolean;
}

export interface TestSshServer {
  port: number;
  host: '127.0.0.1';
  hostKeyFingerprint: string;
  knownHostsLine: string;
  /** Remote commands received, in order. */
  commands: string[];
  /** Cut every connection abruptly (to test a host that drops). */
  dropAll(): void;
  close(): Promise<void>;
}

/** An ed25519 key pair that ssh2 can parse back. ssh2's generator now and then (about 1 in 270 here)
 *  emits a private key its own parser rejects, which would make tests fail at random: retry those. */
export function usableKeyPair(): { private: string; public: string } {
  for (let i = 0; i < 20; i++) {
    const k = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(k.private) instanceof Error) && !(utils.parseKey(k.public) instanceof Error)) return k;
  }
  throw new Error('could not generate a usable ed25519 key pair');
}

export function generateClientKey(): { privateKey: string; publicKey: string } {
  const k = usableKeyPair();
  return { privateKey: k.private, publicKey: k.public };
}

/** The server side of authentication: one user, by password and/or one authorized public key. */
export function authenticator(o: { user: string; password?: string; authorizedKey?: string }): (ctx: AuthContext) => void {
  const authorized = o.authorizedKey ? utils.parseKey(o.authorizedKey) : undefined;
  return (ctx) => {
    if (ctx.username !== o.user) return ctx.reject();
    if (ctx.method === 'password' && o.password !== undefined && ctx.password === o.password) return ctx.accept();
    if (ctx.method === 'publickey' && authorized && !(authorized instanceof Error)) {
      const key = Array.isArray(authorized) ? authorized[0] : authorized;
      if (ctx.key.algo === key.type && ctx.key.data.equals(key.getPublicSSH())) {
        if (!ctx.signature) return ctx.accept();
        if (ctx.blob && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
      }
    }
    ctx.reject(o.password !== undefined ? ['password', 'publickey'] : ['publickey']);
  };
}

export async function startTestSshServer(opts: TestSshServerOptions): Promise<TestSshServer> {
  const hostKey = usableKeyPair();
  const parsedHost = utils.parseKey(hostKey.private);
  if (parsedHost instanceof Error) throw parsedHost;
  const hostBlob = (Array.isArray(parsedHost) ? parsedHost[0] : parsedHost).getPublicSSH();
  const connections = new Set<Connection>();
  const commands: string[] = [];

  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    connections.add(client);
    client.on('close', () => connections.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', authenticator(opts));
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec, _reject, info) => {
          const ch = acceptExec();
          commands.push(info.command);
          const chunks: Buffer[] = [];
          const run = () => {
            Promise.resolve()
              .then(() =>
                opts.onExec({
                  command: info.command,
                  stdin: Buffer.concat(chunks),
                  stdout: (s) => ch.write(s),
                  stderr: (s) => ch.stderr.write(s),
                  channel: ch,
                }),
              )
              .then(
                (code) => {
                  try {
                    ch.exit(code);
                    ch.end();
                  } catch {
                    /* channel already gone */
                  }
                },
                (e) => {
                  ch.stderr.write(String((e as Error)?.message ?? e) + '\n');
                  ch.exit(255);
                  ch.end();
                },
              );
          };
          if (opts.readStdin === false) run();
          else {
            ch.on('data', (b: Buffer) => chunks.push(b));
            ch.once('end', run);
          }
        });
        session.on('sftp', (acceptSftp) => {
          if (!opts.sftpRoot) return;
          serveSftp(acceptSftp(), opts.sftpRoot);
        });
      });
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const port = (server.address() as AddressInfo).port;
  const keyLine = `${(Array.isArray(parsedHost) ? parsedHost[0] : parsedHost).type} ${hostBlob.toString('base64')}`;
  return {
    port,
    host: '127.0.0.1',
    hostKeyFingerprint: sha256Fingerprint(hostBlob),
    knownHostsLine: `[127.0.0.1]:${port} ${keyLine}`,
    commands,
    dropAll() {
      for (const c of connections) (c as unknown as { _sock: { destroy(): void } })._sock.destroy();
    },
    close: () =>
      new Promise<void>((res) => {
        for (const c of connections) c.end();
        server.close(() => res());
      }),
  };
}

// SFTP status codes and open flags (draft-ietf-secsh-filexfer-02), as ssh2 exposes them.
const { STATUS_CODE, OPEN_MODE } = utils.sftp;

function serveSftp(sftp: SFTPWrapper, root: string): void {
  const handles = new Map<number, { fd: number }>();
  let next = 1;
  const local = (p: string) => {
    const norm = p.replace(/\\/g, '/').replace(/^[A-Za-z]:/, '');
    const full = resolve(root, '.' + (norm.startsWith('/') ? norm : '/' + norm));
    if (!full.startsWith(resolve(root))) throw new Error('path outside the SFTP root');
    return full;
  };
  const handleOf = (buf: Buffer) => handles.get(buf.readUInt32BE(0));
  sftp.on('OPEN', (reqid, filename, flags) => {
    try {
      const path = local(filename);
      let mode = 'r';
      if (flags & OPEN_MODE.WRITE) {
        mkdirSync(dirname(path), { recursive: true });
        mode = flags & OPEN_MODE.APPEND ? 'a' : 'w';
      }
      const fd = openSync(path, mode);
      const id = next++;
      handles.set(id, { fd });
      const h = Buffer.alloc(4);
      h.writeUInt32BE(id);
      sftp.handle(reqid, h);
    } catch {
      sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
    }
  });
  sftp.on('WRITE', (reqid, handle, offset, data) => {
    const h = handleOf(handle);
    if (!h) return sftp.status(reqid, STATUS_CODE.FAILURE);
    writeSync(h.fd, data, 0, data.length, offset);
    sftp.status(reqid, STATUS_CODE.OK);
  });
  sftp.on('READ', (reqid, handle, offset, length) => {
    const h = handleOf(handle);
    if (!h) return sftp.status(reqid, STATUS_CODE.FAILURE);
    const buf = Buffer.alloc(length);
    const n = readSync(h.fd, buf, 0, length, offset);
    if (n === 0) return sftp.status(reqid, STATUS_CODE.EOF);
    sftp.data(reqid, buf.subarray(0, n));
  });
  const attrsOf = (st: { mode: number; size: number; uid: number; gid: number; atimeMs: number; mtimeMs: number }) => ({
    mode: st.mode,
    size: st.size,
    uid: st.uid,
    gid: st.gid,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  });
  sftp.on('FSTAT', (reqid, handle) => {
    const h = handleOf(handle);
    if (!h) return sftp.status(reqid, STATUS_CODE.FAILURE);
    sftp.attrs(reqid, attrsOf(fstatSync(h.fd)));
  });
  const stat = (reqid: number, p: string) => {
    try {
      sftp.attrs(reqid, attrsOf(statSync(local(p))));
    } catch {
      sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
    }
  };
  sftp.on('STAT', stat);
  sftp.on('LSTAT', stat);
  sftp.on('MKDIR', (reqid, p) => {
    try {
      mkdirSync(local(p), { recursive: true });
      sftp.status(reqid, STATUS_CODE.OK);
    } catch {
      sftp.status(reqid, STATUS_CODE.FAILURE);
    }
  });
  sftp.on('OPENDIR', (reqid, p) => {
    try {
      const names = readdirSync(local(p));
      const id = next++;
      handles.set(id, { fd: -1 });
      (handles.get(id) as unknown as { names: string[] }).names = names;
      const h = Buffer.alloc(4);
      h.writeUInt32BE(id);
      sftp.handle(reqid, h);
    } catch {
      sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
    }
  });
  sftp.on('READDIR', (reqid, handle) => {
    const h = handleOf(handle) as unknown as { names?: string[] } | undefined;
    if (!h?.names) return sftp.status(reqid, STATUS_CODE.FAILURE);
    if (h.names.length === 0) return sftp.status(reqid, STATUS_CODE.EOF);
    const names = h.names.splice(0).map((n) => ({ filename: n, longname: n, attrs: {} as never }));
    sftp.name(reqid, names);
  });
  sftp.on('CLOSE', (reqid, handle) => {
    const id = handle.readUInt32BE(0);
    const h = handles.get(id);
    if (h && h.fd >= 0) closeSync(h.fd);
    handles.delete(id);
    sftp.status(reqid, STATUS_CODE.OK);
  });
  sftp.on('REALPATH', (reqid, p) => sftp.name(reqid, [{ filename: p, longname: p, attrs: {} as never }]));
}

