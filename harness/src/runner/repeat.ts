// --repeat-each N (soak): every selected instance runs N times in a row, each repetition as its own
// instance `<inst>~rep<k>` (k = 1..N) with its own trace section, checks and TAP test point, so a
// failure of the 7th repetition is as visible and re-checkable as any other. passRates folds the
// repetitions back into one line per instance: how many ran, passed, failed.
import type { RunPlan } from '../model/plan';
import type { InstanceResult, PassRate } from '../model/result';

export const REPEAT_MARK = '~rep';
export const MAX_REPEAT_EACH = 1000;

export const repeatId = (inst: string, k: number) => `${inst}${REPEAT_MARK}${k}`;
/** The instance a repetition belongs to (an id without the mark is its own). */
export const repeatedInstance = (inst: string) => {
  const i = inst.lastIndexOf(REPEAT_MARK);
  return i >= 0 && /^\d+$/.test(inst.slice(i + REPEAT_MARK.length)) ? inst.slice(0, i) : inst;
};

/** The plan with each instance replaced by n consecutive repetitions (n = 1: the plan itself). */
export function repeatPlan(plan: RunPlan, n: number): RunPlan {
  if (!Number.isInteger(n) || n < 1 || n > MAX_REPEAT_EACH) throw new RangeError(`repeat count ${n} is not an integer from 1 to ${MAX_REPEAT_EACH}`);
  if (n === 1) return plan;
  const instances = plan.instances.flatMap((inst) => Array.from({ length: n }, (_, k) => ({ ...inst, id: repeatId(inst.id, k + 1) })));
  return { ...plan, instances };
}

/** One line per repeated instance, in the order they ran. A failure tracked as a known issue counts as failed. */
export function passRates(results: readonly InstanceResult[]): PassRate[] {
  const out = new Map<string, PassRate>();
  for (const r of results) {
    const inst = repeatedInstance(r.inst);
    const p = out.get(inst) ?? { inst, runs: 0, passed: 0, failed: 0, skipped: 0, failures: [] };
    out.set(inst, p);
    p.runs++;
    if (r.verdict === 'skip') p.skipped++;
    else if (r.verdict === 'pass' && !r.known) p.passed++;
    else {
      p.failed++;
      p.failures.push(r.inst);
    }
  }
  for (const p of out.values()) if (p.runs > p.skipped) p.rate = p.passed / (p.runs - p.skipped);
  return [...out.values()];
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
