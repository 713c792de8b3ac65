// Rules beyond the XSD shape: consistency inside one spec and across the set. Each rule has a stable
// id (the `[rule]` of its messages) and points at the element or attribute at fault.
import type { Problem, SourceLocation } from '../model/errors';
import type { KeySpec } from '../model/spec';
import { keyValueProblem } from '../model/spec-eval';
import { XenbusState } from '../model/xenbus';
import type { XmlElement } from '../xml/index';
import { stateValue } from './build';
import type { SpecDocument } from './document';

/** Vendor blocks of the platform device's PCI device ids (reference facts: Windows PV drivers). */
export const VENDOR_DEVICE_BLOCKS: readonly { range: [number, number]; vendor: string }[] = [
  { range: [0xc000, 0xc0ff], vendor: 'XenServer' },
  { range: [0xc100, 0xc1ff], vendor: 'XenClient' },
  { range: [0xc200, 0xc2ff], vendor: 'XCP-ng' },
];
/** PCI vendor id of the Xen platform device ('XS'). */
export const XEN_PCI_VENDOR = 0x5853;
const KNOWN_PLACEHOLDERS = ['i', 'q', 'N', 'n', 'id', 'domid'];

/** Every lint rule id with what it checks (for `winpv spec lint --rules` and the docs). */
export const LINT_RULES: Record<string, string> = {
  'file-name': 'a spec file is named after its driver (<name>.xml)',
  'duplicate-driver': 'no two files describe the same driver',
  'state-range': 'every XenbusState is 0..8',
  'unique-key': 'a key is listed once per side (device) and once in the guest keys',
  'key-ref': 'when/constraint expressions name keys the spec lists; unless-registry names a REG_DWORD of the spec\'s registry with a fixed value of 1 to turn off',
  expression: 'when/constraint expressions parse',
  'key-range': 'min <= max, enum keys list their values, fixed values and defaults are valid for the key type, patterns compile',
  placeholder: 'key names and paths use only known placeholders ({i} {q} {N} {n} {id} {domid}); device paths name {id} (and the backend {domid})',
  'alternative-group': 'an alternative group has at least two keys, each with a when condition',
  'state-order': 'a key is written no later than it is required (written-in <= required-from)',
  transition: 'transitions change state and are not listed twice',
  'connect-path': 'the frontend connect transitions lead from Initialising to the connected state, leaving Initialising only once the backend reached waits-for-backend',
  'close-path': 'the frontend close transitions lead from the connected state to Closed',
  'ring-consistent': 'ring ABI matches the device type; ring-page-order keys and queue keys agree with the ring limits',
  'revision-unique': 'revision ids are listed once (advertised and bound)',
  'interface-unique': 'an interface is listed once per revision and in consumes',
  'hardware-id': "hardware IDs use the parent's enumerator (PCI only for the root bus); no duplicates",
  'vendor-range': 'vendor device ranges lie inside the vendor blocks of the facts and the spec\'s PCI ranges; device ids inside their range; PCI vendor 5853',
  'vendor-scope': 'vendor prefixes and PCI ids are declared once, on the root bus driver; prefixes are unique',
  'unplug-bit': 'unplug mask bits are listed once; the port protocol belongs to the root bus driver',
  'registry-unique': 'a registry value is listed once',
  'package-files': 'the package lists the INF named in identity and a catalog',
  'parent-exists': 'the parent driver has a spec',
  'parent-is-bus': 'the parent advertises revisions',
  'binds-parent': 'a child binds at least one revision; a driver without parent binds and consumes nothing',
  'revision-exists': 'each revision a child binds is advertised by its parent',
  'interface-version': 'each interface a child consumes is provided, at that version, by every revision it binds',
  'build-depends': 'build dependencies name specs, and a child depends on its parent',
  'build-cycle': 'build dependencies are acyclic',
};

class Collector {
  readonly problems: Problem[] = [];
  add(location: SourceLocation, rule: string, message: string): void {
    this.problems.push({ location, message, rule });
  }
}

const stateAttrs = ['written-in', 'required-from', 'waits-for-backend', 'connected-state', 'from', 'to'];

function walk(el: XmlElement, fn: (e: XmlElement) => void): void {
  fn(el);
  for (const c of el.children) walk(c, fn);
}

