// What runs in a dom0 to read and watch its xenstore, and how its output is read back: shared by
// the xl backend (hosts/xl/xenstore.ts) and the XenAPI backend's dom0 access (hosts/xapi/dom0.ts),
// so a pool's dom0 and a plain Xen host are observed the same way.
import { hostError } from '../model/errors';
import { shJoin } from '../util/quote';
import type { ReadBatch } from '../model/trace';

/**
 * A value as the xenstore tools print it (xenstore-read, xenstore-ls; Xen's xs_lib.c
 * sanitise_value), back to the value. Seen with Debian's xen-utils 4.17 against the C xenstored:
 * printable ASCII stays as it is, a backslash is doubled, tab, newline and carriage return are
 * \t \n \r, bytes below 8 are three octal digits (\001) and every other byte is \xHH (\x0c,
 * UTF-8's \xc3\xa9), so the bytes come back exactly. `xenstore-read -R` prints them raw, but the
 * escaped form is what every Xen the harness meets prints without options.
 */
export function fromToolText(text: string): string {
  if (!text.includes('\\') && !/[^\x20-\x7e]/.test(text)) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x5c) {
      // one character per byte (the tools print ASCII; base64 answers are decoded as latin1)
      if (c <= 0xff) bytes.push(c);
      else bytes.push(...Buffer.from(text[i]!, 'utf8'));
      continue;
    }
    const n = text[i + 1] ?? '';
    if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
      bytes.push(parseInt(text.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (/^[0-7]{3}$/.test(text.slice(i + 1, i + 4))) {
      bytes.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(({ t: 9, n: 10, r: 13 } as Record<string, number>)[n] ?? n.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A value as `xenstore-write` takes it: the tool reads escapes in its argument (`x\y` is stored as
 *  `xy`, `\x41` as `A`), so a backslash is doubled; every other byte goes as it is. */
export const toToolText = (value: string): string => value.replace(/\\/g, '\\\\');

/** The command line of the watch stream on `root` (one long-lived SSH command in dom0). */
export const watchCommand = (root: string): string => shJoin(['sh', '-c', WATCH_SCRIPT, PERL_WATCHER, root]);

/** Reads many keys in one command; each answer is `V<base64>` or `N` (no such key), one line per path. */
export const BATCH_READ_SCRIPT =
  'for p in "$@"; do if v=$(xenstore-read -- "$p" 2>/dev/null); then printf "V%s\\n" "$(printf %s "$v" | base64 -w0)"; else echo N; fi; done';

/** The watch reader where dom0 has Perl (Debian always does: perl-base is essential): it speaks
 *  xenstored's wire protocol (xs_wire.h: 16-byte header type/req_id/tx_id/len; XS_WATCH 4,
 *  XS_READ 2, XS_WATCH_EVENT 15, XS_ERROR 16) on the unix socket and reads each value within
 *  a millisecond of its event, so a frontend's quick Initialised -> Connected is seen as two
 *  states; a reader spawning xenstore-read per event (~0.2 s under TCG) sees only the last.
 *  Prints `X<path> <hex value>` or `N<path>` (removed).
 *
 *  A read can still come late: when the reader is descheduled (dom0 under TCG on a loaded machine),
 *  both ends of a device may have moved on before it reads the first change, and the read answers
 *  with a state the other end's events, not read yet, explain. xenstored sends a connection's
 *  watch events and replies in the order it processed the requests, so the events that arrive
 *  before a read's reply are exactly the changes made before that read. The reader therefore reads
 *  the paths of every such event too (an event for the path being read is covered by its reply;
 *  one for a path read earlier means it changed again) until a pass ends with no change behind it:
 *  the values then hold together, as of the last read. Such a pass is printed as `B<n>` followed
 *  by its n lines in the order of each path's last change, each ending ` #<first>,<last>`: where
 *  its first and last change fall among the pass's events (their order is xenstored's order of the
 *  writes). The trace keeps both (XenstoreEvent.batch), so a check knows which end moved first
 *  and where a value hides changes it never saw. A pass is closed after 256 reads under a stream of
 *  changes (a key rewritten faster than it is read); what was still changing is not printed with it
 *  and starts the next. */
export const PERL_WATCHER = String.raw`use strict; use IO::Socket::UNIX;
$| = 1; my $root = shift; my @socks = @ARGV ? @ARGV : ("/run/xenstored/socket", "/var/run/xenstored/socket"); my $s;
for my $p (@socks) { $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $p) and last; }
die "no xenstored socket
" unless $s;
my $rid = 0; my @events;
sub put { my ($t, $b) = @_; $rid++; syswrite($s, pack("V4", $t, $rid, 0, length $b) . $b) or die "write: $!
"; }
sub full { my $n = shift; my $b = ""; while (length($b) < $n) { my $r = sysread($s, $b, $n - length($b), length($b)); die "xenstored closed
" unless $r; } $b; }
sub msg { my ($t, $i, $x, $l) = unpack("V4", full(16)); ($t, $l ? full($l) : ""); }
sub reply { while (1) { my ($t, $b) = msg(); if ($t == 15) { push @events, (split /\0/, $b)[0]; next; } return ($t, $b); } }
sub event { while (1) { return shift @events if @events; my ($t, $b) = msg(); return (split /\0/, $b)[0] if $t == 15; } }
sub value { my $p = shift; put(2, "$p\0"); my ($t, $v) = reply(); $t == 16 ? undef : $v; }
sub line { my ($p, $v, $o) = @_; $o //= ""; defined $v ? "X$p " . unpack("H*", $v) . "$o
" : "N$p$o
"; }
put(4, "$root\0winpv\0"); my ($wt, $wb) = reply(); die "watch refused: $wb
" if $wt == 16;
my $first = event(); print line($first, value($first));
while (1) {
  my (@order, %dirty, %val, %fst, %lst); my $n = 0;
  my $mark = sub { my $covered = shift; for my $q (@_) { $n++; push @order, $q unless exists $fst{$q}; $fst{$q} //= $n; $lst{$q} = $n; $dirty{$q} = 1 unless defined $covered and $q eq $covered; } };
  $mark->(undef, event(), splice(@events));
  my $reads = 0;
  while ($reads < 256 and my @todo = grep { $dirty{$_} } @order) {
    for my $p (@todo) {
      delete $dirty{$p}; $val{$p} = value($p); $reads++;
      $mark->($p, splice(@events));
    }
  }
  unshift @events, grep { $dirty{$_} } @order;
  my @out = sort { $lst{$a} <=> $lst{$b} } grep { exists $val{$_} and not $dirty{$_} } @order;
  next unless @out;
  print(@out > 1 ? "B" . scalar(@out) . "
" . join("", map { line($_, $val{$_}, " #$fst{$_},$lst{$_}") } @out) : line($out[0], $val{$out[0]}));
}`;

/** Exits 0 where dom0 can run PERL_WATCHER: Perl with IO::Socket::UNIX, and xenstored's socket
 *  (C xenstored's /run/xenstored, oxenstored's /var/run/xenstored on XenServer and XCP-ng). */
export const PERL_READER_CHECK = 'perl -MIO::Socket::UNIX -e 1 2>/dev/null && { [ -S /run/xenstored/socket ] || [ -S /var/run/xenstored/socket ]; }';

/** The watch stream: the Perl reader when dom0 can run it, else xenstore-watch with one
 *  xenstore-read per event (`V<path> <base64 value>` or `N<path>`). */
export const WATCH_SCRIPT =
  `if ${PERL_READER_CHECK}; then exec perl -e "$0" "$1"; fi; ` +
  'xenstore-watch -- "$1" | while IFS= read -r p; do if v=$(xenstore-read -- "$p" 2>/dev/null); then printf "V%s %s\\n" "$p" "$(printf %s "$v" | base64 -w0)"; else printf "N%s\\n" "$p"; fi; done';

/** Paths are absolute, or xenstored's special watches (`@releaseDomain`, `@introduceDomain`), which
 *  have no value: their events arrive as `N@releaseDomain`. */
export function parseWatchLine(line: string): { path: string; value: string | null; order?: [number, number] } | undefined {
  const t = line.trim();
  const n = /^N([/@]\S*)(?: #(\d+),(\d+))?$/.exec(t);
  if (n) return { path: n[1]!, value: null, ...(n[2] ? { order: [Number(n[2]), Number(n[3])] as [number, number] } : {}) };
  const x = /^X([/@]\S*) ?([0-9a-f]*)(?: #(\d+),(\d+))?$/.exec(t);
  if (x) return { path: x[1]!, value: Buffer.from(x[2]!, 'hex').toString('utf8'), ...(x[3] ? { order: [Number(x[3]), Number(x[4])] as [number, number] } : {}) };
  const m = /^V([/@]\S*) ?(\S*)$/.exec(line.trim());
  return m ? { path: m[1]!, value: fromToolText(Buffer.from(m[2]!, 'base64').toString('latin1')) } : undefined;
}

/** Numbers the watch reader's batches; one counter for the process, so two dom0s' batches (a
 *  migration between hosts) never share a number in one instance's trace. */
let lastBatch = 0;

/** Turns the watch stream's lines into changes: a `B<n>` line makes the next n changes one batch,
 *  read together in one consistent pass (PERL_WATCHER says how); other changes carry no batch. */
export function watchStreamReader(onChange: (path: string, value: string | null, batch?: ReadBatch) => void): (line: string) => void {
  let left = 0;
  let id = 0;
  return (line) => {
    const b = /^B(\d+)$/.exec(line.trim());
    if (b) {
      left = Number(b[1]);
      id = ++lastBatch;
      return;
    }
    const ev = parseWatchLine(line);
    if (!ev) return;
    const inBatch = left > 0;
    if (inBatch) left--;
    if (inBatch && ev.order) onChange(ev.path, ev.value, { id, first: ev.order[0], last: ev.order[1] });
    else onChange(ev.path, ev.value);
  };
}

/**
 * The path a local watch on `watched` fires with for a change the stream reported at `changed`
 * (undefined: not this watch's). A change at or below the watched path fires with the changed path;
 * a removal of an ancestor fires it with its own path, as xenstored fires the watches below a
 * removed node (xenstored_core.c fire_watches with recurse): one stream on /local/domain reports
 * the removed node once, and the watches below it would otherwise never hear of it.
 */
export function watchFires(watched: string, changed: string, value: string | null): string | undefined {
  if (changed === watched || changed.startsWith(watched.endsWith('/') ? watched : `${watched}/`)) return changed;
  if (value === null && watched.startsWith(`${changed}/`)) return watched;
  return undefined;
}

/** Whether a failed `xenstore-ls` said its path is not there (xs_directory's ENOENT, as the tool
 *  prints it: `xenstore-ls: xs_directory (<path>): No such file or directory`), rather than failing
 *  otherwise (xenstored unreachable): the first is an empty subtree, the second says nothing. */
export const lsFoundNothing = (r: { code: number | null; stderr: string }): boolean => r.code !== 0 && /No such file or directory/.test(r.stderr);

/** `xenstore-ls -f` output: `<path> = "<value>"`, the value in the tools' text (fromToolText). */
export function parseXenstoreLs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\/\S*) = "(.*)"$/.exec(line);
    if (m) out.set(m[1]!, fromToolText(m[2]!));
  }
  return out;
}

/** Largest number of paths in one batched read (keeps the command line well under ARG_MAX). */
export const BATCH_READ_MAX = 256;

/** The paths in chunks of BATCH_READ_MAX, each one batched read (`run` gives its stdout), each
 *  chunk's answer or failure handed to `onChunk` as it comes. */
export async function readInChunks(
  paths: readonly string[],
  run: (argv: string[]) => Promise<string>,
  onChunk: (chunk: string[], answer: { values: Map<string, string | null> } | { error: unknown }) => void,
): Promise<void> {
  for (let i = 0; i < paths.length; i += BATCH_READ_MAX) {
    const chunk = paths.slice(i, i + BATCH_READ_MAX);
    let answer: { values: Map<string, string | null> } | { error: unknown };
    try {
      answer = { values: parseBatchRead(chunk, await run(['sh', '-c', BATCH_READ_SCRIPT, 'sh', ...chunk])) };
    } catch (error) {
      answer = { error };
    }
    onChunk(chunk, answer);
  }
}

export function parseBatchRead(paths: readonly string[], stdout: string): Map<string, string | null> {
  const lines = stdout.split('\n').filter((l) => l !== '');
  if (lines.length !== paths.length) throw hostError('XS_BATCH', `batched xenstore read answered ${lines.length} of ${paths.length} paths`);
  const out = new Map<string, string | null>();
  paths.forEach((p, i) => out.set(p, lines[i]!.startsWith('V') ? fromToolText(Buffer.from(lines[i]!.slice(1), 'base64').toString('latin1')) : null));
  return out;
}

