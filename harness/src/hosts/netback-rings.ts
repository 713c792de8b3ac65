// netback's ring indices as dom0 shows them, for the xl backend and XenAPI's dom0 alike: the
// debugfs files xen-netback/vif<domid>.<devid>/io_ring_q<N> (Linux drivers/net/xen-netback/xenbus.c,
// xenvif_read_io_ring, one file per queue, opened with single_open so one read is one moment).
//
// Why a stream: the probes sample every ring about every 200 ms, and a new SSH exec channel per
// sample made sshd fork a session and a shell in dom0 five times a second per vif. On the lab (dom0
// on TCG-emulated vCPUs that also run blkback and netback) that cost block 0.61x and network 0.93x
// of the throughput with probes off (docs/performance.md, "Probes on real Xen"). So each vif sampled
// gets ONE long-lived bash loop in dom0, over one channel, printing all its io_ring_q* files every
// interval with shell builtins (nothing forks); a sample takes the latest complete snapshot.
import type { ExecResult } from '../remote/ssh';
import type { RingId, RingIndices } from '../model/host';
import type { DeviceRef } from '../model/scenario';
import { shJoin } from '../util/quote';
import { NETBACK_REREAD_MARK, parseNetbackIoRing } from './xl/parse';

export const NETBACK_DEBUGFS = '/sys/kernel/debug/xen-netback';

export const netbackDir = (domid: number, devid: number) => `${NETBACK_DEBUGFS}/vif${domid}.${devid}`;

/** Every io_ring_q* file of a vif ($1), each preceded by a `==> path <==` line and read twice, the
 *  reads apart by NETBACK_REREAD_MARK (parse.ts, parseNetbackIoRing, says why): the fallback where
 *  the loop cannot run. */
export const IO_RINGS_SCRIPT = `for f in "$1"/io_ring_q*; do [ -r "$f" ] && { echo "==> $f <=="; cat "$f"; echo '${NETBACK_REREAD_MARK}'; cat "$f"; }; done; true`;

/**
 * The sampling loop, run by bash ($1 the vif's directory, $2 the interval in seconds). Each snapshot
 * is framed `B <seq> <dom0 uptime>` ... `E <seq>`, its files as IO_RINGS_SCRIPT prints them; `E` is
 * printed only when every file was read, so a snapshot cut short (a queue torn down, the channel
 * closed) is never complete. Nothing forks once the loop runs: each file is read whole by `mapfile`
 * (bash reads a seekable file, as a debugfs seq_file is, 4 KiB at a time: one read(2) for a queue's
 * few hundred bytes), twice in a row (the second read brackets the first's moment:
 * parseNetbackIoRing), printed by `printf`, and the wait is `read -t` on a pipe nobody writes (fd 3,
 * opened once). Measured on the lab (dom0 on TCG-emulated vCPUs, one vif of one queue, 15 s per
 * variant, twice): dash's `read` builtin (one read(2) per byte) and a `sleep` fork per interval took
 * 5.0-5.9 s of dom0 CPU in 15 s (a third of a vCPU, 40 snapshots: each fork and exec costs ~80 ms of
 * CPU there); one `head` per interval instead of the reads 6.8 s (35 snapshots); this loop 1.1-1.3 s
 * (70 snapshots). Debian's and XenServer's dom0 have bash; where there is none the stream ends at
 * once and the sampler uses the one-shot exec. The loop ends by itself when the directory goes (the
 * domain destroyed or migrated away: netback removes it in xenvif_debugfs_delif), printing `G`, and
 * when stdout is gone (a write fails or SIGPIPE ends the shell).
 */
export const RING_LOOP_SCRIPT = [
  'exec 3<> <(:) || exit 1',
  `REREAD_MARK='${NETBACK_REREAD_MARK}'`,
  'n=0',
  'while [ -d "$1" ]; do',
  ' n=$((n+1)); up=0; read -r up _ < /proc/uptime',
  ' echo "B $n $up" || exit 0',
  ' ok=1',
  ' for f in "$1"/io_ring_q*; do',
  '  [ -r "$f" ] || continue',
  '  printf "==> %s <==\\n" "$f"',
  '  { mapfile -t l < "$f" && mapfile -t m < "$f"; } 2>/dev/null && printf "%s\\n" "${l[@]}" "${REREAD_MARK}" "${m[@]}" || ok=0',
  ' done',
  ' [ "$ok" = 1 ] && { echo "E $n" || exit 0; }',
  ' read -r -t "$2" -u 3 _',
  ' [ $? -gt 128 ] || exit 1',
  'done',
  'echo G',
].join('\n');

