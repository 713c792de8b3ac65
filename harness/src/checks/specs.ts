// Spec lookups the checks share: which driver spec describes a device type, which keys a side must
// carry at a state, and how a key's value is judged (type, range, enum, pattern, constraint).
import type { DriverSpec, KeySpec, SpecSet } from '../model/spec';
import type { XsReplay } from './view';

export function specForDeviceType(specs: SpecSet, type: string): DriverSpec | undefined {
  for (const s of specs.values()) if (s.device?.type === type) return s;
  return undefined;
}

/** Placeholders like `<q>`, `<N>`, `<i>` in key names. */
const PLACEHOLDER = /<([A-Za-z]+)>/g;
export const hasPlaceholder = (name: string) => /<[A-Za-z]+>/.test(name);

/** A regex matching the concrete names of a key name with placeholders (each one a decimal number or a name). */
export function keyPattern(name: string): RegExp {
  const parts = name.split(PLACEHOLDER);
  let re = '';
  parts.forEach((p, i) => {
    re += i % 2 === 0 ? p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : '[^/]+';
  });
  return new RegExp(`^${re}$`);
}

export interface KeyContext {
  replay: XsReplay;
  /** Directory of the side that writes the key, and of the other end (device keys only). */
  dir: string;
  frontendDir?: string;
  backendDir?: string;
}

function resolveRef(ref: string, ctx: KeyContext): string | undefined {
  const m = /^(frontend|backend):(.+)$/.exec(ref.trim());
  if (!m) return ctx.replay.get(`${ctx.dir}/${ref.trim()}`);
  const dir = m[1] === 'frontend' ? ctx.frontendDir : ctx.backendDir;
  return dir ? ctx.replay.get(`${dir}/${m[2]}`) : undefined;
}

/** `when` conditions: `[!]side:key[=value]` or `[!]key[=value]`; a key is "on" when present and not "0". */
export function conditionHolds(when: string | undefined, ctx: KeyContext): boolean {
  if (!when) return true;
  return when.split(/\s*(?:&&|,)\s*/).every((clause) => {
    let c = clause.trim();
    const neg = c.startsWith('!');
    if (neg) c = c.slice(1);
    const eq = c.indexOf('=');
    const ref = eq >= 0 ? c.slice(0, eq) : c;
    const v = resolveRef(ref, ctx);
    const on = eq >= 0 ? v === c.slice(eq + 1) : v !== undefined && v !== '0' && v !== '';
    return neg ? !on : on;
  });
}

const OPS: Record<string, (a: number, b: number) => boolean> = {
  '<=': (a, b) => a <= b,
  '>=': (a, b) => a >= b,
  '<': (a, b) => a < b,
  '>': (a, b) => a > b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
};

/** What is wrong with `value` for this key, or undefined when it is valid. */
export function judgeValue(ks: KeySpec, value: string, ctx: KeyContext): string | undefined {
  const isInt = /^-?\d+$/.test(value);
  switch (ks.type) {
    case 'int':
    case 'uint':
    case 'state':
      if (!isInt) return `'${value}' is not an integer`;
      if (ks.type === 'uint' && Number(value) < 0) return `'${value}' is negative`;
      if (ks.type === 'state' && (Number(value) < 0 || Number(value) > 8)) return `'${value}' is not a XenbusState`;
      break;
    case 'bool':
      if (value !== '0' && value !== '1') return `'${value}' is not a boolean (0 or 1)`;
      break;
    case 'enum':
      if (ks.enumValues && !ks.enumValues.includes(value)) return `'${value}' is not one of ${ks.enumValues.join(', ')}`;
      break;
    case 'mac':
      if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(value)) return `'${value}' is not a MAC address`;
      break;
    default:
      break;
  }
  if (isInt || ks.type === 'int' || ks.type === 'uint') {
    const n = Number(value);
    if (ks.min !== undefined && n < ks.min) return `${value} is below the minimum ${ks.min}`;
    if (ks.max !== undefined && n > ks.max) return `${value} is above the maximum ${ks.max}`;
  }
  if (ks.pattern && !new RegExp(`^(?:${ks.pattern})$`).test(value)) return `'${value}' does not match ${ks.pattern}`;
  if (ks.constraint) {
    const m = /^\s*(<=|>=|==|!=|<|>)\s*(.+?)\s*$/.exec(ks.constraint);
    if (m) {
      const rhsRaw = /^-?\d+$/.test(m[2]) ? m[2] : resolveRef(m[2], ctx);
      if (rhsRaw !== undefined && /^-?\d+$/.test(rhsRaw) && isInt && !OPS[m[1]](Number(value), Number(rhsRaw))) {
        return `${value} violates '${ks.constraint}' (${m[2]} = ${rhsRaw})`;
      }
    }
  }
  return undefined;
}

/** Concrete names present for a key (placeholders expanded against what exists under dir). */
export function presentNames(ks: KeySpec, ctx: KeyContext): string[] {
  if (!hasPlaceholder(ks.name)) return ctx.replay.get(`${ctx.dir}/${ks.name}`) !== undefined ? [ks.name] : [];
  const re = keyPattern(ks.name);
  return ctx.replay.below(ctx.dir).filter((k) => re.test(k));
}

/** Problems of one required key at this moment: missing, or invalid values. */
export function judgeRequiredKey(ks: KeySpec, ctx: KeyContext): string | undefined {
  if (ks.name.includes('<q>')) {
    // one per queue the frontend announced; no announcement, no per-queue keys
    const nq = ctx.frontendDir ? ctx.replay.get(`${ctx.frontendDir}/multi-queue-num-queues`) : undefined;
    if (nq === undefined || !/^\d+$/.test(nq)) return undefined;
    for (let q = 0; q < Number(nq); q++) {
      const name = ks.name.replace(/<q>/g, String(q));
      const sub = { ...ks, name };
      const p = judgeRequiredKey(sub, ctx);
      if (p) return p;
    }
    return undefined;
  }
  const names = presentNames(ks, ctx);
  if (names.length === 0) return `${ks.name} is missing`;
  for (const n of names) {
    const p = judgeValue(ks, ctx.replay.get(`${ctx.dir}/${n}`)!, ctx);
    if (p) return `${n}: ${p}`;
  }
  return undefined;
}
