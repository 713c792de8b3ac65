// TAP 14 output for the build commands (build, package verify, package bundle), so CI treats a
// broken package like a failed test: one point per check, `# SKIP reason`, YAML diagnostics with
// the file:line of what failed. The lines are util/tap.ts's, as the run's reports are.
import { formatLocation, type SourceLocation } from '../model/errors';
import { TAP_HEADER, tapPoint } from '../util/tap';

export interface TapPoint {
  ok: boolean;
  description: string;
  skip?: string;
  diagnostics?: Record<string, unknown>;
}

/** Streams TAP: header now, points as they come, the plan at the end. */
export class TapWriter {
  private count = 0;
  private failed = 0;

  constructor(private readonly out: NodeJS.WritableStream) {
    out.write(`${TAP_HEADER}\n`);
  }

  comment(text: string): void {
    for (const line of text.split('\n')) this.out.write(`# ${line}\n`);
  }

  point(p: TapPoint): void {
    this.count++;
    if (!p.ok && !p.skip) this.failed++;
    this.out.write(tapPoint({ n: this.count, ok: p.ok, description: p.description, ...(p.skip ? { skip: p.skip } : {}), ...(p.diagnostics ? { diagnostics: p.diagnostics } : {}) }) + '\n');
  }

  bailOut(reason: string): void {
    this.out.write(`Bail out! ${reason.replace(/\n/g, ' ')}\n`);
  }

  end(): { total: number; failed: number } {
    this.out.write(`1..${this.count}\n`);
    return { total: this.count, failed: this.failed };
  }

  get failures(): number {
    return this.failed;
  }
}

/** `file:line path` for diagnostics. */
export const at = (loc: SourceLocation): string => formatLocation(loc);
