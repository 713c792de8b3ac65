// From a shape-valid <driver> element to a DriverSpec. The shape validator has already checked every
// attribute's type, so conversions here cannot fail; only the expression attributes (when,
// constraint) are parsed here and may add problems (rule `expression`).
import type { Problem } from '../model/errors';
import type {
  BuildSpec, DeviceProtocol, DeviceType, DriverName, DriverSpec, HardwareIdTemplate, InterfaceRef, KeyRole, KeySide,
  KeySpec, KeyType, PackageFile, PciIdRange, RegistryParam, RingSpec, StateTransition, UnplugSpec, VendorPrefix,
} from '../model/spec';
import { XenbusState } from '../model/xenbus';
import { boolValue, hexValue, intValue, splitList, type XmlElement } from '../xml/index';
import { parseCondition, parseConstraint } from './expressions';

/** `{i}` placeholders of the XML become the model's `<i>`. */
const modelName = (xmlName: string): string => xmlName.replace(/\{([A-Za-z]+)\}/g, '<$1>');

/** A XenbusState attribute (number or name) as a number; NaN for an unknown name (the shape rejects those). */
export function stateValue(text: string): number {
  const t = text.trim();
  if (/^[0-9]+$/.test(t)) return Number(t);
  return (XenbusState as Record<string, number>)[t] ?? NaN;
}

const optBool = (el: XmlElement, name: string): boolean | undefined => (el.attr(name) === undefined ? undefined : boolValue(el.attr(name)!));
const optInt = (el: XmlElement, name: string): number | undefined => (el.attr(name) === undefined ? undefined : intValue(el.attr(name)!));
const optState = (el: XmlElement, name: string): number | undefined => (el.attr(name) === undefined ? undefined : stateValue(el.attr(name)!));
const list = (el: XmlElement | undefined, name: string): string[] => (el?.attr(name) === undefined ? [] : splitList(el.attr(name)!));
const range = (text: string): [number, number] => {
  const [a, b] = text.split('-');
  return [hexValue(a), hexValue(b)];
};

function interfaces(el: XmlElement | undefined): InterfaceRef[] {
  return (el?.childrenNamed('interface') ?? []).map((i) => {
    const ref: InterfaceRef = { name: i.attr('name')!, version: intValue(i.attr('version')!) };
    if (i.attr('provider') !== undefined) ref.provider = i.attr('provider');
    return ref;
  });
}

/** The XenbusStates from `from` to Connected (4): where a key with requiredFrom must be present. */
function requiredStatesFrom(from: number): number[] {
  const out: number[] = [];
  for (let s = from; s <= XenbusState.Connected; s++) out.push(s);
  return out;
}

function key(el: XmlElement, side: KeySide, problems: Problem[]): KeySpec {
  const k: KeySpec = { name: modelName(el.attr('name')!), side, type: el.attr('type') as KeyType, source: el.at() };
  if (el.attr('min') !== undefined) k.min = optInt(el, 'min');
  if (el.attr('max') !== undefined) k.max = optInt(el, 'max');
  if (el.attr('enum-values') !== undefined) k.enumValues = list(el, 'enum-values');
  if (el.attr('pattern') !== undefined) k.pattern = el.attr('pattern');
  if (el.attr('value') !== undefined) k.value = el.attr('value');
  if (el.attr('default') !== undefined) k.default = el.attr('default');
  if (el.attr('role') !== undefined) k.role = el.attr('role') as KeyRole;
  if (el.attr('group') !== undefined) k.alternativeGroup = el.attr('group');
  if (el.attr('read') !== undefined) k.read = optBool(el, 'read');
  if (el.attr('per-queue') !== undefined) k.perQueue = optBool(el, 'per-queue');
  if (el.attr('description') !== undefined) k.description = el.attr('description');
  if (el.attr('written-in') !== undefined) k.writtenIn = optState(el, 'written-in');
  if (el.attr('source') !== undefined) k.cites = el.attr('source');
  if (el.attr('unless-registry') !== undefined) k.unlessRegistry = el.attr('unless-registry');
  const from = side === 'guest' ? (optBool(el, 'required') ? XenbusState.Initialising : undefined) : optState(el, 'required-from');
  if (from !== undefined) {
    k.requiredFrom = from;
    k.requiredStates = requiredStatesFrom(from);
  }
  const when = el.attr('when');
  if (when !== undefined) {
    k.when = when;
    const p = parseCondition(when);
    if (p.ok) k.conditions = p.value.map((c) => ({ ...c, ref: { ...c.ref, name: modelName(c.ref.name) } }));
    else problems.push({ location: el.attrLoc('when'), message: `when: ${p.error}`, rule: 'expression' });
  }
  const constraint = el.attr('constraint');
  if (constraint !== undefined) {
    k.constraint = constraint;
    const p = parseConstraint(constraint);
    if (p.ok) k.constraints = p.value.map((c) => (c.ref ? { ...c, ref: { ...c.ref, name: modelName(c.ref.name) } } : c));
    else problems.push({ location: el.attrLoc('constraint'), message: `constraint: ${p.error}`, rule: 'expression' });
  }
  return k;
}

