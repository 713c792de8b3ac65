// Reverse-order teardown: every setup that succeeded registers how to undo itself; unwind() runs
// the undos last-first, each even when an earlier one failed or hung, and returns what failed. With a
// clock, each undo has its own deadline in host time: a stuck host call is given up on (it is left
// running; the caller reports it) so the run still ends.
import type { HostClock } from '../model/host';
import { withDeadline } from './deadline';

export interface TeardownFailure {
  label: string;
  error: Error & { code?: string };
}

/** Host time one teardown task may take (destroying a Windows guest on a busy pool takes minutes). */
export const TEARDOWN_DEADLINE_MS = 300_000;

export class TeardownStack {
  private readonly undo: { label: string; fn: () => Promise<void> | void }[] = [];

  constructor(private readonly deadline?: { clock: HostClock; ms: number }) {}

  defer(label: string, fn: () => Promise<void> | void): void {
    this.undo.push({ label, fn });
  }

  get size(): number {
    return this.undo.length;
  }

  async unwind(): Promise<TeardownFailure[]> {
    const failures: TeardownFailure[] = [];
    while (this.undo.length) {
      const { label, fn } = this.undo.pop()!;
      try {
        if (this.deadline) await withDeadline(this.deadline.clock, this.deadline.ms, undefined, `teardown '${label}'`, async () => fn());
        else await fn();
      } catch (e) {
        failures.push({ label, error: e instanceof Error ? e : new Error(String(e)) });
      }
    }
    return failures;
  }
}

/** An undo that runs at most once (a timed fault may go off before the teardown tries again). */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}
