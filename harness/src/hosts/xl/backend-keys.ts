// The keys a device's directories hold on a real host, who writes each of them, and the comparison
// with another host's (the simulator's) key set for the same device. Used to keep the simulator's
// blkback/netback faithful to Linux's (fixture captured from the lab: harness/test/fixtures/lab/).
import type { XenstoreView } from '../../model/host';

/** Every key below `root` (relative paths), values included; directories without a value are skipped. */
export async function captureTree(xs: XenstoreView, root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    const path = rel ? `${root}/${rel}` : root;
    const [value, children] = await Promise.all([rel ? xs.read(path) : Promise.resolve(null), xs.directory(path)]);
    if (value !== null && value !== '') out[rel] = value;
    else if (value === '' && children.length === 0) out[rel] = '';
    await Promise.all(children.map((c) => walk(rel ? `${rel}/${c}` : c)));
  };
  await walk('');
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export type KeyWriter = 'driver' | 'toolstack' | 'hotplug-script';

/** Who writes a backend key on a Linux dom0 with libxl: the kernel backend driver (what the
 *  simulator must reproduce), libxl when it creates the device, or the hotplug script (block, vif-bridge). */
export function backendKeyWriter(kind: 'vbd' | 'vif', key: string): KeyWriter {
  const toolstack = ['frontend', 'frontend-id', 'online', 'state-initial', 'params', 'script', 'type', 'mode', 'dev', 'bootable',
    'removable', 'device-type', 'specification', 'bridge', 'mac', 'handle', 'discard-enable', 'trusted'];
  const hotplug = ['hotplug-status', 'node', 'physical-device', 'physical-device-path'];
  if (hotplug.includes(key)) return 'hotplug-script';
  // bridge/mac/handle are libxl's only for vifs; everything else under the directory is the driver's.
  if (toolstack.includes(key) && (kind === 'vif' || !['bridge', 'mac', 'handle'].includes(key))) return 'toolstack';
  return 'driver';
}

/** Values that differ between any two runs (ids, addresses, grant refs) are replaced by their kind. */
export function normalizeValue(key: string, value: string): string {
  // kthread-pid: the pid of the tapdisk serving a vbd3 disk (blktap tapback/backend.c)
  if (/(^|\/)(ring-ref\d*|.*-ring-ref|event-channel.*|frontend-id|backend-id|kthread-pid)$/.test(key)) return '<number>';
  if (/(^|\/)mac$/.test(key)) return '<mac>';
  if (/(^|\/)(frontend|backend)$/.test(key)) return value.replace(/\/local\/domain\/\d+/, '/local/domain/<domid>').replace(/\/(vbd|vif)\/\d+\//, '/$1/<domid>/');
  if (/(^|\/)(params|node|physical-device-path)$/.test(key)) return '<path>';
  if (/(^|\/)physical-device$/.test(key)) return '<major:minor>';
  return value;
}

export interface KeyDiff {
  /** Keys the real driver writes that the other side does not. */
  missing: string[];
  /** Keys the other side writes that the real driver does not. */
  extra: string[];
  /** Same key, different value: [key, real, other]. */
  values: [string, string, string][];
}

/** Compares the driver-written keys of a real backend directory with another implementation's. */
export function compareDriverKeys(kind: 'vbd' | 'vif', real: Record<string, string>, other: Record<string, string>): KeyDiff {
  const driverKeys = (r: Record<string, string>) => Object.keys(r).filter((k) => !k.includes('/') && backendKeyWriter(kind, k) === 'driver');
  const a = new Set(driverKeys(real));
  const b = new Set(driverKeys(other));
  return {
    missing: [...a].filter((k) => !b.has(k)).sort(),
    extra: [...b].filter((k) => !a.has(k)).sort(),
    values: [...a].filter((k) => b.has(k) && normalizeValue(k, real[k]!) !== normalizeValue(k, other[k]!)).sort().map((k) => [k, real[k]!, other[k]!]),
  };
}

/** One change of a device's xenstore directories, in the order it happened (value null: removed). */
export interface KeyEvent {
  end: 'backend' | 'frontend';
  key: string;
  value: string | null;
}

/** Both ends' keys each time one end wrote its state: the state sequence and the keys at every state. */
export interface StateStep {
  end: 'backend' | 'frontend';
  state: string;
  backend: Record<string, string>;
  frontend: Record<string, string>;
}

/** Replays a device's key events into the steps at which either end's state changed (a write of the
 *  same state again is not a step); values are normalized (normalizeValue) so runs compare. */
export function stateSteps(events: readonly KeyEvent[]): StateStep[] {
  const tree = { backend: new Map<string, string>(), frontend: new Map<string, string>() };
  const last = { backend: '', frontend: '' };
  const steps: StateStep[] = [];
  const snap = (m: Map<string, string>) => Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, normalizeValue(k, v)]));
  for (const e of events) {
    if (e.value === null) {
      for (const k of [...tree[e.end].keys()]) if (k === e.key || k.startsWith(`${e.key}/`)) tree[e.end].delete(k);
    } else tree[e.end].set(e.key, e.value);
    if (e.key === 'state' && e.value !== null && e.value !== last[e.end]) {
      last[e.end] = e.value;
      steps.push({ end: e.end, state: e.value, backend: snap(tree.backend), frontend: snap(tree.frontend) });
    }
  }
  return steps;
}