/** Splits what IO_RINGS_SCRIPT (or one snapshot of the loop) prints into the text of each queue. */
export function splitIoRings(text: string): Map<number, string> {
  const out = new Map<number, string>();
  const parts = text.split(/^==> .*io_ring_q(\d+) <==$/m);
  for (let i = 1; i + 1 < parts.length; i += 2) out.set(Number(parts[i]), parts[i + 1]!);
  return out;
}

/** The rings a vif's snapshot (ioRings) shows: a tx and an rx ring per queue that has them. */
export function netbackRingIds(dev: DeviceRef, rings: Map<number, string>): RingId[] {
  const out: RingId[] = [];
  for (const [queue, text] of rings) {
    const q = parseNetbackIoRing(text);
    if (q?.tx) out.push({ dev, queue, ring: 'tx' });
    if (q?.rx) out.push({ dev, queue, ring: 'rx' });
  }
  return out;
}

/** One tx or rx ring's indices in a vif's snapshot; null when its queue or ring is not there. */
export function netbackIndices(rings: Map<number, string>, ring: RingId): RingIndices | null {
  const text = rings.get(ring.queue);
  if (text === undefined || (ring.ring !== 'tx' && ring.ring !== 'rx')) return null;
  return parseNetbackIoRing(text)?.[ring.ring] ?? null;
}

/** The part of a dom0 SSH link the sampler uses (remote/ssh's SshConnection, the xl backend's Dom0Link). */
export interface RingLink {
  exec(argv: readonly string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  stream(line: string, onLine: (line: string) => void): { stop(): void; done: Promise<ExecResult> };
}

interface Feed {
  link: RingLink;
  /** Who asked (the guest): its vif under another domid (rebooted, migrated) ends this stream. */
  owner?: string;
  stop(): void;
  /** The latest complete snapshot and when it arrived (local clock). */
  latest?: { at: number; rings: Map<number, string> };
  /** Waiting for the next complete snapshot; true when one came, false when the stream ended. */
  waiters: ((got: boolean) => void)[];
  /** The loop said the directory is gone (an answer: no rings), not that it failed. */
  gone: boolean;
  ended: boolean;
  lastAsked: number;
  idle?: NodeJS.Timeout;
}

export class NetbackRingSampler {
  /** How often the loop prints a snapshot (the probes sample every 200 ms). */
  intervalMs = 200;
  /** Longest wait for a snapshot (the first, or a fresh one when the latest is stale) before the one-shot exec answers. */
  waitMs = 3000;
  /** A snapshot older than this is not the state now (a stalled loop must not look like a stuck ring). */
  staleMs = 1000;
  /** A stream nobody asked for in this long is stopped. */
  idleMs = 10_000;
  /** Streams at once per link: sshd allows 10 sessions per connection (sshd_config MaxSessions), and
   *  the xl backend's 5 exec channels (a workload's far end among them), its two xenstore watch
   *  streams and its console follower take 8 (hosts/xl/dom0.ts). */
  maxStreams = 2;
  /** The one-shot reads answer every sample of the same moment (tx and rx of all queues). */
  freshMs = 150;

  private readonly feeds = new Map<string, Feed>();
  /** Links where the loop could not start: the one-shot exec answers there from then on. */
  private readonly noStream = new WeakSet<RingLink>();
  private readonly recent = new Map<string, { at: number; rings: Promise<Map<number, string>> }>();
  /** Links of a closed sampler: no stream starts on them any more (a new connection may stream again). */
  private readonly retired = new WeakSet<RingLink>();
  private lastLink?: RingLink;

  constructor(private readonly link: () => Promise<RingLink>) {}

