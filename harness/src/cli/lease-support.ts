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
  const stores: { name: string; s: OpenStore }[] = [];
  const leases: Lease[] = [];
  const slotsOn = new Map<string, number[]>();
  const took = (host: string, l: Lease) => {
    leases.push(l);
    slotsOn.set(host, [...(slotsOn.get(host) ?? []), l.record.slot]);
  };
  const slots = new Map<string, number>();
  const skipped: HeldCapacity['skipped'] = [];
  const opts = (timeoutMs: number, capacity: number, signal = o.signal) => ({ capacity, holder: leaseHolder(), runId: o.runId, timeoutMs, signal, onWait: o.say, onLost: o.onLost });
  const release = async () => {
    for (const l of leases.splice(0)) await l.release().catch((e: Error) => o.say(`could not release a lease on ${l.store.describe} (it expires by itself): ${e.message}`));
    for (const s of stores.splice(0)) await s.s.close().catch(() => undefined);
  };
  try {
    const open: { host: ResolvedHost; store: OpenStore; slots: number }[] = [];
    for (const w of want) {
      let s: OpenStore | undefined;
      try {
        s = await openLeaseStore(w.host);
      } catch (e) {
        if (want.length === 1) throw e;
        skipped.push({ host: w.host.name, reason: `its lease store cannot be reached: ${(e as Error).message}` });
        continue;
      }
      if (!s) {
        slots.set(w.host.name, w.slots);
        continue;
      }
      stores.push({ name: w.host.name, s });
      open.push({ host: w.host, store: s, slots: w.slots });
    }
    // what is free now, on every host
    for (const h of open) {
      for (let k = 0; k < h.slots; k++) {
        const l = await acquireLease(h.store.store, opts(0, h.host.capacity)).catch(() => undefined);
        if (!l) break;
        took(h.host.name, l);
        slots.set(h.host.name, (slots.get(h.host.name) ?? 0) + 1);
      }
    }
    if (open.length && ![...slots.values()].some((n) => n > 0)) {
      // nothing free: wait on every host for the first slot anywhere
      const first = new AbortController();
      const tries = open.map(async (h) => {
        const l = await acquireLease(h.store.store, opts(o.timeoutMs, h.host.capacity, AbortSignal.any([o.signal, first.signal])));
        if (first.signal.aborted) {
          await l.release();
          throw new Error('another host was first');
        }
        first.abort();
        took(h.host.name, l);
        slots.set(h.host.name, 1);
      });
      const settled = await Promise.allSettled(tries);
      if (!settled.some((r) => r.status === 'fulfilled')) throw (settled.find((r) => r.status === 'rejected' && !/another host was first/.test(String(r.reason))) as PromiseRejectedResult | undefined)?.reason ?? new Error('no capacity');
    }
    for (const h of open) if (!slots.get(h.host.name)) skipped.push({ host: h.host.name, reason: `no free capacity (capacity ${h.host.capacity}, all held by other runs: winpv lease list --host ${h.host.name})` });
  } catch (e) {
    await release();
    throw e;
  }
  return { slots, skipped, firstSlot: (host) => (slotsOn.has(host) ? Math.min(...slotsOn.get(host)!) : undefined), lost: () => leases.some((l) => l.lost !== undefined), release };
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
