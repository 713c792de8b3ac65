// A small declarative validator for located XML trees: the subset of XSD that our documents use
// (element names, attributes with simple types, child counts, text content). It collects every
// problem with its location instead of stopping at the first, so a user fixes a file in one pass.
// The XSDs shipped beside the documents say the same thing for editors and xmllint; tests keep
// the two in agreement.
import type { Problem } from '../model/errors';
import type { XmlElement } from './element';

/** Simple types of attribute values and text content. */
export type ValueType =
  | { kind: 'string'; pattern?: RegExp; minLength?: number; maxLength?: number; what?: string }
  | { kind: 'int'; min?: number; max?: number }
  /** Hexadecimal digits without a prefix (as in `DEV_0001`, `REV_09000000`); `digits` fixes the count. */
  | { kind: 'hex'; digits?: number; min?: number; max?: number }
  | { kind: 'enum'; values: readonly string[] }
  /** XSD boolean: true, false, 1, 0. */
  | { kind: 'boolean' }
  /** White-space separated list (xs:list) of items of one type. */
  | { kind: 'list'; item: ValueType; minItems?: number };

/** Constructors for the value types, so shapes read like the XSD they mirror. */
export const types = {
  string: (opts: { pattern?: RegExp; minLength?: number; maxLength?: number; what?: string } = {}): ValueType => ({ kind: 'string', ...opts }),
  token: (): ValueType => ({ kind: 'string', minLength: 1 }),
  int: (min?: number, max?: number): ValueType => ({ kind: 'int', min, max }),
  hex: (digits?: number, min?: number, max?: number): ValueType => ({ kind: 'hex', digits, min, max }),
  enum: (...values: string[]): ValueType => ({ kind: 'enum', values }),
  boolean: (): ValueType => ({ kind: 'boolean' }),
  list: (item: ValueType, minItems?: number): ValueType => ({ kind: 'list', item, minItems }),
};

export interface AttrShape {
  type: ValueType;
  required?: boolean;
}

export interface ChildShape {
  /** A function for recursive or late-bound shapes. */
  shape: ElementShape | (() => ElementShape);
  /** Default 0. */
  min?: number;
  /** Default unbounded. */
  max?: number;
}

export interface ElementShape {
  attrs?: Record<string, AttrShape>;
  /** Allowed child elements; any other child is a problem. */
  children?: Record<string, ChildShape>;
  /** Children must appear in the order of `children` (an XSD sequence); otherwise any order. */
  ordered?: boolean;
  /** Text content; when absent, only white space may appear between children. */
  text?: { type: ValueType; required?: boolean };
}

/** Messages for a value that does not fit its type, or undefined when it fits. */
export function checkValue(type: ValueType, value: string): string | undefined {
  switch (type.kind) {
    case 'string': {
      if (type.minLength !== undefined && value.length < type.minLength) return type.minLength === 1 ? 'must not be empty' : `must have at least ${type.minLength} characters`;
      if (type.maxLength !== undefined && value.length > type.maxLength) return `must have at most ${type.maxLength} characters`;
      if (type.pattern && !type.pattern.test(value)) return `'${value}' is not ${type.what ?? `of the form ${type.pattern.source}`}`;
      return undefined;
    }
    case 'int': {
      if (!/^[+-]?\d+$/.test(value.trim())) return `'${value}' is not an integer`;
      return range(Number(value), type.min, type.max, value);
    }
    case 'hex': {
      const v = value.trim();
      if (!/^[0-9A-Fa-f]+$/.test(v)) return `'${value}' is not hexadecimal (digits 0-9, A-F, no prefix)`;
      if (type.digits !== undefined && v.length !== type.digits) return `'${value}' must have exactly ${type.digits} hex digits`;
      return range(parseInt(v, 16), type.min, type.max, value, true);
    }
    case 'enum':
      return type.values.includes(value.trim()) ? undefined : `'${value}' is not one of ${type.values.join(', ')}`;
    case 'boolean':
      return /^(true|false|1|0)$/.test(value.trim()) ? undefined : `'${value}' is not a boolean (true, false, 1, 0)`;
    case 'list': {
      const items = splitList(value);
      if (type.minItems !== undefined && items.length < type.minItems) return `needs at least ${type.minItems} item(s)`;
      for (const item of items) {
        const m = checkValue(type.item, item);
        if (m) return m;
      }
      return undefined;
    }
  }
}

function range(n: number, min: number | undefined, max: number | undefined, raw: string, hex = false): string | undefined {
  const show = (x: number) => (hex ? x.toString(16).toUpperCase() : String(x));
  if (min !== undefined && n < min) return `'${raw}' is below the minimum ${show(min)}`;
  if (max !== undefined && n > max) return `'${raw}' is above the maximum ${show(max)}`;
  return undefined;
}

/** Converters for values that passed `checkValue`. */
export const splitList = (value: string): string[] => value.trim().split(/\s+/).filter(Boolean);
export const intValue = (value: string): number => Number(value.trim());
export const hexValue = (value: string): number => parseInt(value.trim(), 16);
export const boolValue = (value: string): boolean => /^(true|1)$/.test(value.trim());

