// Reverse-order teardown: every setup that succeeded registers how to undo itself; unwind() runs
// the undos last-first, each even when an earlier one failed, and returns what failed.
export interface TeardownFailure {
  label: string;
  error: Error;
}

export class TeardownStack {
  private readonly undo: { label: string; fn: () => Promise<void> | void }[] = [];

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
        await fn();
      } catch (e) {
        failures.push({ label, error: e instanceof Error ? e : new Error(String(e)) });
      }
    }
    return failures;
  }
}
