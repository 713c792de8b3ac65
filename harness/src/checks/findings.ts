// Collects what a check found and turns it into one CheckResult: the first failure is the point's
// message and diagnostics (the earliest offence in the trace), the rest are counted.
import type { CheckName } from '../model/catalog';
import type { CheckResult, Diagnostics } from '../model/result';

export interface Finding {
  message: string;
  diagnostics: Diagnostics;
}

export class Findings {
  private readonly failures: Finding[] = [];
  constructor(private readonly check: CheckName) {}

  fail(message: string, diagnostics: Diagnostics): void {
    this.failures.push({ message, diagnostics });
  }

  get count(): number {
    return this.failures.length;
  }

  /** `passMessage` says what was judged, so a pass is informative too. */
  result(passMessage: string): CheckResult {
    if (this.failures.length === 0) return { check: this.check, verdict: 'pass', message: passMessage };
    const sorted = [...this.failures].sort((a, b) => (a.diagnostics.seq ?? 0) - (b.diagnostics.seq ?? 0));
    const first = sorted[0];
    const more = sorted.length - 1;
    return {
      check: this.check,
      verdict: 'fail',
      message: more ? `${first.message} (and ${more} more)` : first.message,
      diagnostics: more ? { ...first.diagnostics, failures: sorted.length, others: sorted.slice(1, 6).map((f) => f.message) } : first.diagnostics,
    };
  }
}

export const skip = (check: CheckName, reason: string): CheckResult => ({ check, verdict: 'skip', message: reason });