/** Namespace declarations and xsi:* (schemaLocation hints for editors) are allowed on any element. */
const isSchemaAttribute = (name: string) => name === 'xmlns' || name.startsWith('xmlns:') || name.startsWith('xsi:');

/**
 * Check `root` (whose name must be `rootName`) and everything under it against `shape`.
 * Rules: `root-element`, `unknown-element`, `unknown-attribute`, `missing-attribute`,
 * `attribute-value`, `child-count`, `child-order`, `text-content`.
 */
export function validate(root: XmlElement, rootName: string, shape: ElementShape): Problem[] {
  const problems: Problem[] = [];
  if (root.name !== rootName) {
    problems.push({ location: root.at(), message: `document element is <${root.name}>, expected <${rootName}>`, rule: 'root-element' });
    return problems;
  }
  validateElement(root, shape, problems);
  return problems;
}

/** One element: its attributes, its children (each validated in turn) and their counts, its text. */
function validateElement(el: XmlElement, shape: ElementShape, problems: Problem[]): void {
  validateAttributes(el, shape.attrs ?? {}, problems);
  const counts = validateChildren(el, shape, problems);
  validateChildCounts(el, shape.children ?? {}, counts, problems);
  validateText(el, shape, problems);
}

/** Each attribute known and its value valid; each required one present. */
function validateAttributes(el: XmlElement, attrs: NonNullable<ElementShape['attrs']>, problems: Problem[]): void {
  for (const [name, value] of Object.entries(el.attrs)) {
    if (isSchemaAttribute(name)) continue;
    const a = attrs[name];
    if (!a) {
      const known = Object.keys(attrs);
      problems.push({
        location: el.attrLoc(name),
        message: `attribute '${name}' is not allowed on <${el.name}>${known.length ? ` (allowed: ${known.join(', ')})` : ''}`,
        rule: 'unknown-attribute',
      });
      continue;
    }
    const m = checkValue(a.type, value);
    if (m) problems.push({ location: el.attrLoc(name), message: `attribute '${name}': ${m}`, rule: 'attribute-value' });
  }
  for (const [name, a] of Object.entries(attrs)) {
    if (a.required && el.attr(name) === undefined) {
      problems.push({ location: el.at(), message: `<${el.name}> needs attribute '${name}'`, rule: 'missing-attribute' });
    }
  }
}

/** Each child known, in order where the shape is ordered, and validated; returns how many of each. */
function validateChildren(el: XmlElement, shape: ElementShape, problems: Problem[]): Map<string, number> {
  const children = shape.children ?? {};
  const counts = new Map<string, number>();
  const order = Object.keys(children);
  let last = -1;
  for (const c of el.children) {
    const cs = children[c.name];
    if (cs && shape.ordered) {
      const at = order.indexOf(c.name);
      if (at < last) {
        problems.push({ location: c.at(), message: `<${c.name}> must come before <${order[last]}> in <${el.name}> (order: ${order.join(', ')})`, rule: 'child-order' });
      } else last = at;
    }
    if (!cs) {
      const known = Object.keys(children);
      problems.push({
        location: c.at(),
        message: `element <${c.name}> is not allowed in <${el.name}>${known.length ? ` (allowed: ${known.join(', ')})` : ''}`,
        rule: 'unknown-element',
      });
      continue;
    }
    counts.set(c.name, (counts.get(c.name) ?? 0) + 1);
    validateElement(c, typeof cs.shape === 'function' ? cs.shape() : cs.shape, problems);
  }
  return counts;
}

/** Each kind of child between its min and max. */
function validateChildCounts(el: XmlElement, children: NonNullable<ElementShape['children']>, counts: Map<string, number>, problems: Problem[]): void {
  for (const [name, cs] of Object.entries(children)) {
    const n = counts.get(name) ?? 0;
    const min = cs.min ?? 0;
    const max = cs.max ?? Infinity;
    if (n < min) {
      problems.push({ location: el.at(), message: `<${el.name}> needs ${min === 1 ? 'a' : `at least ${min}`} <${name}> element${min === 1 ? '' : 's'}${n ? ` (has ${n})` : ''}`, rule: 'child-count' });
    } else if (n > max) {
      const extra = el.childrenNamed(name)[max];
      problems.push({ location: extra.at(), message: `<${el.name}> allows at most ${max} <${name}> element${max === 1 ? '' : 's'} (has ${n})`, rule: 'child-count' });
    }
  }
}

/** Text where the shape wants it (valid), none where it does not. */
function validateText(el: XmlElement, shape: ElementShape, problems: Problem[]): void {
  const text = el.trimmedText;
  if (shape.text) {
    if (text === '') {
      if (shape.text.required) problems.push({ location: el.at(), message: `<${el.name}> needs text content`, rule: 'text-content' });
    } else {
      const m = checkValue(shape.text.type, text);
      if (m) problems.push({ location: el.at(), message: `text of <${el.name}>: ${m}`, rule: 'text-content' });
    }
  } else if (text !== '') {
    problems.push({ location: el.at(), message: `<${el.name}> must not contain text ('${abbreviate(text)}')`, rule: 'text-content' });
  }
}

const abbreviate = (s: string) => (s.length > 40 ? s.slice(0, 37) + '...' : s);