function lintStates(doc: SpecDocument, c: Collector): void {
  walk(doc.root, (e) => {
    for (const a of [...stateAttrs, 'peer-states']) {
      const v = e.attr(a);
      if (v === undefined) continue;
      for (const s of v.trim().split(/\s+/)) {
        const n = stateValue(s);
        if (!(n >= XenbusState.Unknown && n <= XenbusState.Reconfigured)) c.add(e.attrLoc(a), 'state-range', `${a}: ${s} is not a XenbusState (0..8)`);
      }
    }
  });
}

interface LocatedKey {
  key: KeySpec;
  el: XmlElement;
}

function locatedKeys(doc: SpecDocument): { device: LocatedKey[]; guest: LocatedKey[] } {
  const devEls = doc.root.child('device')?.childrenNamed('key') ?? [];
  const guestEls = doc.root.child('guest')?.childrenNamed('key') ?? [];
  return {
    device: (doc.spec.device?.keys ?? []).map((key, i) => ({ key, el: devEls[i] })),
    guest: doc.spec.guestKeys.map((key, i) => ({ key, el: guestEls[i] })),
  };
}

function lintKeys(doc: SpecDocument, c: Collector): void {
  const { device, guest } = locatedKeys(doc);
  const all = [...device, ...guest];
  const seen = new Map<string, XmlElement>();
  for (const { key, el } of all) {
    const id = `${key.side}:${key.name}`;
    const first = seen.get(id);
    if (first) c.add(el.attrLoc('name'), 'unique-key', `${key.side} key '${el.attr('name')}' is already listed at line ${first.loc.line}`);
    else seen.set(id, el);
  }
  const exists = (side: string, name: string) => all.some((k) => k.key.side === side && k.key.name === name);
  for (const { key, el } of all) {
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
    // key-range
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
    // placeholder
    for (const m of (el.attr('name') ?? '').matchAll(/\{([^}]*)\}/g)) {
      if (!KNOWN_PLACEHOLDERS.includes(m[1])) c.add(el.attrLoc('name'), 'placeholder', `unknown placeholder {${m[1]}} (known: ${KNOWN_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')})`);
    }
    // state-order
    if (key.writtenIn !== undefined && key.requiredFrom !== undefined && key.side !== 'guest' && key.writtenIn > key.requiredFrom) {
      c.add(el.attrLoc('written-in'), 'state-order', `written in state ${key.writtenIn} but required from state ${key.requiredFrom}`);
    }
  }
  // alternative-group
  const groups = new Map<string, LocatedKey[]>();
  for (const k of all) if (k.key.alternativeGroup) groups.set(`${k.key.side}:${k.key.alternativeGroup}`, [...(groups.get(`${k.key.side}:${k.key.alternativeGroup}`) ?? []), k]);
  for (const [, members] of groups) {
    if (members.length < 2) c.add(members[0].el.attrLoc('group'), 'alternative-group', `group '${members[0].key.alternativeGroup}' has only one key`);
    for (const m of members) if (!m.key.conditions?.length && m.key.when === undefined) c.add(m.el.attrLoc('group'), 'alternative-group', `key '${m.el.attr('name')}' of group '${m.key.alternativeGroup}' needs a when condition saying when it is the one written`);
  }
  // device paths
  const dev = doc.root.child('device');
  if (dev) {
    for (const [attr, need] of [['frontend-path', ['id']], ['backend-path', ['domid', 'id']]] as const) {
      const v = dev.attr(attr) ?? '';
      for (const m of v.matchAll(/\{([^}]*)\}/g)) if (!KNOWN_PLACEHOLDERS.includes(m[1])) c.add(dev.attrLoc(attr), 'placeholder', `unknown placeholder {${m[1]}}`);
      for (const p of need) if (!v.includes(`{${p}}`)) c.add(dev.attrLoc(attr), 'placeholder', `${attr} must contain {${p}}`);
    }
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

