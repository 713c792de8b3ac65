// Taking, renewing and giving back leases on a host's capacity, over any store that can add a key
// atomically (XenAPI: pool.add_to_other_config; xl: mkdir on dom0). Every change to the lease keys is
// made under one store-wide mutex key, itself taken with the atomic add, so a heartbeat's rewrite of
// its own lease and another run's takeover of a stale one cannot interleave.
import { hostError, WinpvError } from '../model/errors';
import { decodeLease, encodeLease, freeSlot, isExpired, LEASE_LOCK_KEY, LEASE_PREFIX, leaseKey, type LeaseRecord } from '../model/lease';

/** Where a host keeps its leases. `add` is atomic and says false (never throws) when the key exists. */
export interface LeaseStore {
  /** For messages: `pool test pool (xapi://root@master)`. */
  readonly describe: string;
  /** Every key of the store starting with LEASE_PREFIX (the lock included), with its value. */
  read(): Promise<Record<string, string>>;
  add(key: string, value: string): Promise<boolean>;
  remove(key: string): Promise<void>;
}

export interface LeaseOptions {
  capacity: number;
  holder: string;
  runId: string;
  /** A lease not renewed for this long is stale (default 120 s). */
  ttlMs?: number;
  /** How often the holder renews (default ttl / 4). */
  heartbeatMs?: number;
  /** How long to wait for a free slot before giving up with LEASE_TIMEOUT (exit 3). */
  timeoutMs: number;
  /** Told once, when the run starts waiting, who holds the capacity. */
  onWait?: (message: string) => void;
  /** Called once when a heartbeat finds the lease taken or the store unreachable. */
  onLost?: (e: WinpvError) => void;
  signal?: AbortSignal;
  now?: () => number;
}

const LOCK_TTL_MS = 30_000; // the mutex is held for a few calls; one older than this belongs to a dead process
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The leases a store holds, by slot (malformed values are left out). */
export async function listLeases(store: LeaseStore): Promise<LeaseRecord[]> {
  const all = await store.read();
  return Object.entries(all)
    .filter(([k]) => k !== LEASE_LOCK_KEY && k.startsWith(LEASE_PREFIX))
    .map(([, v]) => decodeLease(v))
    .filter((l): l is LeaseRecord => l !== undefined)
    .sort((a, b) => a.slot - b.slot);
}

/** Runs fn holding the store's mutex; a mutex left by a dead process (older than LOCK_TTL_MS) is broken. */
async function withLock<T>(store: LeaseStore, who: string, now: () => number, deadline: number, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    if (await store.add(LEASE_LOCK_KEY, JSON.stringify({ holder: who, expiresAt: now() + LOCK_TTL_MS }))) break;
    const cur = (await store.read())[LEASE_LOCK_KEY];
    const exp = cur ? Number((JSON.parse(cur) as { expiresAt?: number }).expiresAt) : 0;
    if (cur !== undefined && !(exp > now())) await store.remove(LEASE_LOCK_KEY);
    else if (now() > deadline) throw hostError('LEASE_LOCK_TIMEOUT', `the lease mutex of ${store.describe} stayed taken (${cur})`);
    else await sleep(20 + Math.random() * 30);
  }
  try {
    return await fn();
  } finally {
    await store.remove(LEASE_LOCK_KEY);
  }
}

export class Lease {
  private timer?: NodeJS.Timeout;
  /** Set when a heartbeat found the lease gone or the store unreachable: the run must stop using the host. */
  lost?: WinpvError;
  /** A heartbeat under way: the next interval waits for it. On a slow store (a loaded lab's dom0 took
   *  over 30 s a command) a second heartbeat would contend for the mutex with the first, against the
   *  deadline the first was about to move, and end the lease while it was being renewed. */
  private beating = false;

  constructor(
    readonly store: LeaseStore,
    public record: LeaseRecord,
    private readonly ttlMs: number,
    heartbeatMs: number,
    private readonly now: () => number,
    private readonly onLost?: (e: WinpvError) => void,
  ) {
    this.timer = setInterval(() => void this.heartbeat(), heartbeatMs);
    this.timer.unref();
  }

