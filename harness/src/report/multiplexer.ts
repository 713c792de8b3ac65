// Fans each reporter call out to every reporter. A reporter that throws does not crash the run or
// stop the other reporters: its exception is recorded as a run error for the caller to report.
import type { InstanceResult, RunSummary } from '../model/result';
import type { Reporter, RunInfo } from '../model/reporter';

export class ReporterMultiplexer implements Reporter {
  readonly errors: { reporter: string; method: string; error: Error }[] = [];
  constructor(readonly reporters: readonly Reporter[]) {}

  private async call<K extends keyof Reporter>(method: K, arg: Parameters<NonNullable<Reporter[K]>>[0]): Promise<void> {
    for (const r of this.reporters) {
      const fn = r[method] as ((a: unknown) => void | Promise<void>) | undefined;
      if (!fn) continue;
      try {
        await fn.call(r, arg);
      } catch (e) {
        this.errors.push({ reporter: r.constructor?.name ?? 'reporter', method, error: e instanceof Error ? e : new Error(String(e)) });
      }
    }
  }

  onRunStart(info: RunInfo): Promise<void> {
    return this.call('onRunStart', info);
  }
  onInstanceStart(inst: string): Promise<void> {
    return this.call('onInstanceStart', inst);
  }
  onInstanceEnd(r: InstanceResult): Promise<void> {
    return this.call('onInstanceEnd', r);
  }
  onRunEnd(s: RunSummary): Promise<void> {
    return this.call('onRunEnd', s);
  }
}
