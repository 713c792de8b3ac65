// The two small expression languages of a spec's keys.
//   when:       term (' and ' term)*   term = ['!'] side:key [OP value]
//   constraint: term (' and ' term)*   term = OP (number | side:key)
// OP is one of = != < <= > >=; side is frontend, backend or guest. Parsed once by the loader so
// that no reader of the model parses strings.
import type { CompareOp, Condition, Constraint, KeyRef, KeySide } from '../model/spec';

const SIDES: readonly KeySide[] = ['frontend', 'backend', 'guest'];
const refRe = /^(frontend|backend|guest):([A-Za-z0-9_.{}<>/-]+)$/;
const opRe = /^(<=|>=|!=|=|<|>)$/;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

function parseRef(text: string): KeyRef | undefined {
  const m = refRe.exec(text);
  return m ? { side: m[1] as KeySide, name: m[2] } : undefined;
}

const numberOrString = (v: string): string | number => (/^-?[0-9]+$/.test(v) ? Number(v) : v);

/** Parse a `when` attribute. */
export function parseCondition(text: string): Parsed<Condition[]> {
  const terms = text.trim().split(/\s+and\s+/);
  const out: Condition[] = [];
  for (const term of terms) {
    const words = term.trim().split(/\s+/);
    let first = words[0] ?? '';
    const negate = first.startsWith('!');
    if (negate) first = first.slice(1);
    const ref = parseRef(first);
    if (!ref) return { ok: false, error: `'${first}' is not a key reference (side:key, side one of ${SIDES.join(', ')})` };
    if (words.length === 1) {
      out.push(negate ? { ref, negate } : { ref });
      continue;
    }
    if (negate) return { ok: false, error: `'!' only negates a feature test, not a comparison ('${term}')` };
    if (words.length !== 3 || !opRe.test(words[1])) return { ok: false, error: `'${term}' is not 'side:key OP value' (OP one of = != < <= > >=)` };
    out.push({ ref, op: words[1] as CompareOp, value: numberOrString(words[2]) });
  }
  return { ok: true, value: out };
}

/** Parse a `constraint` attribute. */
export function parseConstraint(text: string): Parsed<Constraint[]> {
  const out: Constraint[] = [];
  for (const raw of text.trim().split(/\s+and\s+/)) {
    const term = raw.trim();
    const m = /^(<=|>=|!=|=|<|>)\s*(\S+)$/.exec(term);
    if (!m) return { ok: false, error: `'${term}' is not 'OP number' or 'OP side:key' (OP one of = != < <= > >=)` };
    const op = m[1] as CompareOp;
    if (/^-?[0-9]+$/.test(m[2])) {
      out.push({ op, value: Number(m[2]), text: term });
      continue;
    }
    const ref = parseRef(m[2]);
    if (!ref) return { ok: false, error: `'${m[2]}' is neither a number nor a key reference (side:key)` };
    out.push({ op, ref, text: term });
  }
  return { ok: true, value: out };
}