  /** The text of each io_ring_q<N> file of vif<domid>.<devid>, by queue (empty: no such vif now).
   *  owner names the guest, so a stream of its previous domain stops. */
  async ioRings(domid: number, devid: number, owner?: string): Promise<Map<number, string>> {
    const link = await this.link();
    this.lastLink = link;
    const key = `${domid}.${devid}`;
    // the guest's domain changed (reboot, migration, restore): the old domain's loop is of no use
    if (owner !== undefined) for (const [k, f] of [...this.feeds]) if (f.owner === owner && k !== key && k.endsWith(`.${devid}`)) this.end(k, f);
    let feed = this.feeds.get(key);
    if (feed && feed.link !== link) {
      this.end(key, feed); // the guest moved to another host's dom0
      feed = undefined;
    }
    if (!feed) {
      if (this.retired.has(link) || this.noStream.has(link) || [...this.feeds.values()].filter((f) => f.link === link).length >= this.maxStreams) return this.oneShot(link, domid, devid);
      feed = this.start(link, key, domid, devid, owner);
    }
    feed.lastAsked = Date.now();
    if (!feed.latest || Date.now() - feed.latest.at > this.staleMs) {
      const got = await this.next(feed);
      if (!got) {
        if (feed.gone) return new Map();
        // a loop that never printed a snapshot cannot run on this dom0; one that stalled is
        // replaced by the next sample's (either way no later sample waits on it again)
        if (!feed.latest) this.noStream.add(link);
        this.end(key, feed);
        return this.oneShot(link, domid, devid);
      }
    }
    return feed.latest!.rings;
  }

  /** Waits (bounded) for the feed's next complete snapshot. */
  private next(feed: Feed): Promise<boolean> {
    if (feed.ended) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(false), this.waitMs);
      const settle = (got: boolean) => {
        clearTimeout(timer);
        feed.waiters = feed.waiters.filter((w) => w !== settle);
        resolve(got);
      };
      feed.waiters.push(settle);
    });
  }

  private start(link: RingLink, key: string, domid: number, devid: number, owner?: string): Feed {
    const feed: Feed = { link, owner, stop: () => undefined, waiters: [], gone: false, ended: false, lastAsked: Date.now() };
    let frame: { seq: string; lines: string[] } | undefined;
    const onLine = (l: string) => {
      if (l.startsWith('B ')) frame = { seq: l.split(' ')[1]!, lines: [] };
      else if (l.startsWith('E ')) {
        if (frame && l.slice(2) === frame.seq) {
          feed.latest = { at: Date.now(), rings: splitIoRings(frame.lines.join('\n') + '\n') };
          for (const w of [...feed.waiters]) w(true);
        }
        frame = undefined;
      } else if (l === 'G') feed.gone = true;
      else frame?.lines.push(l);
    };
    const ended = () => {
      feed.ended = true;
      if (feed.idle) clearTimeout(feed.idle);
      if (this.feeds.get(key) === feed) this.feeds.delete(key);
      for (const w of [...feed.waiters]) w(false);
    };
    this.feeds.set(key, feed);
    this.armIdle(key, feed);
    try {
      const s = link.stream(shJoin(['bash', '-c', RING_LOOP_SCRIPT, 'bash', netbackDir(domid, devid), (this.intervalMs / 1000).toFixed(3)]), onLine);
      feed.stop = s.stop;
      s.done.then(ended, ended);
    } catch {
      ended();
    }
    return feed;
  }

  private armIdle(key: string, feed: Feed): void {
    feed.idle = setTimeout(() => {
      if (feed.ended) return;
      if (Date.now() - feed.lastAsked >= this.idleMs) this.end(key, feed);
      else this.armIdle(key, feed);
    }, this.idleMs);
    feed.idle.unref?.();
  }

  private end(key: string, feed: Feed): void {
    if (this.feeds.get(key) === feed) this.feeds.delete(key);
    if (feed.idle) clearTimeout(feed.idle);
    if (!feed.ended) feed.stop();
  }

  private oneShot(link: RingLink, domid: number, devid: number): Promise<Map<number, string>> {
    const k = `${domid}.${devid}`;
    const hit = this.recent.get(k);
    if (hit && Date.now() - hit.at < this.freshMs) return hit.rings;
    const rings = link.exec(['sh', '-c', IO_RINGS_SCRIPT, 'sh', netbackDir(domid, devid)]).then((r) => (r.code === 0 ? splitIoRings(r.stdout) : new Map<number, string>()));
    this.recent.set(k, { at: Date.now(), rings });
    return rings;
  }

  /** Domains whose vifs have a stream now (`<domid>.<devid>`), for the tests and diagnostics. */
  streaming(): string[] {
    return [...this.feeds.keys()];
  }

  /** Stops every stream (the backend or host closing); later samples on the same links use the one-shot exec. */
  close(): void {
    if (this.lastLink) this.retired.add(this.lastLink);
    for (const [key, feed] of [...this.feeds]) {
      this.retired.add(feed.link);
      this.end(key, feed);
    }
  }
}
