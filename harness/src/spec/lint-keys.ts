// Lint rules on the keys of one spec (device and guest keys): unique-key, key-ref, key-range,
// placeholder, state-order, alternative-group, and the device paths' placeholders.
import type { KeySpec } from '../model/spec';
import { keyValueProblem } from '../model/spec-eval';
import type { XmlElement } from '../xml/index';
import type { SpecDocument } from './document';
import type { Collector } from './lint-collector';

const KNOWN_PLACEHOLDERS = ['i', 'q', 'N', 'n', 'id', 'domid'];

export interface LocatedKey {
  key: KeySpec;
  el: XmlElement;
}

export function locatedKeys(doc: SpecDocument): { device: LocatedKey[]; guest: LocatedKey[] } {
  const devEls = doc.root.child('device')?.childrenNamed('key') ?? [];
  const guestEls = doc.root.child('guest')?.childrenNamed('key') ?? [];
  return {
    device: (doc.spec.device?.keys ?? []).map((key, i) => ({ key, el: devEls[i] })),
    guest: doc.spec.guestKeys.map((key, i) => ({ key, el: guestEls[i] })),
  };
}

export function lintKeys(doc: SpecDocument, c: Collector): void {
  const { device, guest } = locatedKeys(doc);
  const all = [...device, ...guest];
  lintUniqueKeys(all, c);
  for (const k of all) {
    lintKeyRefs(doc, k, all, c);
    lintKeyRange(k, c);
    lintKeyPlaceholders(k, c);
    lintStateOrder(k, c);
  }
  lintAlternativeGroups(all, c);
  lintDevicePaths(doc, c);
}

/** unique-key: a key is listed once per side. */
function lintUniqueKeys(all: readonly LocatedKey[], c: Collector): void {
  const seen = new Map<string, XmlElement>();
  for (const { key, el } of all) {
    const id = `${key.side}:${key.name}`;
    const first = seen.get(id);
    if (first) c.add(el.attrLoc('name'), 'unique-key', `${key.side} key '${el.attr('name')}' is already listed at line ${first.loc.line}`);
    else seen.set(id, el);
  }
}

/** key-ref: conditions and constraints name keys of the spec; unless-registry a REG_DWORD toggle. */
function lintKeyRefs(doc: SpecDocument, { key, el }: LocatedKey, all: readonly LocatedKey[], c: Collector): void {
  const exists = (side: string, name: string) => all.some((k) => k.key.side === side && k.key.name === name);
  for (const cond of key.conditions ?? []) {
    if (!exists(cond.ref.side, cond.ref.name)) c.add(el.attrLoc('when'), 'key-ref', `when: ${cond.ref.side}:${cond.ref.name} is not a key of this spec`);
  }
  for (const con of key.constraints ?? []) {
    if (con.ref && !exists(con.ref.side, con.ref.name)) c.add(el.attrLoc('constraint'), 'key-ref', `constraint: ${con.ref.side}:${con.ref.name} is not a key of this spec`);
  }
  if (key.unlessRegistry !== undefined) {
    if (!doc.spec.registry.some((r) => r.value === key.unlessRegistry && r.type === 'REG_DWORD')) c.add(el.attrLoc('unless-registry'), 'key-ref', `unless-registry: ${key.unlessRegistry} is not a REG_DWORD of this spec's registry`);
    if (key.value !== '1') c.add(el.attrLoc('unless-registry'), 'key-ref', `unless-registry needs value="1" (the value the toggle turns to 0)`);
  }
}

