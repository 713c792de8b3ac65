// Rules beyond the XSD shape: consistency inside one spec and across the set. Each rule has a stable
// id (the `[rule]` of its messages) and points at the element or attribute at fault. The rules on
// keys are in lint-keys.ts, on the identity in lint-identity.ts, across the set in lint-set.ts.
import type { Problem } from '../model/errors';
import { XenbusState } from '../model/xenbus';
import type { XmlElement } from '../xml/index';
import { stateValue } from './build';
import type { SpecDocument } from './document';
import { Collector } from './lint-collector';
import { lintIdentity } from './lint-identity';
import { lintKeys, locatedKeys } from './lint-keys';
import { lintSet } from './lint-set';

export { VENDOR_DEVICE_BLOCKS, XEN_PCI_VENDOR } from './lint-identity';

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

