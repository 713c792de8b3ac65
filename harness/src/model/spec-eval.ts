// Pure helpers that interpret driver specs, shared by every reader of a spec: the simulator's
// frontends (what to write), the checks (is this key valid, is this transition allowed) and the
// package verifier (which hardware IDs a driver binds). They live in the model layer because those
// readers may import only model/.
import type { Condition, Constraint, DeviceProtocol, DriverSpec, KeyRef, KeySide, KeySpec, StateTransition, VendorPrefix } from './spec';

/** The spec of the key `name` (a template such as `ring-ref<i>`) on `side`, if the spec lists it. */
export function findKey(keys: readonly KeySpec[], side: KeySide, name: string): KeySpec | undefined {
  return keys.find((k) => k.side === side && k.name === name);
}

const placeholderRe: Record<string, string> = {
  i: '(0|[1-9][0-9]*)',
  q: '(0|[1-9][0-9]*)',
  N: '(0|[1-9][0-9]*)',
  n: '(0|[1-9][0-9]*)',
  id: '([^/]+)',
};
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A regular expression matching the paths (relative to the side's directory) a key spec covers:
 * placeholders become index or component patterns, and a per-queue key also matches `queue-<q>/<name>`.
 */
export function keyNamePattern(key: Pick<KeySpec, 'name' | 'perQueue'>): RegExp {
  const body = key.name
    .split(/(<[A-Za-z]+>)/)
    .map((part) => {
      const m = /^<([A-Za-z]+)>$/.exec(part);
      return m ? (placeholderRe[m[1]] ?? '([^/]+)') : escapeRe(part);
    })
    .join('');
  return new RegExp(`^${key.perQueue ? '(?:queue-(?:0|[1-9][0-9]*)/)?' : ''}${body}$`);
}

/** The spec of the key at relative `path` on `side` (placeholders and queue directories resolved). */
export function matchKey(keys: readonly KeySpec[], side: KeySide, path: string): KeySpec | undefined {
  return keys.find((k) => k.side === side && keyNamePattern(k).test(path));
}

const decimal = /^(0|-?[1-9][0-9]*)$/;
const udecimal = /^(0|[1-9][0-9]*)$/;
const macRe = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/**
 * Why `value` is not a valid value of `key` (type, range, enum, pattern, fixed value), or undefined.
 * Cross-key constraints are `constraintProblems`.
 */
export function keyValueProblem(key: KeySpec, value: string): string | undefined {
  switch (key.type) {
    case 'int':
    case 'uint':
    case 'state': {
      const re = key.type === 'int' ? decimal : udecimal;
      if (!re.test(value)) return `'${value}' is not ${key.type === 'int' ? 'an integer' : 'an unsigned decimal integer'}`;
      const n = Number(value);
      const min = key.type === 'state' ? Math.max(0, key.min ?? 0) : key.min;
      const max = key.type === 'state' ? Math.min(8, key.max ?? 8) : key.max;
      if (min !== undefined && n < min) return `${n} is below the minimum ${min}`;
      if (max !== undefined && n > max) return `${n} is above the maximum ${max}`;
      break;
    }
    case 'bool':
      if (value !== '0' && value !== '1') return `'${value}' is not 0 or 1`;
      break;
    case 'enum':
      if (!(key.enumValues ?? []).includes(value)) return `'${value}' is not one of ${(key.enumValues ?? []).join(', ')}`;
      break;
    case 'mac':
      if (!macRe.test(value)) return `'${value}' is not a MAC address (xx:xx:xx:xx:xx:xx)`;
      break;
    case 'string':
      break;
  }
  if (key.pattern !== undefined && !new RegExp(`^(?:${key.pattern})$`).test(value)) return `'${value}' does not match ${key.pattern}`;
  // A registry toggle (unless-registry) makes the driver write 0 instead of its fixed value.
  if (key.value !== undefined && value !== key.value && !(key.unlessRegistry !== undefined && value === '0')) return `'${value}' is not the value the driver writes ('${key.value}')`;
  return undefined;
}

/** Reads a key's current value (undefined when absent). */
export type KeyReader = (ref: KeyRef) => string | undefined;

/** The value of a referenced key, or its spec's default when absent. */
function valueOrDefault(keys: readonly KeySpec[], ref: KeyRef, read: KeyReader): string | undefined {
  return read(ref) ?? findKey(keys, ref.side, ref.name)?.default;
}

function compare(a: string | number, op: string, b: string | number): boolean {
  const numeric = typeof b === 'number' || (udecimal.test(String(a)) && udecimal.test(String(b)));
  const x = numeric ? Number(a) : String(a);
  const y = numeric ? Number(b) : String(b);
  switch (op) {
    case '=':
      return x === y;
    case '!=':
      return x !== y;
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
  }
  return false;
}

/** Whether every term of a parsed `when` holds (no terms: true). */
export function conditionHolds(conditions: readonly Condition[] | undefined, keys: readonly KeySpec[], read: KeyReader): boolean {
  for (const c of conditions ?? []) {
    const v = valueOrDefault(keys, c.ref, read);
    let holds: boolean;
    if (c.op === undefined) holds = v !== undefined && v !== '0' && v !== '';
    else holds = v !== undefined && compare(v, c.op, c.value ?? '');
    if (c.negate) holds = !holds;
    if (!holds) return false;
  }
  return true;
}

/** The constraints of `key` that `value` breaks, as messages. */
export function constraintProblems(key: KeySpec, value: string, keys: readonly KeySpec[], read: KeyReader): string[] {
  const out: string[] = [];
  for (const c of key.constraints ?? ([] as Constraint[])) {
    const other = c.ref ? valueOrDefault(keys, c.ref, read) : c.value;
    if (other === undefined) continue; // nothing to compare with: the reference is absent and has no default
    if (!compare(Number(value), c.op, Number(other))) {
      out.push(`${key.name}=${value} breaks '${c.text}'${c.ref ? ` (${c.ref.side}:${c.ref.name}=${other})` : ''}`);
    }
  }
  return out;
}

/** The transition spec allowing `from` -> `to` while the other end is in `peerState` (if known). */
export function findTransition(
  transitions: readonly StateTransition[],
  from: number,
  to: number,
  peerState?: number,
): StateTransition | undefined {
  return transitions.find(
    (t) => t.from === from && t.to === to && (peerState === undefined || t.peerStates === undefined || t.peerStates.includes(peerState)),
  );
}

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');

/**
 * Every concrete hardware ID a driver binds: each template filled for each vendor prefix, each
 * platform device id (0001, 0002 and the vendor's own) and each revision in `bindsRevisions`.
 * The platform device's vendor template (`PCI\\VEN_5853&DEV_<device>...`) is filled once per vendor
 * that has its own device id; fixed PCI IDs are kept as they are.
 */
export function expandHardwareIds(spec: Pick<DriverSpec, 'identity' | 'bindsRevisions'>, vendors?: readonly VendorPrefix[]): string[] {
  const out: string[] = [];
  const revs = spec.bindsRevisions.length ? spec.bindsRevisions : [''];
  for (const template of spec.identity.hardwareIds) {
    if (!template.includes('<prefix>')) {
      // The platform device: fixed ids as they are, the vendor template once per vendor device id.
      if (!template.includes('<device>')) out.push(template);
      else for (const v of vendors ?? spec.identity.vendorPrefixes) if (v.deviceId !== undefined) out.push(template.replace(/<device>/g, hex4(v.deviceId)));
      continue;
    }
    for (const v of vendors ?? spec.identity.vendorPrefixes) {
      const devices = [0x0001, 0x0002, ...(v.deviceId !== undefined ? [v.deviceId] : [])];
      for (const d of devices) {
        for (const r of revs) out.push(template.replace('<prefix>', v.prefix).replace('<device>', hex4(d)).replace('<rev>', r));
      }
    }
  }
  return [...new Set(out)];
}

/** A concrete hardware ID understood against a driver's templates. */
export type HardwareIdMatch =
  | { ok: true; template: string; prefix?: string; device?: number; revision?: string }
  | { ok: false; reason: string };

/**
 * Whether `id` (as an INF's models section or a PnP query lists it) is one the driver binds:
 * it must fit one of the templates, with a known vendor prefix, a platform device id that is 0001,
 * 0002 or inside that vendor's device range, and a revision the driver binds. The reason says
 * which part is wrong (the package verifier reports it).
 */
export function matchHardwareId(spec: Pick<DriverSpec, 'identity' | 'bindsRevisions'>, id: string, vendors?: readonly VendorPrefix[]): HardwareIdMatch {
  const known = vendors ?? spec.identity.vendorPrefixes;
  let closest: string | undefined;
  for (const template of spec.identity.hardwareIds) {
    const groups: Record<string, string> = { '<prefix>': '[A-Z]{2}', '<device>': '[0-9A-Fa-f]{4}', '<rev>': '[0-9A-Fa-f]{8}' };
    const seen = new Set<string>();
    const body = template
      .split(/(<prefix>|<device>|<rev>)/)
      .map((p) => {
        if (!groups[p]) return escapeRe(p);
        const name = p.slice(1, -1);
        if (seen.has(name)) return `\\k<${name}>`; // a placeholder used twice must repeat the same value
        seen.add(name);
        return `(?<${name}>${groups[p]})`;
      })
      .join('');
    const re = new RegExp(`^${body}$`, 'i');
    const m = re.exec(id);
    if (!m) continue;
    const g = m.groups ?? {};
    const device = g.device !== undefined ? parseInt(g.device, 16) : undefined;
    let vendor: VendorPrefix | undefined;
    if (g.prefix !== undefined) {
      vendor = known.find((v) => v.prefix === g.prefix.toUpperCase());
      if (!vendor) {
        closest = `vendor prefix ${g.prefix} is not one of ${known.map((v) => v.prefix).join(', ')}`;
        continue;
      }
    }
    if (device !== undefined && device !== 0x0001 && device !== 0x0002) {
      const ranges = vendor ? [vendor] : known;
      if (!ranges.some((v) => v.deviceRange && device >= v.deviceRange[0] && device <= v.deviceRange[1])) {
        closest = `device id ${hex4(device)} is not 0001, 0002 or inside ${vendor ? `${vendor.vendor}'s device range` : 'a vendor device range'}${vendor?.deviceRange ? ` ${hex4(vendor.deviceRange[0])}-${hex4(vendor.deviceRange[1])}` : ''}`;
        continue;
      }
    }
    if (g.rev !== undefined && !spec.bindsRevisions.includes(g.rev.toUpperCase())) {
      closest = `revision ${g.rev.toUpperCase()} is not one the driver binds (${spec.bindsRevisions.join(', ')})`;
      continue;
    }
    return { ok: true, template, prefix: g.prefix?.toUpperCase(), device, revision: g.rev?.toUpperCase() };
  }
  return { ok: false, reason: closest ?? `does not have the form of ${spec.identity.hardwareIds.join(' or ')}` };
}

/** One concrete key a frontend writes while connecting. */
export interface PlannedKey {
  /** Path relative to the frontend directory (`queue-1/ring-ref0`). */
  path: string;
  key: KeySpec;
  /** The value when the spec fixes it or the plan decides it (ring-page-order, queue count); else the frontend supplies it (grant refs, ports, ids). */
  value?: string;
  queue?: number;
  page?: number;
}

export interface FrontendPlan {
  ringPageOrder: number;
  numQueues: number;
  keys: PlannedKey[];
}

/**
 * What a frontend following `spec` writes before leaving Initialising, given the backend's keys
 * (`read`) and the guest's own limits (registry caps, vCPUs): the ring-page-order is capped by the
 * driver's maximum, the guest limit and the backend's max-ring-page-order; the queue count by the
 * driver's maximum, the guest limit and the backend's multi-queue-max-queues; then every frontend key
 * with `writtenIn` whose condition holds, expanded per queue (`queue-<q>/` when more than one) and per
 * ring page (`<i>`).
 */
export function planFrontendKeys(
  spec: Pick<DriverSpec, 'device' | 'ring'>,
  read: KeyReader,
  limits: { ringPageOrder?: number; queues?: number } = {},
): FrontendPlan {
  const dev = spec.device;
  if (!dev) return { ringPageOrder: 0, numQueues: 1, keys: [] };
  const keys = dev.keys;
  const ring = spec.ring;
  const num = (v: string | undefined) => (v !== undefined && udecimal.test(v) ? Number(v) : undefined);
  const orderKey = keys.find((k) => k.side === 'frontend' && k.role === 'ring-page-order');
  let ringPageOrder = 0;
  if (orderKey && conditionHolds(orderKey.conditions, keys, read)) {
    const backendMax = orderKey.constraints?.find((c) => c.ref && c.op === '<=');
    const caps = [ring?.maxRingPageOrder ?? 0, orderKey.max, limits.ringPageOrder, backendMax?.ref ? num(valueOrDefault(keys, backendMax.ref, read)) : undefined];
    ringPageOrder = Math.max(0, Math.min(...caps.filter((x): x is number => x !== undefined)));
  }
  const queueKey = keys.find((k) => k.side === 'frontend' && k.role === 'queue-count');
  let numQueues = 1;
  if (ring?.multiQueue && queueKey) {
    const backendMax = queueKey.constraints?.find((c) => c.ref && c.op === '<=');
    const caps = [ring.maxQueues, queueKey.max, limits.queues, backendMax?.ref ? num(valueOrDefault(keys, backendMax.ref, read)) : undefined];
    numQueues = Math.max(1, Math.min(...caps.filter((x): x is number => x !== undefined)));
  }
  const planned = (ref: KeyRef): string | undefined => {
    if (ref.side !== 'frontend') return read(ref);
    const k = findKey(keys, 'frontend', ref.name);
    if (k?.role === 'ring-page-order') return orderKey && conditionHolds(orderKey.conditions, keys, read) ? String(ringPageOrder) : undefined;
    if (k?.role === 'queue-count') return queueKey ? String(numQueues) : undefined;
    return read(ref);
  };
  const out: PlannedKey[] = [];
  for (const k of keys) {
    if (k.side !== 'frontend' || k.read || k.writtenIn === undefined) continue;
    if (!conditionHolds(k.conditions, keys, planned)) continue;
    const value = k.value ?? (k.role === 'ring-page-order' ? String(ringPageOrder) : k.role === 'queue-count' ? String(numQueues) : undefined);
    const queues = k.perQueue ? Array.from({ length: numQueues }, (_, q) => q) : [undefined];
    const pages = k.name.includes('<i>') ? Array.from({ length: 1 << ringPageOrder }, (_, i) => i) : [undefined];
    for (const q of queues) {
      for (const i of pages) {
        const name = i === undefined ? k.name : k.name.replace('<i>', String(i));
        const path = q !== undefined && numQueues > 1 ? `queue-${q}/${name}` : name;
        const p: PlannedKey = { path, key: k };
        if (value !== undefined) p.value = value;
        if (q !== undefined) p.queue = q;
        if (i !== undefined) p.page = i;
        out.push(p);
      }
    }
  }
  return { ringPageOrder, numQueues, keys: out };
}

/** A required key that is missing or invalid. */
export interface KeyProblem {
  key: KeySpec;
  /** Concrete path relative to the side's directory. */
  path: string;
  problem: string;
}

/**
 * Judge the keys `side` must carry in `state`: every key whose requiredStates include it and whose
 * condition holds, expanded per queue (the frontend's multi-queue-num-queues) and per ring page (its
 * ring-page-order), must be present with a valid value that meets its constraints. `read` resolves
 * `{side, name}` with concrete names (`queue-1/ring-ref0`). Keys with other placeholders (`<N>`,
 * `<id>`) name families, not single keys, and are not judged here.
 */
export function requiredKeyProblems(dev: Pick<DeviceProtocol, 'keys'>, side: KeySide, state: number, read: KeyReader): KeyProblem[] {
  const keys = dev.keys;
  const num = (v: string | undefined) => (v !== undefined && udecimal.test(v) ? Number(v) : undefined);
  const queueKey = keys.find((k) => k.side === 'frontend' && k.role === 'queue-count');
  const orderKey = keys.find((k) => k.side === 'frontend' && k.role === 'ring-page-order');
  const numQueues = (queueKey && num(read({ side: 'frontend', name: queueKey.name }))) || 1;
  const order = (orderKey && num(read({ side: 'frontend', name: orderKey.name }))) ?? 0;
  const out: KeyProblem[] = [];
  for (const k of keys) {
    if (k.side !== side) continue;
    if (!k.requiredStates?.includes(state)) continue;
    if (!conditionHolds(k.conditions, keys, read)) continue;
    if (/<(?!i>)[A-Za-z]+>/.test(k.name)) continue;
    const pages = k.name.includes('<i>') ? Array.from({ length: 1 << Math.min(order, 8) }, (_, i) => i) : [undefined];
    const queues = k.perQueue && numQueues > 1 ? Array.from({ length: numQueues }, (_, q) => q) : [undefined];
    for (const q of queues) {
      for (const i of pages) {
        const name = i === undefined ? k.name : k.name.replace('<i>', String(i));
        const path = q === undefined ? name : `queue-${q}/${name}`;
        const v = read({ side, name: path });
        if (v === undefined) {
          out.push({ key: k, path, problem: `${path} is missing` });
          continue;
        }
        const p = keyValueProblem(k, v) ?? constraintProblems(k, v, keys, read)[0];
        if (p) out.push({ key: k, path, problem: `${path}: ${p}` });
      }
    }
  }
  return out;
}
