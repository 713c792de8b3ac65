// One SSH connection to a host (dom0, a Windows guest, a Windows builder), shared by every command
// run there. Host keys are always checked (known_hosts or a pinned fingerprint); Nagle is off,
// because most traffic is small request/response exchanges (measured: ~40 ms per command with it on).
import { createWriteStream, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { once } from 'node:events';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { hostError, WinpvError } from '../model/errors';
import type { Secret } from '../model/secret';
import { shJoin } from '../util/quote';
import { judgeHostKey, knownHostsName, parseKnownHosts, sha256Fingerprint } from './known-hosts';

export interface SshTarget {
  host: string;
  port?: number;
  user: string;
  identityFile?: string;
  password?: Secret;
  /** Host keys are checked against this file (default ~/.ssh/known_hosts). */
  knownHostsFile?: string;
  /** Or pinned: `SHA256:...` as OpenSSH prints it (the `SHA256:` prefix is optional). */
  hostKeySha256?: string;
}

export interface ExecOptions {
  stdin?: string | Buffer;
  /** Leaves the command's stdin open (a stream's, for its writes); it is otherwise ended at once. */
  stdinOpen?: boolean;
  timeoutMs?: number;
  onStdout?(chunk: string): void;
  onStderr?(chunk: string): void;
}

export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

/** A long-lived command: its stdout line by line, its stdin open for writes. */
export interface LineStream {
  stop(): void;
  /** Writes to the command's stdin (held until the channel opens). */
  write(data: string): void;
  done: Promise<ExecResult>;
}

export interface ConnectOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

const describe = (t: SshTarget) => `${t.user}@${t.host}:${t.port ?? 22}`;

function hostKeyCheck(t: SshTarget): { verify: (key: Buffer) => boolean; why: () => string } {
  const port = t.port ?? 22;
  let reason = 'host key not checked';
  if (t.hostKeySha256) {
    const want = t.hostKeySha256.startsWith('SHA256:') ? t.hostKeySha256 : `SHA256:${t.hostKeySha256}`;
    return {
      verify: (key) => {
        const got = sha256Fingerprint(key);
        reason = `host key ${got} does not match the pinned ${want}`;
        return got === want.replace(/=+$/, '');
      },
      why: () => reason,
    };
  }
  const file = t.knownHostsFile ?? join(homedir(), '.ssh', 'known_hosts');
  return {
    verify: (key) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        reason = `no known_hosts file at ${file} to check ${knownHostsName(t.host, port)} against`;
        return false;
      }
      const verdict = judgeHostKey(parseKnownHosts(text), knownHostsName(t.host, port), key);
      reason = {
        trusted: '',
        revoked: `host key of ${t.host} is marked @revoked in ${file}`,
        mismatch: `HOST KEY MISMATCH for ${knownHostsName(t.host, port)} (${sha256Fingerprint(key)}) against ${file}`,
        unknown: `unknown host key for ${knownHostsName(t.host, port)} (${sha256Fingerprint(key)}); add it to ${file} or pin it`,
      }[verdict];
      return verdict === 'trusted';
    },
    why: () => reason,
  };
}

export class SshConnection {
  private sftpSession?: Promise<SFTPWrapper>;
  private closed = false;
  private readonly closeListeners: ((err?: Error) => void)[] = [];

  private constructor(
    private readonly client: Client,
    readonly target: SshTarget,
  ) {
    let lastError: Error | undefined;
    client.on('error', (e) => {
      lastError = e;
    });
    client.on('close', () => {
      const wasOpen = !this.closed;
      this.closed = true;
      const err = wasOpen ? hostError('SSH_DROPPED', `SSH connection to ${describe(target)} dropped${lastError ? `: ${lastError.message}` : ''}`) : undefined;
      for (const cb of this.closeListeners) cb(err);
    });
  }

