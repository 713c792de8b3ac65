// What `winpv run` and `winpv lease` share: the lease store of a resolved host and who we are.
// Leases guard real hosts only: the simulator is private to its process.
import { hostname, userInfo } from 'node:os';
import type { ResolvedHost } from '../model/config';
import { usageError } from '../model/errors';
import { acquireLease, type Lease, type LeaseStore } from '../hosts/lease';
import type { WinpvError } from '../model/errors';
import { parseAge } from '../hosts/xapi/gc';

export interface OpenStore {
  store: LeaseStore;
  close(): Promise<void>;
}

/** The host's lease store (XenAPI: the pool's other_config; xl: a lock directory in dom0's /run), or
 *  undefined for a host that needs none (sim, private to its run). */
export async function openLeaseStore(h: ResolvedHost): Promise<OpenStore | undefined> {
  if (h.kind === 'xapi') {
    const { openXapiLeaseStore } = require('../hosts/xapi/lease') as typeof import('../hosts/xapi/lease');
    return openXapiLeaseStore(h);
  }
  if (h.kind === 'xl') {
    const { openXlLeaseStore } = require('../hosts/xl/lease') as typeof import('../hosts/xl/lease');
    return openXlLeaseStore(h);
  }
  return undefined;
}

export interface HeldCapacity {
  /** Slots held per host name (a host with none is in `skipped`). */
  slots: Map<string, number>;
  /** The lowest slot number leased on a host, if it keeps leases. */
  firstSlot(host: string): number | undefined;
  skipped: { host: string; reason: string }[];
  /** Set once any lease was lost (the run must stop; exit 3). */
  lost(): boolean;
  release(): Promise<void>;
}

export interface HoldOptions {
  runId: string;
  timeoutMs: number;
  signal: AbortSignal;
  say: (m: string) => void;
  onLost: (e: WinpvError) => void;
}

/** Leases for a run on real hosts, one per slot it will use: first whatever is free now on every host
 *  (up to the slots wanted of each), and when nothing is, a wait on all of them up to the timeout for
 *  the first slot anywhere (then LEASE_TIMEOUT, exit 3). A host whose store cannot be reached is
 *  skipped with the reason. Hosts that keep no leases (sim) get their slots as wanted. */
export async function holdCapacity(want: readonly { host: ResolvedHost; slots: number }[], o: HoldOptions): Promise<HeldCapacity> {
  const h = new Holding(o);
  try {
    const open = await h.openStores(want);
    for (const w of open) await h.takeFree(w); // what is free now, on every host
    if (open.length && ![...h.slots.values()].some((n) => n > 0)) await h.waitForFirst(open);
    for (const w of open) if (!h.slots.get(w.host.name)) h.skipped.push({ host: w.host.name, reason: `no free capacity (capacity ${w.host.capacity}, all held by other runs: winpv lease list --host ${w.host.name})` });
  } catch (e) {
    await h.release();
    throw e;
  }
  return { slots: h.slots, skipped: h.skipped, firstSlot: (host) => h.firstSlot(host), lost: () => h.leases.some((l) => l.lost !== undefined), release: () => h.release() };
}

/** A host whose lease store is open, with the slots the run wants of it. */
interface OpenHost {
  host: ResolvedHost;
  store: OpenStore;
  slots: number;
}

/** The stores and leases of one holdCapacity, to release together. */
class Holding {
  readonly slots = new Map<string, number>();
  readonly skipped: HeldCapacity['skipped'] = [];
  readonly leases: Lease[] = [];
  private readonly stores: { name: string; s: OpenStore }[] = [];
  private readonly slotsOn = new Map<string, number[]>();

  constructor(private readonly o: HoldOptions) {}

  private opts(timeoutMs: number, capacity: number, signal = this.o.signal) {
    const o = this.o;
    return { capacity, holder: leaseHolder(), runId: o.runId, timeoutMs, signal, onWait: o.say, onLost: o.onLost };
  }

  private took(host: string, l: Lease): void {
    this.leases.push(l);
    this.slotsOn.set(host, [...(this.slotsOn.get(host) ?? []), l.record.slot]);
  }

  firstSlot(host: string): number | undefined {
    return this.slotsOn.has(host) ? Math.min(...this.slotsOn.get(host)!) : undefined;
  }

  /** Each host's lease store; a host that keeps none gets its slots as wanted, one whose store cannot
   *  be reached is skipped (or, the only host, fails the run). */
  async openStores(want: readonly { host: ResolvedHost; slots: number }[]): Promise<OpenHost[]> {
    const open: OpenHost[] = [];
    for (const w of want) {
      let s: OpenStore | undefined;
      try {
        s = await openLeaseStore(w.host);
      } catch (e) {
        if (want.length === 1) throw e;
        this.skipped.push({ host: w.host.name, reason: `its lease store cannot be reached: ${(e as Error).message}` });
        continue;
      }
      if (!s) {
        this.slots.set(w.host.name, w.slots);
        continue;
      }
      this.stores.push({ name: w.host.name, s });
      open.push({ host: w.host, store: s, slots: w.slots });
    }
    return open;
  }

  /** The slots free on `h` now, up to those wanted. */
  async takeFree(h: OpenHost): Promise<void> {
    for (let k = 0; k < h.slots; k++) {
      const l = await acquireLease(h.store.store, this.opts(0, h.host.capacity)).catch(() => undefined);
      if (!l) break;
      this.took(h.host.name, l);
      this.slots.set(h.host.name, (this.slots.get(h.host.name) ?? 0) + 1);
    }
  }

  /** Nothing free: wait on every host for the first slot anywhere (the others' waits given up). */
  async waitForFirst(open: OpenHost[]): Promise<void> {
    const first = new AbortController();
    const tries = open.map(async (h) => {
      const l = await acquireLease(h.store.store, this.opts(this.o.timeoutMs, h.host.capacity, AbortSignal.any([this.o.signal, first.signal])));
      if (first.signal.aborted) {
        await l.release();
        throw new Error('another host was first');
      }
      first.abort();
      this.took(h.host.name, l);
      this.slots.set(h.host.name, 1);
    });
    const settled = await Promise.allSettled(tries);
    if (!settled.some((r) => r.status === 'fulfilled')) throw (settled.find((r) => r.status === 'rejected' && !/another host was first/.test(String(r.reason))) as PromiseRejectedResult | undefined)?.reason ?? new Error('no capacity');
  }

  async release(): Promise<void> {
    for (const l of this.leases.splice(0)) await l.release().catch((e: Error) => this.o.say(`could not release a lease on ${l.store.describe} (it expires by itself): ${e.message}`));
    for (const s of this.stores.splice(0)) await s.s.close().catch(() => undefined);
  }
}

export function leaseHolder(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers)
  }
  return `${user}@${hostname()} pid ${process.pid}`;
}

/** `--lease-timeout 30m` (s, m, h, d; a bare number is seconds). */
export function parseLeaseTimeout(s: string | undefined, dflt = '30m'): number {
  const ms = parseAge(s ?? dflt);
  if (ms === undefined) throw usageError(`--lease-timeout takes a duration like 90s, 30m or 2h, not '${s}'`);
  return ms;
}