/** key-range: bounds, enum values, patterns, and fixed values and defaults valid for the type. */
function lintKeyRange({ key, el }: LocatedKey, c: Collector): void {
  if (key.min !== undefined && key.max !== undefined && key.min > key.max) c.add(el.attrLoc('min'), 'key-range', `min ${key.min} is above max ${key.max}`);
  if (key.type === 'enum' && !key.enumValues?.length) c.add(el.at(), 'key-range', `an enum key needs enum-values`);
  if (key.type !== 'enum' && key.enumValues) c.add(el.attrLoc('enum-values'), 'key-range', `enum-values on a key of type ${key.type}`);
  if ((key.min !== undefined || key.max !== undefined) && !['int', 'uint', 'state'].includes(key.type)) {
    c.add(el.attrLoc(key.min !== undefined ? 'min' : 'max'), 'key-range', `min/max on a key of type ${key.type}`);
  }
  if (key.pattern !== undefined) {
    try {
      new RegExp(key.pattern);
    } catch (e) {
      c.add(el.attrLoc('pattern'), 'key-range', `pattern does not compile: ${(e as Error).message}`);
    }
  }
  for (const attr of ['value', 'default'] as const) {
    const v = key[attr];
    if (v === undefined) continue;
    const m = keyValueProblem({ ...key, value: undefined, pattern: safePattern(key.pattern) }, v);
    if (m) c.add(el.attrLoc(attr), 'key-range', `${attr}: ${m}`);
  }
}

/** placeholder: key names use only known placeholders. */
function lintKeyPlaceholders({ el }: LocatedKey, c: Collector): void {
  for (const m of (el.attr('name') ?? '').matchAll(/\{([^}]*)\}/g)) {
    if (!KNOWN_PLACEHOLDERS.includes(m[1])) c.add(el.attrLoc('name'), 'placeholder', `unknown placeholder {${m[1]}} (known: ${KNOWN_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')})`);
  }
}

/** state-order: a key is written no later than it is required. */
function lintStateOrder({ key, el }: LocatedKey, c: Collector): void {
  if (key.writtenIn !== undefined && key.requiredFrom !== undefined && key.side !== 'guest' && key.writtenIn > key.requiredFrom) {
    c.add(el.attrLoc('written-in'), 'state-order', `written in state ${key.writtenIn} but required from state ${key.requiredFrom}`);
  }
}

/** alternative-group: at least two keys, each with a condition saying when it is the one written. */
function lintAlternativeGroups(all: readonly LocatedKey[], c: Collector): void {
  const groups = new Map<string, LocatedKey[]>();
  for (const k of all) if (k.key.alternativeGroup) groups.set(`${k.key.side}:${k.key.alternativeGroup}`, [...(groups.get(`${k.key.side}:${k.key.alternativeGroup}`) ?? []), k]);
  for (const [, members] of groups) {
    if (members.length < 2) c.add(members[0].el.attrLoc('group'), 'alternative-group', `group '${members[0].key.alternativeGroup}' has only one key`);
    for (const m of members) if (!m.key.conditions?.length && m.key.when === undefined) c.add(m.el.attrLoc('group'), 'alternative-group', `key '${m.el.attr('name')}' of group '${m.key.alternativeGroup}' needs a when condition saying when it is the one written`);
  }
}

/** placeholder: device paths name {id} (and the backend {domid}) and nothing unknown. */
function lintDevicePaths(doc: SpecDocument, c: Collector): void {
  const dev = doc.root.child('device');
  if (!dev) return;
  for (const [attr, need] of [['frontend-path', ['id']], ['backend-path', ['domid', 'id']]] as const) {
    const v = dev.attr(attr) ?? '';
    for (const m of v.matchAll(/\{([^}]*)\}/g)) if (!KNOWN_PLACEHOLDERS.includes(m[1])) c.add(dev.attrLoc(attr), 'placeholder', `unknown placeholder {${m[1]}}`);
    for (const p of need) if (!v.includes(`{${p}}`)) c.add(dev.attrLoc(attr), 'placeholder', `${attr} must contain {${p}}`);
  }
}

/** A pattern that compiles (a broken one is reported once, by the pattern check). */
function safePattern(p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  try {
    new RegExp(p);
    return p;
  } catch {
    return undefined;
  }
}
