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
  if (/(^|\/)(ring-ref\d*|.*-ring-ref|event-channel.*|frontend-id|backend-id)$/.test(key)) return '<number>';
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
