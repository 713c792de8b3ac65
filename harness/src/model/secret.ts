// A credential that cannot leak by accident: it prints, inspects and serialises as a mask.
// Only `reveal()` gives the value, and only code that hands it to a transport calls it.
const hidden = new WeakMap<Secret, string>();

export class Secret {
  constructor(value: string) {
    hidden.set(this, value);
  }
  reveal(): string {
    return hidden.get(this) ?? '';
  }
  toString(): string {
    return '***';
  }
  toJSON(): string {
    return '***';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret(***)';
  }
}

/** Replace every occurrence of the given secrets in a text (for logs built from foreign output). */
export function redact(text: string, secrets: readonly Secret[]): string {
  let out = text;
  for (const s of secrets) {
    const v = s.reveal();
    if (v.length >= 3) out = out.split(v).join('***');
  }
  return out;
}