  static connect(t: SshTarget, opts: ConnectOptions = {}): Promise<SshConnection> {
    const check = hostKeyCheck(t);
    const config: ConnectConfig = {
      host: t.host,
      port: t.port ?? 22,
      username: t.user,
      readyTimeout: opts.timeoutMs ?? 20_000,
      keepaliveInterval: 10_000,
      hostVerifier: (key: Buffer) => check.verify(key),
    };
    if (t.identityFile) {
      try {
        config.privateKey = readFileSync(t.identityFile);
      } catch (e) {
        return Promise.reject(hostError('SSH_AUTH', `cannot read identity file ${t.identityFile}: ${(e as Error).message}`));
      }
    }
    if (t.password) config.password = t.password.reveal();
    return new Promise((resolve, reject) => {
      const client = new Client();
      let settled = false;
      const fail = (e: WinpvError) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(e);
      };
      const onAbort = () => fail(hostError('SSH_CONNECT', `connection to ${describe(t)} aborted`));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      client.once('ready', () => {
        opts.signal?.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        resolve(new SshConnection(client, t));
      });
      // `on`, not `once`: ssh2 can emit a second error after the first (a handshake timeout, then
      // "Connection lost before handshake" when the peer resets), and an 'error' event with no
      // listener would end the whole run instead of failing this connection. `fail` is idempotent.
      client.on('error', (e: Error & { level?: string }) => {
        const msg = e.message ?? String(e);
        if (/host.*(verif|key)/i.test(msg) || msg.includes('Host denied')) fail(hostError('SSH_HOSTKEY', check.why()));
        else if (e.level === 'client-authentication') fail(hostError('SSH_AUTH', `authentication to ${describe(t)} failed`));
        else if (/timed out/i.test(msg)) fail(hostError('SSH_TIMEOUT', `timed out connecting to ${describe(t)}`));
        else fail(hostError('SSH_CONNECT', `cannot connect to ${describe(t)}: ${msg}`));
      });
      // Nagle off: one small exchange per command otherwise waits for delayed ACKs.
      client.on('connect', () => client.setNoDelay(true));
      client.connect(config);
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  onClose(cb: (err?: Error) => void): void {
    this.closeListeners.push(cb);
  }

  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.execLine(shJoin(argv), opts);
  }

  execLine(line: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(hostError('SSH_DROPPED', `SSH connection to ${describe(this.target)} is closed`));
      this.client.exec(line, (err, ch) => {
        if (err) return reject(hostError('SSH_EXEC', `cannot run a command on ${describe(this.target)}: ${err.message}`, err));
        this.collect(ch, opts).then(resolve, reject);
      });
    });
  }

  /** `stdinOpen` keeps the command's stdin open for `write` (a server that waits for the end of
   *  stdin before it runs a command, as the tests' doubles do, would never run it). */
  stream(line: string, onLine: (line: string) => void, opts: { stdinOpen?: boolean } = {}): LineStream {
    let channel: ClientChannel | undefined;
    let stopped = false;
    let partial = '';
    const unsent: string[] = [];
    const done = new Promise<ExecResult>((resolve, reject) => {
      if (this.closed) return reject(hostError('SSH_DROPPED', `SSH connection to ${describe(this.target)} is closed`));
      this.client.exec(line, (err, ch) => {
        if (err) return reject(hostError('SSH_EXEC', `cannot run a command on ${describe(this.target)}: ${err.message}`, err));
        channel = ch;
        if (stopped) ch.close();
        for (const data of unsent.splice(0)) ch.write(data);
        this.collect(ch, {
          stdinOpen: opts.stdinOpen,
          onStdout: (chunk) => {
            const lines = (partial + chunk).split('\n');
            partial = lines.pop() ?? '';
            for (const l of lines) onLine(l);
          },
        }).then(resolve, reject);
      });
    });
    return {
      stop: () => {
        stopped = true;
        channel?.close();
      },
      write: (data) => {
        if (!opts.stdinOpen) throw new Error(`stream ${line.slice(0, 40)}: written to without stdinOpen`);
        if (channel) channel.write(data);
        else unsent.push(data);
      },
      done,
    };
  }

  private collect(ch: ClientChannel, opts: ExecOptions): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timer: NodeJS.Timeout | undefined;
      if (opts.timeoutMs) {
        timer = setTimeout(() => {
          ch.close();
          reject(hostError('SSH_TIMEOUT', `command on ${describe(this.target)} did not finish within ${opts.timeoutMs} ms`));
        }, opts.timeoutMs);
      }
      ch.on('data', (b: Buffer) => {
        out.push(b);
        opts.onStdout?.(b.toString('utf8'));
      });
      ch.stderr.on('data', (b: Buffer) => {
        err.push(b);
        opts.onStderr?.(b.toString('utf8'));
      });
      ch.on('close', (code: number | null, signal?: string) => {
        if (timer) clearTimeout(timer);
        if (this.closed && code === undefined) {
          reject(hostError('SSH_DROPPED', `SSH connection to ${describe(this.target)} dropped during a command`));
          return;
        }
        resolve({ code: code ?? null, signal: signal ?? undefined, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      });
      if (opts.stdin !== undefined) ch.end(opts.stdin);
      else if (!opts.stdinOpen) ch.end();
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise((resolve, reject) =>
      this.client.sftp((err, s) => (err ? reject(hostError('SSH_SFTP', `SFTP to ${describe(this.target)} failed: ${err.message}`, err)) : resolve(s))),
    );
    return this.sftpSession;
  }

  async putFile(local: string | Buffer, remotePath: string): Promise<void> {
    const data = typeof local === 'string' ? readFileSync(local) : local;
    const s = await this.sftp();
    await new Promise<void>((resolve, reject) =>
      s.writeFile(remotePath, data, (err) => (err ? reject(hostError('SSH_SFTP', `cannot write ${remotePath} on ${describe(this.target)}: ${err.message}`, err)) : resolve())),
    );
  }

  async getFile(remotePath: string): Promise<Buffer> {
    const s = await this.sftp();
    return new Promise((resolve, reject) =>
      s.readFile(remotePath, (err, data) => (err ? reject(hostError('SSH_SFTP', `cannot read ${remotePath} on ${describe(this.target)}: ${err.message}`, err)) : resolve(data))),
    );
  }

  /** Streams a remote file into a local one (crash dumps run to gigabytes: never held in memory). */
  async downloadFile(remotePath: string, localPath: string): Promise<void> {
    const s = await this.sftp();
    try {
      // the local file is open before the copy starts: a copy that fails at once then cannot leave the
      // file to be created after the caller removed what it made (fs opens a write stream lazily)
      const out = createWriteStream(localPath);
      await once(out, 'ready');
      await pipeline(s.createReadStream(remotePath), out);
    } catch (e) {
      throw hostError('SSH_SFTP', `cannot read ${remotePath} on ${describe(this.target)}: ${(e as Error).message}`, e);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      this.client.once('close', () => resolve());
      this.client.end();
      setTimeout(resolve, 2000).unref();
    });
  }
}