function lintTransitions(doc: SpecDocument, c: Collector): void {
  const dev = doc.root.child('device');
  const spec = doc.spec.device;
  if (!dev || !spec) return;
  for (const group of dev.childrenNamed('transitions')) {
    const seen = new Set<string>();
    for (const t of group.childrenNamed('transition')) {
      const from = stateValue(t.attr('from') ?? '');
      const to = stateValue(t.attr('to') ?? '');
      if (from === to) c.add(t.at(), 'transition', `a transition from ${from} to itself`);
      const id = `${t.attr('phase')} ${from} ${to}`;
      if (seen.has(id)) c.add(t.at(), 'transition', `${group.attr('side')} transition ${from} -> ${to} (${t.attr('phase')}) is listed twice`);
      seen.add(id);
    }
  }
  const sides = dev.childrenNamed('transitions').map((t) => t.attr('side'));
  if (new Set(sides).size !== sides.length) c.add(dev.childrenNamed('transitions')[1].at(), 'transition', 'transitions of one side are listed twice');

  const frontendEl = dev.childrenNamed('transitions').find((t) => t.attr('side') === 'frontend') ?? dev;
  const target = spec.connectedState ?? XenbusState.Connected;
  const connect = spec.frontendTransitions.filter((t) => t.phase === 'connect');
  if (!reaches(connect, XenbusState.Initialising, target)) {
    c.add(frontendEl.at(), 'connect-path', `the frontend's connect transitions do not lead from Initialising (1) to ${target}`);
  }
  for (const [i, t] of spec.frontendTransitions.entries()) {
    if (t.phase !== 'connect' || t.from !== XenbusState.Initialising) continue;
    const low = (t.peerStates ?? [XenbusState.Unknown]).filter((s) => s < spec.waitsForBackendState);
    if (low.length) {
      const el = frontendEl.childrenNamed('transition')[i] ?? frontendEl;
      c.add(el.at(), 'connect-path', `the frontend may leave Initialising while the backend is in ${low.join(', ')}, before waits-for-backend (${spec.waitsForBackendState})`);
    }
  }
  if (spec.frontendTransitions.length && !reaches(spec.frontendTransitions.filter((t) => t.phase === 'close'), target, XenbusState.Closed)) {
    c.add(frontendEl.at(), 'close-path', `the frontend's close transitions do not lead from ${target} to Closed (6)`);
  }
}

function reaches(ts: { from: number; to: number }[], from: number, to: number): boolean {
  const seen = new Set([from]);
  const queue = [from];
  while (queue.length) {
    const s = queue.shift()!;
    if (s === to) return true;
    for (const t of ts) if (t.from === s && !seen.has(t.to)) seen.add(t.to), queue.push(t.to);
  }
  return false;
}

function lintRing(doc: SpecDocument, c: Collector): void {
  const ringEl = doc.root.child('ring');
  const ring = doc.spec.ring;
  const dev = doc.spec.device;
  if (!ringEl || !ring) return;
  const want = dev?.type === 'vbd' ? 'blkif' : dev?.type === 'vif' ? 'netif' : undefined;
  if (want && ring.abi !== want) c.add(ringEl.attrLoc('abi'), 'ring-consistent', `a ${dev!.type} device uses the ${want} ring ABI, not ${ring.abi}`);
  const { device } = locatedKeys(doc);
  for (const { key, el } of device) {
    if (key.side !== 'frontend') continue;
    if (key.role === 'ring-page-order' && key.max !== undefined && key.max > ring.maxRingPageOrder) {
      c.add(el.attrLoc('max'), 'ring-consistent', `ring-page-order may reach ${key.max}, above the ring's max-ring-page-order ${ring.maxRingPageOrder}`);
    }
    if (key.role === 'queue-count' && !ring.multiQueue && key.max !== 1) {
      c.add(el.at(), 'ring-consistent', `a queue count key on a ring without multi-queue (give it max="1" or set multi-queue)`);
    }
    if (key.role === 'queue-count' && ring.maxQueues !== undefined && key.max !== undefined && key.max > ring.maxQueues) {
      c.add(el.attrLoc('max'), 'ring-consistent', `queue count may reach ${key.max}, above the ring's max-queues ${ring.maxQueues}`);
    }
    if (key.name.includes('<i>') && ring.maxRingPageOrder === 0) c.add(el.attrLoc('name'), 'ring-consistent', `per-page ring keys on a ring limited to one page (max-ring-page-order 0)`);
  }
}

