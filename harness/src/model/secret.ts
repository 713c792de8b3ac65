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