  /** Renews the lease (one heartbeat); marks it lost when another run took it or the store fails.
   *  `resumed`: a holder that stopped heartbeating tries again (it finds out whether it still holds the slot). */
  async heartbeat(resumed = false): Promise<void> {
    if (this.lost || (!this.timer && !resumed) || this.beating) return;
    this.beating = true;
    try {
      await withLock(this.store, this.record.holder, this.now, this.record.expiresAt, async () => {
        const key = leaseKey(this.record.slot);
        const cur = decodeLease((await this.store.read())[key] ?? '');
        if (!cur || cur.runId !== this.record.runId) {
          throw hostError('LEASE_LOST', `lease ${key} on ${this.store.describe} was taken by ${cur ? `${cur.holder} (run ${cur.runId})` : 'someone who released it'}`);
        }
        const t = this.now();
        const next = { ...this.record, heartbeatAt: t, expiresAt: t + this.ttlMs };
        await this.store.remove(key);
        await this.store.add(key, encodeLease(next));
        this.record = next;
      });
    } catch (e) {
      this.lost = e instanceof WinpvError ? e : hostError('LEASE_LOST', `lease heartbeat on ${this.store.describe} failed: ${(e as Error).message}`, e);
      this.onLost?.(this.lost);
    } finally {
      this.beating = false;
    }
  }

  /** Stops the heartbeat only: what a killed holder leaves behind (tests, and a holder that cannot reach the store). */
  abandon(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Gives the slot back; the lease key is removed only if it is still ours. */
  async release(): Promise<void> {
    this.abandon();
    await withLock(this.store, this.record.holder, this.now, this.now() + LOCK_TTL_MS, async () => {
      const key = leaseKey(this.record.slot);
      const cur = decodeLease((await this.store.read())[key] ?? '');
      if (cur?.runId === this.record.runId) await this.store.remove(key);
    });
  }
}

/** Takes a free (or stale) slot; waits, saying once who holds the capacity, until timeoutMs, then LEASE_TIMEOUT. */
export async function acquireLease(store: LeaseStore, o: LeaseOptions): Promise<Lease> {
  const now = o.now ?? Date.now;
  const ttl = o.ttlMs ?? 120_000;
  const deadline = now() + o.timeoutMs;
  const poll = Math.max(50, Math.min(2_000, ttl / 4));
  let told = false;
  for (;;) {
    if (o.signal?.aborted) throw hostError('LEASE_ABORTED', `stopped waiting for capacity on ${store.describe}`);
    const got = await withLock(store, o.holder, now, deadline + LOCK_TTL_MS, async () => {
      const held = await listLeases(store);
      const t = now();
      const slot = freeSlot(held, o.capacity, t);
      if (slot === undefined) return { held };
      const stale = held.find((h) => h.slot === slot);
      if (stale && isExpired(stale, t)) await store.remove(leaseKey(slot)); // its holder stopped heartbeating: taken over
      const record: LeaseRecord = { holder: o.holder, runId: o.runId, slot, takenAt: t, heartbeatAt: t, expiresAt: t + ttl };
      if (!(await store.add(leaseKey(slot), encodeLease(record)))) return { held };
      return { record, stale };
    });
    if ('record' in got && got.record) return new Lease(store, got.record, ttl, o.heartbeatMs ?? ttl / 4, now, o.onLost);
    const held = got.held ?? [];
    if (now() >= deadline) {
      throw hostError('LEASE_TIMEOUT', `no free capacity on ${store.describe} after ${Math.round(o.timeoutMs / 1000)} s (capacity ${o.capacity}; held by ${held.map((h) => `${h.holder} run ${h.runId}`).join(', ')}); see winpv lease list`);
    }
    if (!told) {
      told = true;
      o.onWait?.(`waiting for capacity on ${store.describe} (capacity ${o.capacity}, held by ${held.map((h) => `${h.holder} run ${h.runId} until ${new Date(h.expiresAt).toISOString()}`).join(', ')}), up to ${Math.round(o.timeoutMs / 1000)} s`);
    }
    await sleep(Math.min(poll, Math.max(0, deadline - now()) + 1));
  }
}

/** Frees a slot whoever holds it (`winpv lease release`): for a lease an operator knows is dead. */
export async function forceRelease(store: LeaseStore, slot: number, who: string): Promise<LeaseRecord | undefined> {
  const now = Date.now;
  return withLock(store, who, now, now() + LOCK_TTL_MS, async () => {
    const cur = decodeLease((await store.read())[leaseKey(slot)] ?? '');
    if (cur) await store.remove(leaseKey(slot));
    return cur;
  });
}
