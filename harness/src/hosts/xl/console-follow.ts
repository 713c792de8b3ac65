// Following a guest's console log in dom0 as it grows, instead of asking for its tail every few
// hundred milliseconds. On the lab every poll was an SSH session and a `tail` in dom0 (0.3-0.7 s
// under TCG, and dom0 CPU taken from the workload it was waiting on), and a command's end was seen
// half a second late on average. One long-lived reader sends each new piece of the log as it is
// written; the console agent reads it from memory and wakes when it arrives.
import type { LineStream } from '../../remote/ssh';
import { hostError } from '../../model/errors';

/** Reads the log from a byte offset and prints every new piece as one hex line, within ~50 ms of
 *  its being written; an empty line after each second of quiet, so that a reader whose channel is
 *  gone dies of SIGPIPE (it has no other way to learn it). Perl because dom0 always has it (Debian's
 *  perl-base is essential) and it reads a growing file without a process per read.
 *
 *  It also writes to the guest's console: a stdin line `<seq> <pty> <hex>` writes the bytes and a
 *  newline to the pty and answers `w<seq>`, or `w<seq> <error>`. Each line sent to the guest was a
 *  command of its own (an SSH session and a shell in dom0: 0.4 s on the lab); now it is a write on
 *  a session already open. The end of stdin only ends the writes: the reader's life is the log's.
 *  O_NOCTTY: sshd makes the command a session leader, and a tty it opened would become its
 *  controlling terminal, whose hang-up as the domain dies would kill the reader. */
export const PERL_LOG_FOLLOWER = String.raw`use strict; use Fcntl; $| = 1; my ($log, $off) = @ARGV;
open(my $f, "<", $log) or die "open $log: $!
"; binmode $f; seek($f, $off, 0) or die "seek: $!
"; my ($quiet, $in, $stdin) = (0, "", 1);
while (1) { my $n = sysread($f, my $b, 65536); die "read: $!
" unless defined $n;
  if ($n) { print unpack("H*", $b), "
"; $quiet = 0; next; }
  my $rin = ""; vec($rin, fileno(STDIN), 1) = 1;
  if ($stdin && select($rin, undef, undef, 0.05) > 0) {
    my $m = sysread(STDIN, my $c, 65536);
    if (!$m) { $stdin = 0; next; }
    $in .= $c;
    while ($in =~ s/^([^\n]*)\n//) { my ($seq, $pty, $hex) = $1 =~ /^(\d+) (\S+) ((?:[0-9a-f]{2})*)$/ or next; my $err = "";
      if (sysopen(my $t, $pty, O_WRONLY | O_NOCTTY)) { print $t pack("H*", $hex), "
" or $err = "$!"; close($t) or $err ||= "$!"; } else { $err = "$!"; }
      print "w$seq", ($err eq "" ? "" : " $err"), "
"; }
    next; }
  select(undef, undef, undef, 0.05) unless $stdin;
  if (++$quiet >= 20) { print "
"; $quiet = 0; } }`;

/** The part of dom0 a follower needs: a line stream of a command, or undefined when dom0 has no
 *  session to spare for one (the caller then polls). */
export type StreamFn = (argv: readonly string[], onLine: (line: string) => void) => LineStream | undefined;

/** The log's bytes from `base` on, as the reader sent them. */
export class ConsoleFollower {
  private buf = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();
  private stream: LineStream | undefined;
  private lastAsked = Date.now();
  private writes = 0;
  private readonly unanswered = new Map<number, { done(): void; fail(e: Error): void }>();
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
      f.stream = s;
      s.done.then(() => f.end(), () => f.end());
    } catch {
      return undefined;
    }
    return f;
  }

  private onLine(line: string): void {
    const answer = /^w(\d+)(?: (.*))?$/.exec(line);
    if (answer) return this.answered(Number(answer[1]), answer[2]);
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

  private answered(seq: number, error: string | undefined): void {
    const w = this.unanswered.get(seq);
    if (!w) return;
    this.unanswered.delete(seq);
    if (error === undefined) w.done();
    else w.fail(hostError('XL_CONSOLE', `writing to the guest's console failed in dom0: ${error}`));
  }

  private end(): void {
    this.ended = true;
    this.wake();
    // whether the reader wrote these before it ended is unknown: the caller must not send them again
    for (const [seq, w] of this.unanswered) {
      this.unanswered.delete(seq);
      w.fail(hostError('XL_CONSOLE', 'the console follower in dom0 ended before it answered a write to the guest\'s console'));
    }
  }

  /** Writes `line` and a newline to the console's pty through the reader in dom0; resolves once it
   *  is written. Undefined once the follower has ended (the caller writes by a command of its own). */
  write(pty: string, line: string): Promise<void> | undefined {
    if (this.ended || !this.stream) return undefined;
    this.lastAsked = Date.now();
    const seq = ++this.writes;
    const written = new Promise<void>((done, fail) => this.unanswered.set(seq, { done, fail }));
    this.stream.write(`${seq} ${pty} ${Buffer.from(line).toString('hex')}\n`);
    return written;
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
    this.stream?.stop();
    this.end();
  }
}
