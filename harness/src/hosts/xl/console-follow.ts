// Following a guest's console log in dom0 as it grows, instead of asking for its tail every few
// hundred milliseconds. On the lab every poll was an SSH session and a `tail` in dom0 (0.3-0.7 s
// under TCG, and dom0 CPU taken from the workload it was waiting on), and a command's end was seen
// half a second late on average. One long-lived reader sends each new piece of the log as it is
// written; the console agent reads it from memory and wakes when it arrives.
import type { ExecResult } from '../../remote/ssh';

/** Reads the log from a byte offset and prints every new piece as one hex line, within ~50 ms of
 *  its being written; an empty line after each second of quiet, so that a reader whose channel is
 *  gone dies of SIGPIPE (it has no other way to learn it). Perl because dom0 always has it (Debian's
 *  perl-base is essential) and it reads a growing file without a process per read. */
export const PERL_LOG_FOLLOWER = String.raw`use strict; $| = 1; my ($log, $off) = @ARGV;
open(my $f, "<", $log) or die "open $log: $!
"; binmode $f; seek($f, $off, 0) or die "seek: $!
"; my $quiet = 0;
while (1) { my $n = sysread($f, my $b, 65536); die "read: $!
" unless defined $n;
  if ($n) { print unpack("H*", $b), "
"; $quiet = 0; next; }
  select(undef, undef, undef, 0.05); if (++$quiet >= 20) { print "
"; $quiet = 0; } }`;

/** The part of dom0 a follower needs: a line stream of a command, or undefined when dom0 has no
 *  session to spare for one (the caller then polls). */
export type StreamFn = (argv: readonly string[], onLine: (line: string) => void) => { stop(): void; done: Promise<ExecResult> } | undefined;

/** The log's bytes from `base` on, as the reader sent them. */
export class ConsoleFollower {
  private buf = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();
  private stopFn: (() => void) | undefined;
  private lastAsked = Date.now();
  ended = false;

  /** A follower nobody asked for in this long stops (a guest rebooted or destroyed without a word). */
  static idleMs = 10_000;

  private constructor(
    /** The log's byte offset of the first byte kept: where the reader started, then where the
     *  agent last read from (it reads forward only; what lies before is dropped, so a guest's
     *  console over a long run is not copied again with every new piece). */
    public base: number,
  ) {}

  /** A follower of `log` from byte `base`, or undefined when dom0 has no session for it. */
  static start(base: number, log: string, stream: StreamFn): ConsoleFollower | undefined {
    const f = new ConsoleFollower(base);
    try {
      const s = stream(['perl', '-e', PERL_LOG_FOLLOWER, log, String(base)], (line) => f.onLine(line));
      if (!s) return undefined;
      f.stopFn = s.stop;
      s.done.then(() => f.end(), () => f.end());
    } catch {
      return undefined;
    }
    return f;
  }

  private onLine(line: string): void {
    if (line === '') {
      if (Date.now() - this.lastAsked > ConsoleFollower.idleMs) this.stop();
      return;
    }
    if (!/^(?:[0-9a-f]{2})+$/.test(line)) return; // not the reader's (a shell's complaint): ignored
    this.buf = Buffer.concat([this.buf, Buffer.from(line, 'hex')]);
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private end(): void {
    this.ended = true;
    this.wake();
  }

  /** The log from byte `offset` on and the offset after it, when this follower has it: undefined
   *  for an offset before its start, or once it has ended (the caller reads the log itself). */
  readFrom(offset: number): { text: string; next: number } | undefined {
    this.lastAsked = Date.now();
    const end = this.base + this.buf.length;
    if (this.ended || offset < this.base || offset > end) return undefined;
    this.buf = this.buf.subarray(offset - this.base);
    this.base = offset;
    return { text: this.buf.toString('utf8'), next: end };
  }

  /** Resolves when the log has grown past `offset`, the follower ended, or `ms` passed. */
  waitPast(offset: number, ms: number): Promise<void> {
    this.lastAsked = Date.now();
    if (this.ended || this.base + this.buf.length > offset) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  stop(): void {
    this.stopFn?.();
    this.end();
  }
}