function lintIdentity(doc: SpecDocument, c: Collector, isRoot: boolean): void {
  const id = doc.root.child('identity');
  if (!id) return;
  // package-files
  const files = id.childrenNamed('file');
  const inf = id.attr('inf');
  if (inf && !files.some((f) => f.attr('name')?.toLowerCase() === inf.toLowerCase() && f.attr('kind') === 'inf')) {
    c.add(id.attrLoc('inf'), 'package-files', `the package files do not list ${inf} (kind inf)`);
  }
  if (!files.some((f) => f.attr('kind') === 'cat')) c.add(id.at(), 'package-files', 'the package files list no catalog (kind cat)');
  // hardware-id
  const parentEnum = doc.spec.parent?.toUpperCase();
  const seen = new Set<string>();
  for (const h of id.childrenNamed('hardware-id')) {
    const e = h.attr('enumerator');
    const d = h.attr('device') ?? '';
    const key = `${e} ${d}`;
    if (seen.has(key)) c.add(h.at(), 'hardware-id', `hardware ID ${e}/${d} is listed twice`);
    seen.add(key);
    if (e === 'PCI') {
      if (!isRoot) c.add(h.attrLoc('enumerator'), 'hardware-id', 'only the root bus driver binds PCI devices');
      else if (!/^([0-9A-F]{4}|vendor)$/.test(d)) c.add(h.attrLoc('device'), 'hardware-id', `a PCI hardware ID names a 4-digit device id or 'vendor', not '${d}'`);
    } else {
      if (parentEnum === undefined) c.add(h.attrLoc('enumerator'), 'hardware-id', `a driver without parent cannot bind ${e} devices`);
      else if (e !== parentEnum) c.add(h.attrLoc('enumerator'), 'hardware-id', `devices of parent ${doc.spec.parent} are enumerated as ${parentEnum}, not ${e}`);
      if (!/^[A-Z][A-Z0-9]*$/.test(d) || d === 'vendor') c.add(h.attrLoc('device'), 'hardware-id', `a child hardware ID names a device class (VIF, VBD, NET, ...), not '${d}'`);
    }
  }
  // vendor-scope and vendor-range
  const vendors = id.childrenNamed('vendor');
  const pcis = id.childrenNamed('pci');
  if (!isRoot) {
    for (const v of vendors) c.add(v.at(), 'vendor-scope', 'vendor prefixes are declared on the root bus driver only (children inherit them)');
    for (const p of pcis) c.add(p.at(), 'vendor-scope', 'PCI ids are declared on the root bus driver only');
    return;
  }
  const prefixes = new Set<string>();
  for (const v of vendors) {
    const p = v.attr('prefix') ?? '';
    if (prefixes.has(p)) c.add(v.attrLoc('prefix'), 'vendor-scope', `vendor prefix ${p} is declared twice`);
    prefixes.add(p);
  }
  for (const p of pcis) {
    const vendor = parseInt(p.attr('vendor') ?? '0', 16);
    if (vendor !== XEN_PCI_VENDOR) c.add(p.attrLoc('vendor'), 'vendor-range', `the Xen platform device's PCI vendor is 5853, not ${p.attr('vendor')}`);
    const r = p.attr('range');
    if (r !== undefined) {
      const [lo, hi] = r.split('-').map((x) => parseInt(x, 16));
      if (lo > hi) c.add(p.attrLoc('range'), 'vendor-range', `range ${r} is empty (start above end)`);
      else if (!VENDOR_DEVICE_BLOCKS.some((b) => lo >= b.range[0] && hi <= b.range[1])) c.add(p.attrLoc('range'), 'vendor-range', `range ${r} is not inside one vendor block (${blocks()})`);
    }
    if (p.attr('devices') === undefined && r === undefined) c.add(p.at(), 'vendor-range', 'a <pci> entry needs devices or range');
  }
  const spec = doc.spec;
  for (const [i, v] of spec.identity.vendorPrefixes.entries()) {
    const el = vendors[i];
    if (v.deviceRange) {
      const [lo, hi] = v.deviceRange;
      const block = VENDOR_DEVICE_BLOCKS.find((b) => lo >= b.range[0] && hi <= b.range[1]);
      if (lo > hi) c.add(el.attrLoc('device-range'), 'vendor-range', `device-range ${el.attr('device-range')} is empty`);
      else if (!block) c.add(el.attrLoc('device-range'), 'vendor-range', `device-range ${el.attr('device-range')} is not inside a vendor block (${blocks()})`);
      else if (!(spec.identity.pci ?? []).some((p) => p.deviceIds.includes(lo) && p.deviceIds.includes(hi))) {
        c.add(el.attrLoc('device-range'), 'vendor-range', `device-range ${el.attr('device-range')} is not covered by a <pci> range of this spec`);
      }
    }
    if (v.deviceId !== undefined) {
      if (!v.deviceRange) c.add(el.attrLoc('device-id'), 'vendor-range', 'a device-id needs the vendor\'s device-range');
      else if (v.deviceId < v.deviceRange[0] || v.deviceId > v.deviceRange[1]) c.add(el.attrLoc('device-id'), 'vendor-range', `device-id ${el.attr('device-id')} is outside the vendor's device-range ${el.attr('device-range')}`);
    }
  }
}

