// Splitting a run's instances into shards. With recorded durations the split is balanced by time
// (longest first, each to the shard with the least work so far: the classic LPT schedule, within 4/3
// of the best possible makespan), so CI shards finish together; instances with no history count as
// the median recorded duration. Without any history it is the stable FNV-1a split by instance id.
// Every shard computes the whole assignment from the same inputs, so the shards never overlap.
import type { Durations } from '../model/durations';

/** FNV-1a, 32 bit: a stable hash so shard membership depends only on the instance id. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export const inShard = (id: string, shard: { index: number; count: number }) => fnv1a(id) % shard.count === shard.index - 1;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 1;
}

/** Instance id -> 1-based shard, balanced by duration; undefined when no instance has a recorded duration. */
export function assignShards(ids: readonly string[], durations: Durations | undefined, count: number): Map<string, number> | undefined {
  if (!durations || !ids.some((id) => durations.has(id))) return undefined;
  const fallback = median(ids.filter((id) => durations.has(id)).map((id) => durations.get(id)!));
  const cost = (id: string) => durations.get(id) ?? fallback;
  // Longest first; equal durations in id order, so every shard sorts the same way.
  const order = [...ids].sort((a, b) => cost(b) - cost(a) || (a < b ? -1 : a > b ? 1 : 0));
  const load = new Array<number>(count).fill(0);
  const out = new Map<string, number>();
  for (const id of order) {
    let best = 0;
    for (let s = 1; s < count; s++) if (load[s] < load[best]) best = s;
    load[best] += cost(id);
    out.set(id, best + 1);
  }
  return out;
}
