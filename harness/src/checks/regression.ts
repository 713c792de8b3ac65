// regression (opt-in): each metric of the instance (workload figures, lifecycle timings: model/metrics.ts)
// against its history, the `baseline` events the run wrote from the results store as the instance
// ended. The verdict is statistical (model/regression.ts: a bootstrap interval for one value), so a
// change fails only when it is significant, in the worse direction and beyond the tolerance. No
// history, or too little, is a skip with the reason, never a pass. The baseline values are in the
// trace, so `winpv check` re-judges the same way without the store.
import { metricsOf } from '../model/metrics';
import { judgeRegression } from '../model/regression';
import type { CheckResult } from '../model/result';
import type { BaselineEvent } from '../model/trace';
import { Findings, skip } from './findings';
import type { InstanceView } from './view';

export function regression(v: InstanceView, params: Record<string, string>): CheckResult {
  const baselines = v.events.filter((e): e is BaselineEvent => e.ev === 'baseline');
  if (!baselines.length) return skip('regression', 'no results history in the trace: the run had no results store (--db, WINPV_DB), or could not read it (its log says why)');
  const tolerance = Number(params.tolerancePct ?? 5) / 100;
  const minHistory = Number(params.minHistory ?? 8);
  const measured = new Map(metricsOf(v.events).map((m) => [m.name, m]));
  const f = new Findings('regression');
  let judged = 0;
  const unmeasured: string[] = [];
  const short: string[] = [];
  for (const b of baselines) {
    const now = measured.get(b.metric);
    if (!now) {
      unmeasured.push(b.metric);
      continue;
    }
    const r = judgeRegression(b.metric, b.values, [now.value], { tolerance, better: b.better, minHistory, seed: v.runStart?.seed ?? 1 });
    if (r.verdict === 'skip') {
      short.push(`${b.metric} (${b.values.length}${b.note ? `: ${b.note}` : ''})`);
      continue;
    }
    judged++;
    if (r.verdict === 'fail') {
      f.fail(r.message, {
        seq: b.seq, at: b.t, metric: b.metric, unit: b.unit, value: now.value, change: r.change, method: r.method,
        ...(r.ci ? { ci: r.ci } : {}), baselineRuns: r.baselineRuns, tolerance, comparedWith: `${b.hostClass}, Windows ${b.windowsBuild}`,
      });
    }
  }
  const notJudged = [
    ...(short.length ? [`too little history (fewer than ${minHistory} comparable runs) for ${list(short)}`] : []),
    ...(unmeasured.length ? [`not measured: ${list(unmeasured)}`] : []),
  ].join('; ');
  if (!judged) return skip('regression', notJudged || 'no metric to judge');
  return f.result(`${judged} metric${judged === 1 ? '' : 's'} within their history${notJudged ? `; ${notJudged}` : ''}`);
}

/** A list that stays one readable line: the first few names and how many more. */
function list(names: readonly string[]): string {
  return names.length <= 4 ? names.join(', ') : `${names.slice(0, 4).join(', ')} and ${names.length - 4} more`;
}
