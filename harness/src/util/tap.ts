// TAP 14, written one way for every producer (the run's reports, `winpv check`, the build and package
// commands): the header, test-point lines with escaped descriptions and SKIP/TODO directives, and
// YAML diagnostics. The YAML is block mappings of scalars with JSON flow values for strings, arrays
// and nested objects (JSON is valid YAML flow style, so any YAML 1.2 reader and tap-parser read it
// back exactly).

export const TAP_HEADER = 'TAP version 14';

/** A TAP description must not contain a newline or an unescaped '#'. */
export const tapDescription = (s: string) => s.replace(/\s*\n\s*/g, ' ').replace(/\\/g, '\\\\').replace(/#/g, '\\#');

export interface TapPointLine {
  n: number;
  ok: boolean;
  description: string;
  /** `# SKIP reason` (the point counts as ok). */
  skip?: string;
  /** `# TODO reason` (a failure that does not count). */
  todo?: string;
  /** Written after the description when there is no directive (`# time=12ms`). */
  suffix?: string;
  diagnostics?: Record<string, unknown>;
  indent?: string;
}

/** One test point, with its YAML block when it has diagnostics. */
export function tapPoint(p: TapPointLine): string {
  const indent = p.indent ?? '';
  const directive = p.skip !== undefined ? ` # SKIP ${tapDescription(p.skip)}` : p.todo !== undefined ? ` # TODO ${tapDescription(p.todo)}` : p.suffix ?? '';
  const line = `${indent}${p.ok || p.skip !== undefined ? 'ok' : 'not ok'} ${p.n} - ${tapDescription(p.description)}${directive}`;
  const diag = p.diagnostics && Object.values(p.diagnostics).some((v) => v !== undefined) ? p.diagnostics : undefined;
  return diag ? `${line}\n${indent}  ---\n${yamlBlock(diag, `${indent}  `)}\n${indent}  ...` : line;
}
export function yamlBlock(obj: Record<string, unknown>, indent: string): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const key = /^[A-Za-z_][\w.-]*$/.test(k) ? k : JSON.stringify(k);
    lines.push(`${indent}${key}: ${scalar(v)}`);
  }
  return lines.join('\n');
}

function scalar(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : JSON.stringify(String(v));
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
}
