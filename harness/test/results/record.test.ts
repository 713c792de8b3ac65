// The store's record of a run gathered as it streams (RunRecordDigest, as `winpv run` feeds it) is
// the record of its trace file (recordFromRun, as `winpv results import` reads it).
import t from 'tap';
import type { InstanceResult } from '../../src/model/result';
import { RunRecordDigest, recordFromRun } from '../../src/results/record';
import { syntheticRun } from '../../src/bench/report-run';

t.test('fed event by event and told each instance as it ends: the record of the whole trace', async (t) => {
  const run = syntheticRun(300, 30);
  const summary = { schema: 'winpv-summary/1', runId: 'r', startedAt: '2026-01-01T00:00:00.000Z', ...run.summary };
  const d = new RunRecordDigest();
  const results = new Map<string, InstanceResult>(run.summary.instances.map((r) => [r.inst, r]));
  for (const e of run.events) {
    d.add(e);
    if (e.ev === 'scenario.end' || e.ev === 'scenario.skip') d.instanceEnded(results.get(e.inst)!);
  }
  const live = d.record(summary, 'r', 'test');
  t.same(live, recordFromRun(summary, run.events, 'r', 'test'));
  t.ok(live.instances.some((i) => i.metrics.some((m) => m.name === 'vbd/51712.iops')), 'workload metrics recorded');
});
