// dom0 as the xl backend sees it: one SSH connection, commands always given as argv (quoted by
// remote/ssh), and a failed command turned into a WinpvError that names it.
import { hostError, type WinpvError } from '../../model/errors';
import type { ExecResult, LineStream } from '../../remote/ssh';
import { shJoin } from '../../util/quote';

/** The part of an SSH connection the xl backend uses (a fake one drives the unit tests). */
export interface Dom0Link {
  exec(argv: readonly string[], opts?: { stdin?: string | Buffer; timeoutMs?: number }): Promise<ExecResult>;
  stream(line: string, onLine: (line: string) => void, opts?: { stdinOpen?: boolean }): LineStream;
  putFile(local: string | Buffer, remotePath: string): Promise<void>;
  onClose(cb: (err?: Error) => void): void;
  close(): Promise<void>;
}

/** Commands in flight at once on the connection (a workload's far end is one of them). sshd allows
 *  10 sessions per connection by default (MaxSessions): these 5, the two xenstore watch streams
 *  (/local/domain and @releaseDomain), the ring sampler's two loops (netback-rings maxStreams) and
 *  one follower (below). */
const MAX_CHANNELS = 5;
/** Long-lived readers besides the watches and the ring loops: a guest's console log follower. */
const MAX_FOLLOWERS = 1;

export class Dom0 {
  private active = 0;
  private followers = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly link: Dom0Link,
    readonly label: string,
  ) {}

  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= MAX_CHANNELS) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  /** Runs argv; non-zero exit becomes a host error with the command's stderr. */
  async run(argv: readonly string[], opts: { stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.slot(() => this.link.exec(argv, { timeoutMs: 120_000, ...opts }));
    if (r.code !== 0) throw this.failed(argv, r);
    return r.stdout;
  }

  /** The host error of a command that exited non-zero: the command and the end of what it said. */
  failed(argv: readonly string[], r: ExecResult): WinpvError {
    return hostError('XL_COMMAND', `${argv.slice(0, 3).join(' ')} failed on ${this.label} (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ')}`);
  }

  /** A long-lived line stream of argv, its stdin open for writes, within the follower budget;
   *  undefined when it is used up. */
  follow(argv: readonly string[], onLine: (line: string) => void): LineStream | undefined {
    if (this.followers >= MAX_FOLLOWERS) return undefined;
    const s = this.link.stream(shJoin(argv), onLine, { stdinOpen: true });
    this.followers++;
    const release = () => void this.followers--;
    s.done.then(release, release);
    return s;
  }

  /** Runs argv and returns the whole result, whatever the exit status. */
  try(argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    return this.slot(() => this.link.exec(argv, { timeoutMs: 120_000, ...opts }));
  }
}
