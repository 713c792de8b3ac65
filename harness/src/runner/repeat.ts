// --repeat-each N (soak): every selected instance runs N times in a row, each repetition as its own
// instance `<inst>~rep<k>` (k = 1..N) with its own trace section, checks and TAP test point, so a
// failure of the 7th repetition is as visible and re-checkable as any other. passRates folds the
// repetitions back into one line per instance (model/outcomes.ts, shared with `winpv check`).
import type { RunPlan } from '../model/plan';
import type { PassRate } from '../model/result';
import { repeatId } from '../model/outcomes';

export const MAX_REPEAT_EACH = 1000;

/** The plan with each instance replaced by n consecutive repetitions (n = 1: the plan itself). */
export function repeatPlan(plan: RunPlan, n: number): RunPlan {
  if (!Number.isInteger(n) || n < 1 || n > MAX_REPEAT_EACH) throw new RangeError(`repeat count ${n} is not an integer from 1 to ${MAX_REPEAT_EACH}`);
  if (n === 1) return plan;
  const instances = plan.instances.flatMap((inst) => Array.from({ length: n }, (_, k) => ({ ...inst, id: repeatId(inst.id, k + 1) })));
  return { ...plan, instances };
}

/** The soak summary as text lines: `<inst>: 9/10 passed (90%); failed: <ids>`. */
export function renderPassRates(rates: readonly PassRate[]): string[] {
  return rates.map((p) => {
    if (p.rate === undefined) return `${p.inst}: skipped in all ${p.runs} runs`;
    const pct = Math.round(p.rate * 1000) / 10;
    const ran = p.runs - p.skipped;
    return `${p.inst}: ${p.passed}/${ran} passed (${pct}%)${p.skipped ? `, ${p.skipped} skipped` : ''}${p.failures.length ? `; failed: ${p.failures.join(', ')}` : ''}`;
  });
}
