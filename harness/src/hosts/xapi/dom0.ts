// dom0 probes over SSH on the host running the guest: xenstore through the xenstore-* tools and the
// watch reader the xl backend uses too (hosts/dom0-xenstore.ts: one long-lived watch stream per root,
// reads batched into one command per tick; here watched subtrees are also mirrored locally), netback's debugfs io_ring_q* files for ring indices (one long-lived
// sampling stream per vif, hosts/netback-rings.ts), and
// blkback/netback counters from sysfs.
import type { GuestRef, RingId, RingIndices, WatchCallback, XenstoreView } from '../../model/host';
import type { ReadBatch } from '../../model/trace';
import type { DeviceRef } from '../../model/scenario';
import { hostError } from '../../model/errors';
import { shQuote } from '../../util/quote';
import type { SshConnection } from '../../remote/ssh';
import { XenstoreMirror } from '../xs-mirror';
import { lsFoundNothing, parseXenstoreLs, readInChunks, toToolText, watchCommand, watchFires, watchStreamReader } from '../dom0-xenstore';
import { NetbackRingSampler, netbackIndices, netbackRingIds } from '../netback-rings';

/** The xenstore of one dom0, as the probes and wait steps see it. */
export class Dom0Xenstore implements XenstoreView {
  private pending: { path: string; resolve(v: string | null): void; reject(e: unknown): void }[] = [];
  private streams = new Map<string, { stop(): void; subscribers: Set<(p: string, v: string | null, batch?: ReadBatch) => void>; ready: Promise<void> }>();

  private readonly mirror = new XenstoreMirror();
  /** The dom0 the watch streams (and so the mirror) belong to. */
  private streamConn?: SshConnection;
  private loads = new Map<string, Promise<void>>();

  constructor(private readonly ssh: () => Promise<SshConnection>) {}

  /** A watch stream delivers every change below this path, so a mirror of it stays exact. */
  private streamed(path: string): boolean {
    return [...this.streams.keys()].some((r) => path === r || path.startsWith(`${r}/`));
  }

  /** The dom0 of the host running the guests now; after a migration to another pool member, the
   *  streams and the mirror of the old one are dropped (its xenstore and domids are not these). */
  private async follow(): Promise<void> {
    const conn = await this.ssh();
    if (this.streamConn && this.streamConn !== conn) {
      for (const old of this.streams.values()) old.stop();
      this.streams.clear();
      this.mirror.clear();
    }
    this.streamConn = conn;
  }