function transitions(el: XmlElement | undefined): StateTransition[] {
  return (el?.childrenNamed('transition') ?? []).map((t) => {
    const tr: StateTransition = { from: stateValue(t.attr('from')!), to: stateValue(t.attr('to')!), phase: t.attr('phase')! };
    if (t.attr('peer-states') !== undefined) tr.peerStates = list(t, 'peer-states').map(stateValue);
    return tr;
  });
}

function device(el: XmlElement, problems: Problem[]): DeviceProtocol {
  const bySide = (side: string) => el.childrenNamed('transitions').find((t) => t.attr('side') === side);
  const d: DeviceProtocol = {
    type: el.attr('type') as DeviceType,
    keys: el.childrenNamed('key').map((k) => key(k, k.attr('side') as KeySide, problems)),
    frontendTransitions: transitions(bySide('frontend')),
    backendTransitions: transitions(bySide('backend')),
    waitsForBackendState: stateValue(el.attr('waits-for-backend')!),
    frontendPath: modelName(el.attr('frontend-path')!),
    backendPath: modelName(el.attr('backend-path')!),
  };
  if (el.attr('connected-state') !== undefined) d.connectedState = optState(el, 'connected-state');
  d.stateInConnectTransaction = el.attr('state-in-connect-transaction') === 'true';
  d.keysOnClose = el.attr('keys-on-close') === 'removed' ? 'removed' : 'kept';
  if (el.attr('connect-transaction-retries') !== undefined) d.connectTransactionRetries = optInt(el, 'connect-transaction-retries');
  return d;
}

/** The platform device's hardware ID for a PCI template; child IDs use the parent's enumerator. */
function hardwareIdText(t: HardwareIdTemplate): string {
  if (t.enumerator === 'PCI') {
    return t.device === 'vendor' ? 'PCI\\VEN_5853&DEV_<device>&SUBSYS_<device>5853&REV_01' : `PCI\\VEN_5853&DEV_${t.device}`;
  }
  return `${t.enumerator}\\VEN_<prefix><device>&DEV_${t.device}${t.withRevision ? '&REV_<rev>' : ''}`;
}

function identity(el: XmlElement): DriverSpec['identity'] {
  const parts: HardwareIdTemplate[] = el.childrenNamed('hardware-id').map((h) => ({
    enumerator: h.attr('enumerator')!,
    device: h.attr('device')!,
    withRevision: h.attr('enumerator') !== 'PCI',
  }));
  const vendors: VendorPrefix[] = el.childrenNamed('vendor').map((v) => {
    const vp: VendorPrefix = { prefix: v.attr('prefix')!, vendor: v.attr('name')! };
    if (v.attr('device-range') !== undefined) vp.deviceRange = range(v.attr('device-range')!);
    if (v.attr('device-id') !== undefined) vp.deviceId = hexValue(v.attr('device-id')!);
    return vp;
  });
  const pci: PciIdRange[] = el.childrenNamed('pci').map((p) => {
    const ids = list(p, 'devices').map(hexValue);
    if (p.attr('range') !== undefined) {
      const [lo, hi] = range(p.attr('range')!);
      for (let d = lo; d <= hi; d++) ids.push(d);
    }
    return { vendorId: hexValue(p.attr('vendor')!), deviceIds: ids, description: p.attr('description')! };
  });
  const id: DriverSpec['identity'] = {
    services: el.childrenNamed('service').map((s) => s.attr('name')!),
    inf: el.attr('inf')!,
    deviceClass: el.attr('class')!,
    files: el.childrenNamed('file').map((f): PackageFile => ({ name: f.attr('name')!, kind: f.attr('kind') as PackageFile['kind'], optional: optBool(f, 'optional') ?? false })),
    vendorPrefixes: vendors,
    hardwareIds: parts.map(hardwareIdText),
    hardwareIdParts: parts,
  };
  if (el.attr('class-guid') !== undefined) id.classGuid = el.attr('class-guid');
  if (pci.length) id.pci = pci;
  return id;
}

