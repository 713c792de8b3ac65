// TAP 14 output for the build commands (build, package verify, package bundle), so CI treats a
// broken package like a failed test: one point per check, `# SKIP reason`, YAML diagnostics with
// the file:line of what failed.
import { formatLocation, type SourceLocation } from '../model/errors';

export interface TapPoint {
  ok: boolean;
  description: string;
  skip?: string;
  diagnostics?: Record<string, unknown>;
}

/** YAML for diagnostics: strings quoted when needed, arrays and objects block-style. */
function yaml(value: unknown, indent: string): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${indent}[]`];
    return value.flatMap((v) => {
      const inner = yaml(v, indent + '  ');
      return typeof v === 'object' && v !== null ? [`${indent}-`, ...inner] : [`${indent}- ${inner[0].trim()}`];
    });
  }
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => {
      if (v === undefined) return [];
      if (typeof v === 'object' && v !== null) return [`${indent}${k}:`, ...yaml(v, indent + '  ')];
      return [`${indent}${k}: ${scalar(v)}`];
    });
  }
  return [`${indent}${scalar(value)}`];
}

function scalar(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  const s = String(v);
  return /^[\w./@+-][\w ./@+,()=-]*$/.test(s) && !/^(true|false|null|yes|no|~)$/i.test(s) && !/^[\d.+-]+$/.test(s) ? s : JSON.stringify(s);
}

/** Streams TAP: header now, points as they come, the plan at the end. */
export class TapWriter {
  private count = 0;
  private failed = 0;

  constructor(private readonly out: NodeJS.WritableStream) {
    out.write('TAP version 14\n');
  }

  comment(text: string): void {
    for (const line of text.split('\n')) this.out.write(`# ${line}\n`);
  }

  point(p: TapPoint): void {
    this.count++;
    if (!p.ok && !p.skip) this.failed++;
    const desc = p.description.replace(/#/g, '\\#').replace(/\n/g, ' ');
    this.out.write(`${p.ok || p.skip ? 'ok' : 'not ok'} ${this.count} - ${desc}${p.skip ? ` # SKIP ${p.skip}` : ''}\n`);
    if (p.diagnostics && Object.keys(p.diagnostics).length > 0) {
      this.out.write(['  ---', ...yaml(p.diagnostics, '  '), '  ...', ''].join('\n'));
    }
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
