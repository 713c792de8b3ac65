// A minimal YAML emitter for TAP diagnostics: block mappings of scalars, with JSON flow values for
// strings, arrays and nested objects (JSON is valid YAML flow style, so any YAML 1.2 reader and
// tap-parser read it back exactly).
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
