// Where drivers are built: a Windows builder over SSH (OpenSSH for Windows; the script runs in
// powershell.exe, packages come back over SFTP) or this machine when it is Windows.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { infraError, usageError } from '../model/errors';
import type { Secret } from '../model/secret';
import { SshConnection, type SshTarget } from '../remote/ssh';
import { encodedCommandLine } from './powershell';

export type OutputSink = (line: string, stream: 'out' | 'err') => void;

export interface Builder {
  /** For messages: `ssh://user@host:port` or `local`. */
  readonly label: string;
  /** Runs a PowerShell script, streaming its output line by line; resolves with the exit code. */
  run(script: string, onLine: OutputSink, opts?: { timeoutMs?: number }): Promise<number | null>;
  /** Reads a file the build produced (a Windows path). */
  fetch(path: string): Promise<Buffer>;
  close(): Promise<void>;
}

export interface BuilderUrl {
  kind: 'ssh' | 'local';
  user?: string;
  host?: string;
  port?: number;
}

/** `local` or `ssh://user@host[:port]`; credentials in the URL are refused. */
export function parseBuilderUrl(url: string): BuilderUrl {
  if (url === 'local') return { kind: 'local' };
  const m = /^ssh:\/\/(?:([^@:/]+)(:[^@/]*)?@)?([^:/@]+|\[[0-9a-fA-F:]+\])(?::(\d+))?\/?$/.exec(url);
  if (!m) throw usageError(`--builder takes 'local' or ssh://user@host[:port], not '${url}'`);
  if (m[2]) throw usageError('passwords are not accepted in builder URLs: use WINPV_SSH_PASSWORD or an identity file');
  if (!m[1]) throw usageError(`--builder ${url}: name the user (ssh://user@host)`);
  const port = m[4] ? Number(m[4]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) throw usageError(`bad port in '${url}'`);
  return { kind: 'ssh', user: m[1], host: m[3].replace(/^\[|\]$/g, ''), ...(port ? { port } : {}) };
}

/** Splits a stream of chunks into lines (CRLF or LF), keeping the partial tail. */
export function lineSplitter(emit: (line: string) => void): { push(chunk: string): void; flush(): void } {
  let partial = '';
  return {
    push(chunk) {
      const lines = (partial + chunk).split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const l of lines) emit(l);
    },
    flush() {
      if (partial) emit(partial);
      partial = '';
    },
  };
}

/** A Windows path as Win32-OpenSSH's SFTP server takes it: drive letter, forward slashes. */
const sftpPath = (windowsPath: string) => windowsPath.replace(/\\/g, '/');

class SshBuilder implements Builder {
  private constructor(
    private readonly conn: SshConnection,
    readonly label: string,
  ) {}

  static async connect(target: SshTarget, signal?: AbortSignal): Promise<SshBuilder> {
    const conn = await SshConnection.connect(target, { ...(signal ? { signal } : {}) });
    const b = new SshBuilder(conn, `ssh://${target.user}@${target.host}${target.port ? `:${target.port}` : ''}`);
    // An interrupted build drops the connection, which ends the remote powershell.exe with it.
    signal?.addEventListener('abort', () => void conn.close(), { once: true });
    return b;
  }

  async run(script: string, onLine: OutputSink, opts: { timeoutMs?: number } = {}): Promise<number | null> {
    const out = lineSplitter((l) => onLine(l, 'out'));
    const err = lineSplitter((l) => onLine(l, 'err'));
    const r = await this.conn.execLine(encodedCommandLine(script), {
      onStdout: (c) => out.push(c),
      onStderr: (c) => err.push(c),
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    });
    out.flush();
    err.flush();
    return r.code;
  }

  fetch(path: string): Promise<Buffer> {
    return this.conn.getFile(sftpPath(path));
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

/** Builds on this machine; only Windows has powershell.exe and the EWDK that build.ps1 needs. */
export class LocalBuilder implements Builder {
  readonly label = 'local';

  constructor(platform: NodeJS.Platform = process.platform) {
    if (platform !== 'win32') {
      throw infraError('LOCAL_BUILD_NEEDS_WINDOWS', `local builds need Windows (powershell.exe, the EWDK and build.ps1); this is ${platform}: use --builder ssh://user@windows-builder`);
    }
  }

  run(script: string, onLine: OutputSink, opts: { timeoutMs?: number } = {}): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const encoded = Buffer.from(script, 'utf16le').toString('base64');
      const child = spawn('powershell.exe', ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', encoded], {
        windowsHide: true,
        ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
      });
      const out = lineSplitter((l) => onLine(l, 'out'));
      const err = lineSplitter((l) => onLine(l, 'err'));
      child.stdout.on('data', (b: Buffer) => out.push(b.toString('utf8')));
      child.stderr.on('data', (b: Buffer) => err.push(b.toString('utf8')));
      child.on('error', (e) => reject(infraError('POWERSHELL_FAILED', `cannot run powershell.exe: ${e.message}`, e)));
      child.on('close', (code) => {
        out.flush();
        err.flush();
        resolve(code);
      });
    });
  }

  fetch(path: string): Promise<Buffer> {
    return readFile(path);
  }

  async close(): Promise<void> {}
}

export interface SshBuilderOptions {
  identityFile?: string;
  knownHostsFile?: string;
  hostKeySha256?: string;
  password?: Secret;
}

export async function openBuilder(url: string, opts: SshBuilderOptions, signal?: AbortSignal): Promise<Builder> {
  const u = parseBuilderUrl(url);
  if (u.kind === 'local') return new LocalBuilder();
  const target: SshTarget = {
    host: u.host!,
    user: u.user!,
    ...(u.port ? { port: u.port } : {}),
    ...(opts.identityFile ? { identityFile: opts.identityFile } : {}),
    ...(opts.knownHostsFile ? { knownHostsFile: opts.knownHostsFile } : {}),
    ...(opts.hostKeySha256 ? { hostKeySha256: opts.hostKeySha256 } : {}),
    ...(opts.password ? { password: opts.password } : {}),
  };
  return SshBuilder.connect(target, signal);
}