  /** Reads issued in the same tick go to dom0 as one command; mirrored subtrees answer locally. */
  async read(path: string): Promise<string | null> {
    await this.follow();
    if (this.mirror.answers(path)) return this.mirror.read(path);
    return new Promise((resolve, reject) => {
      this.pending.push({ path, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => void this.flushReads());
    });
  }

  private async flushReads() {
    const batch = this.pending;
    this.pending = [];
    const values = new Map<string, string | null>();
    let failed: { error: unknown } | undefined;
    await readInChunks([...new Set(batch.map((b) => b.path))], async (argv) => (await (await this.ssh()).exec(argv)).stdout, (_chunk, answer) => {
      if ('values' in answer) for (const [p, v] of answer.values) values.set(p, v);
      else failed ??= answer;
    });
    for (const b of batch) {
      if (failed) b.reject(failed.error);
      else b.resolve(values.get(b.path) ?? null);
    }
  }

  async directory(path: string): Promise<string[]> {
    await this.follow();
    if (!this.mirror.covering(path) && this.streamed(path)) await this.load(path);
    if (this.mirror.covering(path)) return this.mirror.list(path) ?? [];
    const r = await (await this.ssh()).exec(['xenstore-list', path]);
    if (r.code !== 0) return [];
    return r.stdout.split('\n').filter((l) => l !== '');
  }

  /** Loads a subtree into the mirror with one `xenstore-ls -f` (a missing node is an empty subtree). */
  private load(root: string): Promise<void> {
    let p = this.loads.get(root);
    if (!p) {
      p = (async () => {
        this.mirror.beginLoad(root);
        try {
          const r = await (await this.ssh()).exec(['xenstore-ls', '-f', root]);
          // a path that is not there is an empty subtree; another failure mirrors nothing, and
          // directory() asks dom0 itself
          if (r.code !== 0 && !lsFoundNothing(r)) this.mirror.abortLoad(root);
          else this.mirror.finishLoad(root, r.code === 0 ? parseXenstoreLs(r.stdout) : new Map(), r.code === 0);
        } catch (e) {
          this.mirror.abortLoad(root);
          throw e;
        } finally {
          this.loads.delete(root);
        }
      })();
      this.loads.set(root, p);
    }
    return p;
  }

  async write(path: string, value: string): Promise<void> {
    const r = await (await this.ssh()).exec(['xenstore-write', path, toToolText(value)]);
    if (r.code !== 0) throw hostError('DOM0_XENSTORE', `xenstore-write ${path} failed: ${r.stderr.trim()}`);
  }

  async rm(path: string): Promise<void> {
    const r = await (await this.ssh()).exec(['xenstore-rm', path]);
    if (r.code !== 0 && !/could not remove|no such file/i.test(r.stderr)) throw hostError('DOM0_XENSTORE', `xenstore-rm ${path} failed: ${r.stderr.trim()}`);
  }

  /**
   * One watch stream per root (`/local/domain` covers every guest and backend path); each
   * subscriber gets the changed paths at or below its own path, with the value read in dom0 as the
   * event arrives (a read over SSH later would miss fast transitions such as Initialised ->
   * Connected) and, for values read late, their batch (dom0-xenstore.ts PERL_WATCHER). Resolves
   * once the stream is live (the watch fires once for the watched path when it is registered).
   */
  async watch(path: string, onChange: WatchCallback): Promise<() => Promise<void>> {
    const root = path.startsWith('/local/domain/') || path === '/local/domain' ? '/local/domain' : path;
    await this.follow();
    const conn = this.streamConn!;
    let s = this.streams.get(root);
    if (!s) {
      s = this.startStream(root, conn);
      this.streams.set(root, s);
    }
    const sub = (changed: string, value: string | null, batch?: ReadBatch) => {
      const fired = watchFires(path, changed, value);
      if (fired === changed) onChange(changed, value, batch);
      else if (fired !== undefined) onChange(fired, null);
    };
    s.subscribers.add(sub);
    await s.ready;
    // xenstored fires a new watch once at registration (XS_WATCH); the view does the same for each
    // watcher, as the xl and simulated views do
    onChange(path);
    const mine = s;
    return async () => {
      mine.subscribers.delete(sub);
      if (mine.subscribers.size === 0) {
        mine.stop();
        if (this.streams.get(root) !== mine) return;
        this.streams.delete(root);
        this.mirror.clear(); // nothing keeps it current any more
      }
    };
  }

  /** The watch stream of `root` on `conn`: its events reach the mirror, then the subscribers. */
  private startStream(root: string, conn: SshConnection) {
    const subscribers = new Set<(p: string, v: string | null, batch?: ReadBatch) => void>();
    let live!: () => void;
    let fail!: (e: unknown) => void;
    const ready = new Promise<void>((res, rej) => {
      live = res;
      fail = rej;
    });
    let first = true;
    const st = conn.stream(watchCommand(root), watchStreamReader((changed, value, batch) => {
      if (first) {
        first = false;
        live();
        return;
      }
      this.mirror.apply(changed, value);
      for (const sub of subscribers) sub(changed, value, batch);
    }));
    const entry = { stop: st.stop, subscribers, ready };
    // A stream that ended (its channel closed, xenstore-watch gone) keeps nothing current: it and
    // the mirror are dropped, so a later watch starts a new stream instead of waiting on this one;
    // one that ends before it is registered fails the watches waiting for it.
    const ended = (why: unknown) => {
      if (first) fail(why);
      if (this.streams.get(root) !== entry) return;
      this.streams.delete(root);
      this.mirror.clear();
    };
    st.done.then(
      (r) => ended(hostError('DOM0_XENSTORE', `xenstore-watch ${root} ended at once (exit ${r.code}): ${r.stderr.trim()}`)),
      (e) => ended(e),
    );
    return entry;
  }

  close() {
    for (const s of this.streams.values()) s.stop();
    this.streams.clear();
    this.mirror.clear();
  }
}

/** Ring indices and backend counters read from dom0's debugfs and sysfs. */
export class Dom0Rings {
  /** One long-lived sampling loop per vif in dom0, shared with the xl backend (netback-rings.ts says why). */
  readonly sampler: NetbackRingSampler;

