import t from 'tap';
import { mergeTraces } from '../../src/trace/merge';
import type { TraceEvent } from '../../src/model/trace';

const start = (insts: string[], index: number): TraceEvent => ({ ev: 'run.start', seq: 0, t: 0, schema: 'winpv-trace/1', seed: 3, host: { kind: 'sim', label: 's', capabilities: [] }, specs: {}, instances: insts, shard: { index, count: 2 } });
const skip = (inst: string, seq: number, at: number): TraceEvent => ({ ev: 'scenario.skip', seq, t: at, inst, reason: 'r' });

t.test('shards laid end to end: one run.start, seq from 0, time never backwards, shard gone', async (t) => {
  const a: TraceEvent[] = [start(['a'], 1), skip('a', 1, 500), { ev: 'run.end', seq: 2, t: 500, complete: true }];
  const b: TraceEvent[] = [start(['b'], 2), skip('b', 1, 200), { ev: 'run.end', seq: 2, t: 300, complete: true }];
  const m = mergeTraces([{ label: 'A', events: a }, { label: 'B', events: b }]);
  t.same(m.map((e) => e.seq), m.map((_, i) => i));
  t.same(m.map((e) => e.ev), ['run.start', 'log', 'scenario.skip', 'log', 'scenario.skip', 'run.end']);
  const rs = m[0] as Extract<TraceEvent, { ev: 'run.start' }>;
  t.same(rs.instances, ['a', 'b']);
  t.equal(rs.shard, undefined);
  t.same(m.map((e) => e.t), [0, 0, 500, 500, 700, 800]);
  t.same(m.at(-1), { ev: 'run.end', seq: 5, t: 800, complete: true });
});

t.test('a truncated or incomplete shard makes the merge incomplete, with its reason', async (t) => {
  const a: TraceEvent[] = [start(['a'], 1), skip('a', 1, 5)];
  const b: TraceEvent[] = [start(['b'], 2), { ev: 'run.end', seq: 1, t: 1, complete: false, reason: 'interrupted' }];
  const end1 = mergeTraces([{ label: 'A', events: a }, { label: 'B', events: b }]).at(-1) as Extract<TraceEvent, { ev: 'run.end' }>;
  t.same([end1.complete, end1.error?.code], [false, 'TRUNCATED']);
  t.match(end1.error?.message, /^A: trace truncated/);
  const end2 = mergeTraces([{ label: 'B', events: b }]).at(-1) as Extract<TraceEvent, { ev: 'run.end' }>;
  t.same([end2.complete, end2.reason], [false, 'interrupted']);
});
