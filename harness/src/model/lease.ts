// A lease on a share of a host's capacity: which run holds which slot, until when. Two runs (two CI
// jobs, two developers) never hold the same slot at once; a lease whose holder stopped heartbeating
// (its process died) expires and may be taken over. The record is stored by the host itself
// (XenAPI: pool.other_config; xl: a lock directory on dom0), so every run sees the same truth.

export interface LeaseRecord {
  /** Who holds it: user@machine, pid (for people reading `winpv lease list`). */
  holder: string;
  runId: string;
  /** Slot number, 0 <= slot < capacity. */
  slot: number;
  /** When it was taken and last renewed (ms since the epoch, the holder's clock). */
  takenAt: number;
  heartbeatAt: number;
  /** heartbeatAt + ttl: after this the lease is stale and another run may take it over. */
  expiresAt: number;
}

/** The key prefix of every lease in the host's store (`winpv-lease-<slot>`). */
export const LEASE_PREFIX = 'winpv-lease-';
/** The store-wide mutex every lease change is made under (taken atomically, see the stores). */
export const LEASE_LOCK_KEY = 'winpv-lease-lock';

export const leaseKey = (slot: number) => `${LEASE_PREFIX}${slot}`;

export const isExpired = (l: Pick<LeaseRecord, 'expiresAt'>, now: number) => l.expiresAt <= now;

export function encodeLease(l: LeaseRecord): string {
  return JSON.stringify(l);
}

/** A stored value back into a record; anything malformed (another tool's key, a torn write) is undefined. */
export function decodeLease(text: string): LeaseRecord | undefined {
  try {
    const v = JSON.parse(text) as Partial<LeaseRecord>;
    if (typeof v.holder !== 'string' || typeof v.runId !== 'string' || !Number.isInteger(v.slot)) return undefined;
    for (const k of ['takenAt', 'heartbeatAt', 'expiresAt'] as const) if (typeof v[k] !== 'number') return undefined;
    return v as LeaseRecord;
  } catch {
    return undefined;
  }
}

/** The first slot below capacity that is free or whose lease expired, or undefined. */
export function freeSlot(held: readonly LeaseRecord[], capacity: number, now: number): number | undefined {
  for (let slot = 0; slot < capacity; slot++) {
    const l = held.find((h) => h.slot === slot);
    if (!l || isExpired(l, now)) return slot;
  }
  return undefined;
}