const blocks = () => VENDOR_DEVICE_BLOCKS.map((b) => `${b.range[0].toString(16).toUpperCase()}-${b.range[1].toString(16).toUpperCase()} ${b.vendor}`).join(', ');

function lintLists(doc: SpecDocument, c: Collector, isRoot: boolean): void {
  const uniq = (els: XmlElement[], id: (e: XmlElement) => string, rule: string, what: (e: XmlElement) => string) => {
    const seen = new Set<string>();
    for (const e of els) {
      const k = id(e);
      if (seen.has(k)) c.add(e.at(), rule, `${what(e)} is listed twice`);
      seen.add(k);
    }
  };
  const revs = doc.root.child('revisions')?.childrenNamed('revision') ?? [];
  uniq(revs, (e) => (e.attr('id') ?? '').toUpperCase(), 'revision-unique', (e) => `revision ${e.attr('id')}`);
  uniq(doc.root.child('binds')?.childrenNamed('revision') ?? [], (e) => (e.attr('id') ?? '').toUpperCase(), 'revision-unique', (e) => `bound revision ${e.attr('id')}`);
  for (const r of revs) uniq(r.childrenNamed('interface'), (e) => `${e.attr('provider') ?? ''}:${e.attr('name')}`, 'interface-unique', (e) => `interface ${e.attr('name')}`);
  uniq(doc.root.child('consumes')?.childrenNamed('interface') ?? [], (e) => `${e.attr('provider') ?? ''}:${e.attr('name')}`, 'interface-unique', (e) => `interface ${e.attr('name')}`);
  const unplug = doc.root.child('unplug');
  if (unplug) {
    uniq(unplug.childrenNamed('bit'), (e) => e.attr('bit') ?? '', 'unplug-bit', (e) => `mask bit ${e.attr('bit')}`);
    const proto = unplug.child('protocol');
    if (proto && !isRoot) c.add(proto.at(), 'unplug-bit', 'the unplug port protocol is performed by the root bus driver only');
  }
  uniq(doc.root.child('registry')?.childrenNamed('param') ?? [], (e) => `${(e.attr('key') ?? '').toLowerCase()}\\${(e.attr('value') ?? '').toLowerCase()}`, 'registry-unique', (e) => `registry value ${e.attr('key')}\\${e.attr('value')}`);
}