  constructor(
    private readonly ssh: () => Promise<SshConnection>,
    /** The vifs of a domain (its frontend's device/vif directory in dom0's xenstore). */
    private readonly vifs: (domid: number) => Promise<number[]>,
  ) {
    this.sampler = new NetbackRingSampler(ssh);
  }

  /** Netback rings of a guest: one tx and one rx per queue of each vif. Blkback exposes no ring indices. */
  async rings(guest: GuestRef): Promise<RingId[]> {
    const out: RingId[] = [];
    for (const devid of await this.vifs(guest.domid)) {
      out.push(...netbackRingIds(`vif/${devid}` as DeviceRef, await this.sampler.ioRings(guest.domid, devid, guest.handle)));
    }
    return out;
  }

  async sample(guest: GuestRef, ring: RingId): Promise<RingIndices | null> {
    if (!ring.dev.startsWith('vif/') || (ring.ring !== 'tx' && ring.ring !== 'rx')) return null;
    return netbackIndices(await this.sampler.ioRings(guest.domid, Number(ring.dev.slice(4)), guest.handle), ring);
  }

  close(): void {
    this.sampler.close();
  }

  /** A disk's backend counters, from whichever backend serves it (the frontend's `backend` key
   *  says: blkback's statistics/ in sysfs, tapdisk3's shared statistics file), or the vif's net
   *  device counters. null: the backend keeps none dom0 can read (QEMU's qdisk), or the device is gone. */
  async stats(domid: number, dev: DeviceRef): Promise<Record<string, number> | null> {
    const [kind, devid] = dev.split('/') as ['vbd' | 'vif', string];
    if (kind === 'vif') return this.sysfsStats(`/sys/class/net/vif${domid}.${devid}/statistics`);
    const ssh = await this.ssh();
    const be = await ssh.exec(['xenstore-read', `/local/domain/${domid}/device/vbd/${devid}/backend`]);
    const backend = /\/backend\/([a-z0-9]+)\/\d+\/\d+$/.exec(be.stdout.trim());
    if (be.code !== 0 || !backend) return null;
    if (backend[1] === 'vbd') return this.sysfsStats(`/sys/bus/xen-backend/devices/vbd-${domid}-${devid}/statistics`);
    if (backend[1] !== 'vbd3') return null;
    // tapback writes the serving tapdisk's pid as kthread-pid; tapdisk keeps its counters in
    // /dev/shm/td3-<pid>/vbd-<domid>-<devid> (the file xenstat's read_attributes_vbd3 reads)
    const pid = await ssh.exec(['xenstore-read', `${be.stdout.trim()}/kthread-pid`]);
    if (pid.code !== 0 || !/^\d+$/.test(pid.stdout.trim())) return null;
    const od = await ssh.exec(['od', '-An', '-v', '-tu8', `/dev/shm/td3-${pid.stdout.trim()}/vbd-${domid}-${devid}`]);
    return od.code === 0 ? parseVbd3Stats(od.stdout) : null;
  }

  private async sysfsStats(dir: string): Promise<Record<string, number> | null> {
    const r = await (await this.ssh()).execLine(`cd ${shQuote(dir)} 2>/dev/null && grep -H . *`);
    if (r.code !== 0) return null;
    const stats: Record<string, number> = {};
    for (const line of r.stdout.split('\n')) {
      const m = /^([A-Za-z0-9_]+):\s*(\d+)\s*$/.exec(line);
      if (m) stats[m[1]!] = Number(m[2]);
    }
    return stats;
  }
}

/** The u64 fields of tapdisk3's struct vbd3_stats (version 1) after its u32 version and u32 pad, in
 *  order, named as blkback names the same counters where it has them. */
const VBD3_FIELDS = ['oo_req', 'rd_req', 'rd_req_done', 'rd_sect', 'rd_ticks', 'wr_req', 'wr_req_done', 'wr_sect', 'wr_ticks', 'io_errors', 'flags'] as const;

/** `od -An -v -tu8` of a vbd3 statistics file; null for another version or a short file. */
export function parseVbd3Stats(text: string): Record<string, number> | null {
  const words = text.trim().split(/\s+/).filter(Boolean).map((w) => BigInt(w));
  if (words.length < 1 + VBD3_FIELDS.length) return null;
  // the first u64 holds the u32 version (little-endian, low half) and the pad
  if ((words[0]! & 0xffffffffn) !== 1n) return null;
  const out: Record<string, number> = {};
  VBD3_FIELDS.forEach((f, i) => (out[f] = Number(words[i + 1]!)));
  return out;
}
