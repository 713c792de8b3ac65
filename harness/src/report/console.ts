// The console reporter: on a terminal a live progress line that is rewritten in place; otherwise
// one line per instance (CI logs); then a summary with the failures and, for a failing run, the seed.
import type { InstanceResult, RunSummary } from '../model/result';
import type { Reporter, RunInfo } from '../model/reporter';

export class ConsoleReporter implements Reporter {
  private total = 0;
  private done = 0;
  private current = '';
  /** The worker lines of a parallel run and how many are on the screen. */
  private block: string[] = [];
  private drawn = 0;
  private drawnAt = 0;
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly tty: boolean,
  ) {}

  onRunStart(info: RunInfo): void {
    this.total = info.instances.length;
    this.out.write(`winpv: ${this.total} scenario instance${this.total === 1 ? '' : 's'} on ${info.host.label} (seed ${info.seed})\n`);
  }

  onInstanceStart(inst: string): void {
    this.current = inst;
    if (this.tty && !this.block.length) this.progress();
  }

  onInstanceEnd(r: InstanceResult): void {
    this.done++;
    const line = describe(r);
    if (this.tty && this.block.length) {
      // the finished instance goes above the worker lines, which are drawn again below it
      this.clearBlock();
      this.out.write(`${line}\n`);
      this.drawBlock();
    } else if (this.tty) this.out.write(`\r\x1b[2K${line}\n`);
    else this.out.write(line + '\n');
    this.current = '';
  }

  onRunEnd(s: RunSummary): void {
    this.clearBlock();
    this.block = [];
    if (this.tty) this.out.write('\r\x1b[2K');
    const c = s.counts;
    const failed = s.instances.filter((r) => r.verdict === 'fail');
    if (failed.length) {
      this.out.write('\nfailures:\n');
      for (const r of failed) {
        for (const ch of r.checks.filter((x) => x.verdict === 'fail')) this.out.write(`  ${r.inst}: ${ch.check}: ${ch.message}\n`);
        if (r.aborted) this.out.write(`  ${r.inst}: steps: ${r.aborted.message}\n`);
      }
    }
    if (s.bailOut) this.out.write(`\nrun stopped early: ${s.bailOut}\n`);
    this.out.write(`\n${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped (${c.instances} instances, ${c.checks} checks, ${c.checksFailed} failed)\n`);
  }

  /** A parallel run's live lines, one per worker slot (a terminal only; drawn at most every 100 ms). */
  workers(lines: readonly { worker: string; inst?: string; doing: string }[]): void {
    if (!this.tty) return;
    this.block = lines.map((l) => `  ${l.worker.padEnd(10)} ${l.inst ? `${l.inst}: ${l.doing}` : l.doing}`);
    const now = Date.now();
    if (now - this.drawnAt < 100) return;
    this.drawnAt = now;
    this.clearBlock();
    this.drawBlock();
  }

  private clearBlock(): void {
    if (this.drawn) this.out.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }

  private drawBlock(): void {
    const cols = (this.out as NodeJS.WriteStream).columns ?? 120;
    for (const l of this.block) this.out.write(`${l.slice(0, cols - 1)}\n`);
    this.drawn = this.block.length;
  }

  private progress(): void {
    this.out.write(`\r\x1b[2K[${this.done + 1}/${this.total}] ${this.current} ...`);
  }
}

export function describe(r: InstanceResult): string {
  if (r.verdict === 'skip') return `skip  ${r.inst}: ${r.skipReason ?? ''}`;
  const secs = (r.durationMs / 1000).toFixed(1);
  const ran = r.checks.filter((c) => c.verdict !== 'skip').length;
  if (r.verdict === 'pass') return `ok    ${r.inst} (${ran} checks, ${secs} s host time)`;
  const first = r.checks.find((c) => c.verdict === 'fail');
  const why = first ? `${first.check}: ${first.message}` : `steps: ${r.aborted?.message ?? 'aborted'}`;
  return `FAIL  ${r.inst}: ${why}`;
}
