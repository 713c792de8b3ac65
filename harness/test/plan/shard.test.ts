// Shards balanced by recorded durations: on a skewed history the shards' total durations are within
// 20 % of each other (the id split is not), every instance lands in exactly one shard, and without
// history the split is today's stable FNV one.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plan } from '../../src/plan/planner';
import { assignShards, inShard } from '../../src/plan/shard';
import { FileDurations, recordDurations } from '../../src/report/durations';
import type { RunSummary } from '../../src/model/result';
import { scenario, sleep } from '../fixtures/scenarios';

// A recorded history shaped like the catalogue's: a few long scenarios (migration, suspend x3) and many short ones.
const ids = Array.from({ length: 40 }, (_, i) => `sc${String(i).padStart(2, '0')}`);
// The long ones are ones the id split puts together (shard 1 of 4), so the id split cannot balance them.
const long = ids.filter((id) => inShard(id, { index: 1, count: 4 })).slice(0, 4);
const history = new Map(ids.map((id, i) => [id, long.includes(id) ? 600_000 + long.indexOf(id) * 50_000 : 20_000 + ((i * 7919) % 90_000)]));
const scenarios = ids.map((id) => scenario(id, [sleep(1)], { tags: ['nightly'] }));
const spread = (loads: number[]) => (Math.max(...loads) - Math.min(...loads)) / Math.max(...loads);
const loadsOf = (count: number, durations?: Map<string, number>) =>
  Array.from({ length: count }, (_, k) => plan(scenarios, { seed: 1, shard: { index: k + 1, count }, durations }).instances.reduce((s, i) => s + history.get(i.id)!, 0));

t.test('shard durations balance within 20 % on a recorded history', async (t) => {
  for (const count of [2, 3, 4]) {
    const loads = loadsOf(count, history);
    t.ok(spread(loads) <= 0.2, `${count} shards: ${loads.join(', ')} ms (spread ${(spread(loads) * 100).toFixed(1)} %)`);
    const all = Array.from({ length: count }, (_, k) => plan(scenarios, { seed: 1, shard: { index: k + 1, count }, durations: history }).instances.map((i) => i.id)).flat();
    t.same([...all].sort(), ids, 'every instance in exactly one shard');
  }
  t.equal(long.length, 4);
  t.ok(spread(loadsOf(4)) > 0.2, 'the id split alone does not balance this history (the test can fail)');
});

t.test('without history: the stable FNV split; unknown instances count as the median', async (t) => {
  t.equal(assignShards(ids, new Map(), 3), undefined);
  const byId = plan(scenarios, { seed: 1, shard: { index: 2, count: 3 } }).instances.map((i) => i.id);
  t.same(byId, ids.filter((id) => inShard(id, { index: 2, count: 3 })));
  const partial = new Map([['sc00', 1000]]);
  const a = assignShards(ids, partial, 2)!;
  t.equal(a.size, ids.length);
});

t.test('the durations file: recorded from a summary per host kind, missing is no history, malformed is exit 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-durations-'));
  const f = join(dir, 'durations.json');
  t.same([...(await new FileDurations(f).durations('sim'))], []);
  const inst = (id: string, ms: number, verdict: 'pass' | 'skip' = 'pass') => ({ inst: id, scenario: id, file: 'x.xml', params: {}, tags: [], verdict, checks: [], durationMs: ms });
  const summary = { seed: 1, host: { kind: 'sim', label: 'sim' }, complete: true, counts: { instances: 2, passed: 1, failed: 0, skipped: 1, checks: 0, checksFailed: 0 }, instances: [inst('a', 1200), inst('b', 0, 'skip')] } as RunSummary;
  recordDurations(f, summary);
  recordDurations(f, { ...summary, host: { kind: 'xapi', label: 'x' }, instances: [inst('a', 90_000)] });
  t.same([...(await new FileDurations(f).durations('sim'))], [['a', 1200]], 'skipped instances are not recorded');
  t.same([...(await new FileDurations(f).durations('xapi'))], [['a', 90_000]], 'durations are kept per host kind');
  writeFileSync(f, '{"schema":"winpv-durations/1","hosts":{"sim":{"a":"slow"}}}');
  const e = await new FileDurations(f).durations('sim').then(() => undefined, (x: { code: string; location?: { file?: string } }) => x);
  t.equal(e?.code, 'DURATIONS_INVALID');
  t.equal(e?.location?.file, f);
});