/** Rules across the set: parents, revisions, interfaces, build order. */
function lintSet(docs: SpecDocument[], broken: ReadonlySet<string>, c: Collector): void {
  const byName = new Map<string, SpecDocument>();
  for (const d of docs) {
    const first = byName.get(d.spec.name);
    if (first) c.add(d.root.attrLoc('name'), 'duplicate-driver', `driver ${d.spec.name} is already described in ${first.file}`);
    else byName.set(d.spec.name, d);
  }
  for (const d of docs) {
    const spec = d.spec;
    const bindsEl = d.root.child('binds');
    if (!spec.parent) {
      if (bindsEl) c.add(bindsEl.at(), 'binds-parent', 'a driver without parent binds no revisions');
      const cons = d.root.child('consumes');
      if (cons) c.add(cons.at(), 'binds-parent', 'a driver without parent consumes no interfaces');
    } else {
      const parent = byName.get(spec.parent);
      if (!bindsEl) c.add(d.root.at(), 'binds-parent', `a child of ${spec.parent} must bind at least one of its revisions (<binds>)`);
      if (!parent) {
        if (!broken.has(spec.parent)) c.add(d.root.attrLoc('parent'), 'parent-exists', `parent ${spec.parent} has no spec in this set`);
      } else if (!parent.spec.revisions.length) {
        c.add(d.root.attrLoc('parent'), 'parent-is-bus', `parent ${spec.parent} advertises no revisions, so nothing can bind to it`);
      } else {
        const bound = bindsEl?.childrenNamed('revision') ?? [];
        for (const [i, revId] of spec.bindsRevisions.entries()) {
          const rev = parent.spec.revisions.find((r) => r.id === revId);
          const el = bound[i];
          if (!rev) {
            c.add(el.attrLoc('id'), 'revision-exists', `revision ${revId} is not advertised by ${spec.parent} (it advertises ${parent.spec.revisions.map((r) => r.id).join(', ')})`);
            continue;
          }
          const consumesEls = d.root.child('consumes')?.childrenNamed('interface') ?? [];
          for (const [j, want] of spec.consumes.entries()) {
            const has = rev.interfaces.find((x) => x.name === want.name && (want.provider === undefined || x.provider === undefined || x.provider === want.provider));
            const at = consumesEls[j].at();
            if (!has) c.add(at, 'interface-version', `${want.name} is not provided by ${spec.parent} revision ${revId}`);
            else if (has.version !== want.version) c.add(at, 'interface-version', `${want.name} version ${want.version} does not match version ${has.version} of ${spec.parent} revision ${revId}`);
          }
        }
      }
    }
  }
  // build-depends and build-cycle
  for (const d of docs) {
    const el = d.root.child('build');
    if (!el) continue;
    for (const dep of d.spec.build.dependsOn) {
      if (!byName.has(dep) && !broken.has(dep)) c.add(el.attrLoc('depends-on'), 'build-depends', `depends on ${dep}, which has no spec`);
      if (dep === d.spec.name) c.add(el.attrLoc('depends-on'), 'build-cycle', `${dep} depends on itself`);
    }
    if (d.spec.parent && byName.has(d.spec.parent) && !dependsTransitively(d.spec.name, d.spec.parent, byName)) {
      c.add(el.at(), 'build-depends', `${d.spec.name} must be built after its parent ${d.spec.parent} (add it to depends-on)`);
    }
  }
  const cycle = findCycle(docs);
  if (cycle) {
    const d = byName.get(cycle[0])!;
    c.add(d.root.child('build')!.attrLoc('depends-on'), 'build-cycle', `build dependencies form a cycle: ${cycle.join(' -> ')}`);
  }
}

function dependsTransitively(from: string, to: string, byName: Map<string, SpecDocument>): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length) {
    const n = stack.pop()!;
    for (const dep of byName.get(n)?.spec.build.dependsOn ?? []) {
      if (dep === to) return true;
      if (!seen.has(dep)) seen.add(dep), stack.push(dep);
    }
  }
  return false;
}

function findCycle(docs: SpecDocument[]): string[] | undefined {
  const deps = new Map(docs.map((d) => [d.spec.name as string, d.spec.build.dependsOn.filter((x) => x !== d.spec.name) as string[]]));
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    state.set(n, 'open');
    path.push(n);
    for (const m of deps.get(n) ?? []) {
      const found = deps.has(m) ? visit(m) : undefined;
      if (found) return found;
    }
    path.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of [...deps.keys()].sort()) {
    const found = visit(n);
    if (found) return found;
  }
  return undefined;
}

/**
 * Lint shape-valid documents. `broken` names drivers whose file failed earlier checks, so that their
 * absence does not cause follow-on complaints (a child of a broken parent is not "orphaned").
 */
export function lintSpecs(docs: SpecDocument[], broken: ReadonlySet<string> = new Set()): Problem[] {
  const c = new Collector();
  for (const d of docs) {
    const base = d.file.replace(/\\/g, '/').split('/').pop()!.replace(/\.xml$/i, '');
    if (base !== d.spec.name) c.add(d.root.attrLoc('name'), 'file-name', `the spec of ${d.spec.name} must be in ${d.spec.name}.xml, not ${base}.xml`);
    const isRoot = d.spec.parent === undefined;
    lintStates(d, c);
    lintKeys(d, c);
    lintTransitions(d, c);
    lintRing(d, c);
    lintIdentity(d, c, isRoot);
    lintLists(d, c, isRoot);
  }
  lintSet(docs, broken, c);
  return c.problems;
}

