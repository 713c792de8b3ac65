// The regression check's baselines for an instance that names it: the metrics the instance measured
// (model/metrics.ts), their history from the run's BaselineSource (the results store), as trace
// events for the instance, so the check and `winpv check` judge them from the trace alone. A history
// that cannot be had within the deadline is a warning in the trace, and the check skips.
import { metricsOf } from '../model/metrics';
import type { PlanInstance } from '../model/plan';
import type { BaselineSource } from '../model/results';
import type { TraceEvent, TraceEventInput } from '../model/trace';
import { errorInfo } from './errors';

/** Bounds a query of the results store (real time: the store is not on the host's clock). */
const BASELINE_DEADLINE_MS = 60_000;

/** The events to add for attempt `id` of `inst` (none when its scenario does not name the check). */
export async function baselineEvents(inst: PlanInstance, id: string, events: readonly TraceEvent[], source: BaselineSource): Promise<TraceEventInput[]> {
  const check = inst.scenario.checks.find((c) => c.name === 'regression');
  if (!check) return [];
  const metrics = metricsOf(events.filter((e) => (e as { inst?: string }).inst === id));
  if (!metrics.length) return [];
  let timer: NodeJS.Timeout | undefined;
  try {
    const query = source({ scenario: inst.scenario.name, metrics, window: Number(check.params.window ?? 20) });
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${BASELINE_DEADLINE_MS / 1000} s`)), BASELINE_DEADLINE_MS)));
    return (await Promise.race([query, late])).map((b) => ({ ev: 'baseline', inst: id, ...b }));
  } catch (e) {
    return [{ ev: 'log', inst: id, level: 'warn', msg: `the results history for ${id} could not be read (${errorInfo(e).message}); its regression check skips` }];
  } finally {
    clearTimeout(timer);
  }
}