/** One line of the key-by-key comparison of a real recording with the simulator's. */
export interface StepDiff {
  /** `vbd backend` / `vif frontend`: which end of which device. */
  where: string;
  /** `states`, or the state at which keys were compared (`backend 2`). */
  at: string;
  what: 'sequence' | 'missing' | 'extra' | 'value';
  key?: string;
  real?: string;
  sim?: string;
}

/** The state sequence of one end, e.g. 1 2 4 6. */
export const sequenceOf = (steps: readonly StateStep[], end: 'backend' | 'frontend'): string[] => steps.filter((s) => s.end === end).map((s) => s.state);

/**
 * Compares the backend of a real recording with the simulator's, step by step: the backend's state
 * sequence, then at each backend state both have, the driver-written backend keys present and their
 * values (toolstack and hotplug-script keys are not the backend driver's). The frontend ends are
 * compared by state sequence only: the lab's frontends are Linux's, the simulator's are Windows'.
 */
export function diffStateSteps(kind: 'vbd' | 'vif', real: readonly StateStep[], sim: readonly StateStep[]): StepDiff[] {
  const out: StepDiff[] = [];
  for (const end of ['backend', 'frontend'] as const) {
    const a = sequenceOf(real, end).join(' ');
    const b = sequenceOf(sim, end).join(' ');
    if (a !== b) out.push({ where: `${kind} ${end}`, at: 'states', what: 'sequence', real: a, sim: b });
  }
  for (const r of real.filter((s) => s.end === 'backend')) {
    const s = sim.find((x) => x.end === 'backend' && x.state === r.state);
    if (!s) continue;
    const d = compareDriverKeys(kind, r.backend, s.backend);
    const where = `${kind} backend`;
    const at = `backend ${r.state}`;
    for (const k of d.missing) out.push({ where, at, what: 'missing', key: k, real: r.backend[k] });
    for (const k of d.extra) out.push({ where, at, what: 'extra', key: k, sim: s.backend[k] });
    for (const [k, rv, sv] of d.values) out.push({ where, at, what: 'value', key: k, real: rv, sim: sv });
  }
  return out;
}

/** A StepDiff as one line of text (`winpv`'s diff-lab output and the fidelity test's comments). */
export function stepDiffText(d: StepDiff): string {
  if (d.what === 'sequence') return `${d.where}: state sequence real ${d.real || '-'} / sim ${d.sim || '-'}`;
  if (d.what === 'missing') return `${d.where} at ${d.at}: ${d.key} missing in the simulator (real ${d.real})`;
  if (d.what === 'extra') return `${d.where} at ${d.at}: ${d.key} only in the simulator (${d.sim})`;
  return `${d.where} at ${d.at}: ${d.key} real ${d.real} / sim ${d.sim}`;
}

/** `<kind>.xen-<xen>.linux-<kernel>.json`: a lab fixture named with the versions it came from. */
function labFixtureName(kind: string, xen: string, kernel: string): string {
  const safe = (s: string) => s.trim().replace(/[^A-Za-z0-9.+-]+/g, '_');
  return `${kind}.xen-${safe(xen)}.linux-${safe(kernel)}.json`;
}

/** The name of a recording of real backends: the Xen and dom0 kernel versions it came from. */
export function recordingName(xen: string, kernel: string): string {
  return labFixtureName('backend-states', xen, kernel);
}

/** The name of the lab's measured timings (`winpv sim lab-timings`), named like the recordings. */
export function timingsName(xen: string, kernel: string): string {
  return labFixtureName('timings', xen, kernel);
}

/** The hypervisor's version in `xl info` (xen_major, xen_minor and xen_extra: 4, 17, .7 -> 4.17.7). */
export function xenVersionOf(xlInfo: string): string {
  return ['xen_major', 'xen_minor', 'xen_extra']
    .map((k) => new RegExp(`^${k}\\s*:\\s*(\\S*)`, 'm').exec(xlInfo)?.[1] ?? '')
    .join('.').replace(/\.\./g, '.').replace(/\.$/, '');
}