function ring(el: XmlElement): RingSpec {
  const r: RingSpec = {
    abi: el.attr('abi') as RingSpec['abi'],
    maxRingPageOrder: intValue(el.attr('max-ring-page-order')!),
    multiQueue: boolValue(el.attr('multi-queue')!),
    persistentGrants: boolValue(el.attr('persistent-grants')!),
  };
  if (el.attr('max-queues') !== undefined) r.maxQueues = optInt(el, 'max-queues');
  if (el.attr('indirect-segments') !== undefined) r.indirectSegments = optInt(el, 'indirect-segments');
  if (el.attr('split-event-channels') !== undefined) r.splitEventChannels = optBool(el, 'split-event-channels');
  if (el.attr('segments-per-request') !== undefined) r.segmentsPerRequest = optInt(el, 'segments-per-request');
  if (el.attr('control-ring') !== undefined) r.controlRing = optBool(el, 'control-ring');
  return r;
}

function unplug(el: XmlElement): UnplugSpec {
  const u: UnplugSpec = { maskBits: el.childrenNamed('bit').map((b) => ({ bit: intValue(b.attr('bit')!), name: b.attr('name')! })) };
  if (el.attr('requests') !== undefined) u.requests = list(el, 'requests');
  const p = el.child('protocol');
  if (p) {
    u.protocol = {
      port: hexValue(p.attr('port')!),
      magic: hexValue(p.attr('magic')!),
      blacklistedMagic: hexValue(p.attr('blacklisted-magic')!),
      versionPort: hexValue(p.attr('version-port')!),
    };
  }
  return u;
}

function build(el: XmlElement): BuildSpec {
  const b: BuildSpec = {
    entry: el.attr('entry')!,
    configurations: list(el, 'configurations'),
    platforms: list(el, 'platforms'),
    signModes: list(el, 'sign-modes'),
    dependsOn: list(el, 'depends-on') as DriverName[],
  };
  const solutions = el.childrenNamed('solution').map((s) => s.attr('path')!);
  if (solutions.length) b.solutions = solutions;
  return b;
}

/** Build the (unresolved: vendor prefixes of children come from their bus later) spec of one document. */
export function buildSpec(root: XmlElement): { spec: DriverSpec; problems: Problem[] } {
  const problems: Problem[] = [];
  const dev = root.child('device');
  const spec: DriverSpec = {
    source: root.at(),
    name: root.attr('name') as DriverName,
    description: root.child('description')!.trimmedText.replace(/\s+/g, ' '),
    identity: identity(root.child('identity')!),
    revisions: (root.child('revisions')?.childrenNamed('revision') ?? []).map((r) => ({ id: r.attr('id')!.toUpperCase(), interfaces: interfaces(r) })),
    bindsRevisions: (root.child('binds')?.childrenNamed('revision') ?? []).map((r) => r.attr('id')!.toUpperCase()),
    consumes: interfaces(root.child('consumes')),
    guestKeys: (root.child('guest')?.childrenNamed('key') ?? []).map((k) => key(k, 'guest', problems)),
    registry: (root.child('registry')?.childrenNamed('param') ?? []).map((p): RegistryParam => {
      const r: RegistryParam = { key: p.attr('key')!, value: p.attr('value')!, type: p.attr('type') as RegistryParam['type'], effect: p.trimmedText.replace(/\s+/g, ' ') };
      if (p.attr('default') !== undefined) r.default = p.attr('default');
      return r;
    }),
    build: build(root.child('build')!),
  };
  if (root.attr('parent') !== undefined) spec.parent = root.attr('parent') as DriverName;
  if (dev) spec.device = device(dev, problems);
  const r = root.child('ring');
  if (r) spec.ring = ring(r);
  const u = root.child('unplug');
  if (u) spec.unplug = unplug(u);
  return { spec, problems };
}
