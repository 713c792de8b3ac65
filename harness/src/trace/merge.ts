// Joining shard traces into one trace that `winpv check` reads like any other: one run.start that
// lists every shard's instances, the shards' events laid end to end on one timeline (shard k's host
// times offset by where shard k-1 ended, so time never runs backwards and every instance keeps its
// own durations), seq renumbered from 0, one run.end (complete only when every shard was), and the
// shards' known issues joined.
import { TRACE_SCHEMA, type RunEndEvent, type RunStartEvent, type TraceEvent } from '../model/trace';

export interface ShardTrace {
  /** Where it came from (a run directory), named in the merged trace. */
  label: string;
  events: readonly TraceEvent[];
}

export function mergeTraces(shards: readonly ShardTrace[]): TraceEvent[] {
  const starts = shards.map((s) => s.events.find((e): e is RunStartEvent => e.ev === 'run.start'));
  const first = starts.find((s) => s !== undefined);
  const body: TraceEvent[] = [];
  let end: Omit<RunEndEvent, 'seq' | 't'> = { ev: 'run.end', complete: true };
  let offset = 0;
  for (const [i, s] of shards.entries()) {
    const shard = starts[i]?.shard;
    body.push({ ev: 'log', seq: 0, t: offset, level: 'info', msg: `merged: ${s.label}${shard ? ` (shard ${shard.index}/${shard.count})` : ''}, host times offset by ${offset} ms` });
    let last = offset;
    for (const e of s.events) {
      if (e.ev === 'run.start') continue;
      last = Math.max(last, e.t + offset);
      if (e.ev === 'run.end') {
        if (end.complete && !e.complete) end = { ev: 'run.end', complete: false, ...(e.reason ? { reason: e.reason } : {}), ...(e.error ? { error: e.error } : {}) };
        continue;
      }
      body.push({ ...e, t: e.t + offset });
    }
    if (!s.events.some((e) => e.ev === 'run.end') && end.complete) {
      end = { ev: 'run.end', complete: false, error: { code: 'TRUNCATED', message: `${s.label}: trace truncated` } };
    }
    offset = last;
  }
  const out: TraceEvent[] = [];
  if (first) {
    const { shard: _shard, ...rest } = first;
    // every shard's known issues, once each, so the merged run marks the failures each shard marked
    const known = new Map(starts.flatMap((s) => s?.knownIssues ?? []).map((k) => [JSON.stringify(k), k]));
    const { knownIssues: _known, ...base } = rest;
    // the shards' events as the reader gave them (older schemas read into this one)
    out.push({ ...base, schema: TRACE_SCHEMA, t: 0, instances: starts.flatMap((s) => s?.instances ?? []), ...(known.size ? { knownIssues: [...known.values()] } : {}) });
  }
  out.push(...body, { ...end, seq: 0, t: offset } as RunEndEvent);
  return out.map((e, seq) => ({ ...e, seq }));
}
