// What makes a failure flaky or known, as pure functions over results (no I/O), so the live run,
// `winpv check` and `winpv report merge` fold them the same way.
// - A retried attempt of instance X runs as `X~retry<k>`; foldRetries joins the attempts into one
//   result: the last attempt's verdicts, `attempts`, and `flaky` when an earlier attempt failed and
//   the last passed.
// - A known issue maps scenario + check + symptom (a regular expression over the failed check's
//   message, or the abort message for `steps`) to an issue link; a matching failure is marked
//   known (reported as TAP TODO, not counted as failed); a known issue whose scenario ran and passed
//   is listed so it can be closed.
// - `--repeat-each N` runs instance X as `X~rep<k>`; passRates folds the repetitions into one line each.
import type { InstanceResult, PassRate, RunSummary } from './result';

export const RETRY_MARK = '~retry';
/** `--repeat-each N` runs each instance as `<inst>~rep<k>`, k = 1..N. */
const REPEAT_MARK = '~rep';

export const repeatId = (inst: string, k: number) => `${inst}${REPEAT_MARK}${k}`;
/** The instance a repetition belongs to (an id without the mark is its own). */
export const repeatedInstance = (inst: string) => {
  const i = inst.lastIndexOf(REPEAT_MARK);
  return i >= 0 && /^\d+$/.test(inst.slice(i + REPEAT_MARK.length)) ? inst.slice(0, i) : inst;
};

export const retryId = (inst: string, attempt: number) => `${inst}${RETRY_MARK}${attempt}`;
export const baseInstance = (inst: string) => (inst.includes(RETRY_MARK) ? inst.slice(0, inst.indexOf(RETRY_MARK)) : inst);

export function foldRetries(results: readonly InstanceResult[]): InstanceResult[] {
  const out = new Map<string, InstanceResult>();
  for (const r of results) {
    const id = baseInstance(r.inst);
    const prev = out.get(id);
    if (!prev) {
      out.set(id, { ...r, inst: id });
      continue;
    }
    const attempts = (prev.attempts ?? 1) + 1;
    const failedBefore = prev.verdict === 'fail' || prev.flaky === true;
    out.set(id, { ...r, inst: id, attempts, durationMs: prev.durationMs + r.durationMs, ...(failedBefore && r.verdict === 'pass' ? { flaky: true } : {}) });
  }
  return [...out.values()];
}

export interface KnownIssue {
  scenario: string;
  /** A check name, or `steps` for an aborted instance; `*` any. */
  check: string;
  /** Regular expression the failure's message must match. */
  symptom: string;
  /** Link to the issue. */
  issue: string;
}

/** Marks known failures and lists the known issues that did not fail. */
export function applyKnownIssues(results: readonly InstanceResult[], issues: readonly KnownIssue[]): { results: InstanceResult[]; notFailing: { issue: string; scenario: string; check: string }[] } {
  const matched = new Set<KnownIssue>();
  const ran = new Set<KnownIssue>();
  const out = results.map((r) => {
    const mine = issues.filter((k) => k.scenario === r.scenario || k.scenario === baseInstance(r.inst));
    if (r.verdict !== 'skip') mine.forEach((k) => ran.add(k));
    if (r.verdict !== 'fail') return r;
    const failures = [...r.checks.filter((c) => c.verdict === 'fail').map((c) => ({ check: c.check as string, message: c.message })), ...(r.aborted ? [{ check: 'steps', message: r.aborted.message }] : [])];
    // known only when every failure of the instance is explained: a new failure beside a known one is news
    const explained = failures.map((f) => mine.find((k) => (k.check === '*' || k.check === f.check) && new RegExp(k.symptom).test(f.message)));
    if (!failures.length || explained.some((k) => !k)) return r;
    explained.forEach((k) => matched.add(k!));
    return { ...r, known: { issue: explained[0]!.issue, check: failures[0].check } };
  });
  const notFailing = [...ran].filter((k) => !matched.has(k) && !out.some((r) => r.verdict === 'fail' && (r.scenario === k.scenario))).map((k) => ({ issue: k.issue, scenario: k.scenario, check: k.check }));
  return { results: out, notFailing };
}

/** The summary's counts with flaky and known counted apart (a known failure is not a failure). */
export function recount(s: RunSummary): RunSummary {
  const flaky = s.instances.filter((r) => r.flaky).length;
  const known = s.instances.filter((r) => r.verdict === 'fail' && r.known).length;
  return { ...s, counts: { ...s.counts, failed: s.instances.filter((r) => r.verdict === 'fail' && !r.known).length, flaky, known } };
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
