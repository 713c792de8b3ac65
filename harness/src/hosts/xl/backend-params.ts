// A poorer destination for a restored guest on a Linux dom0: the backend keys a scenario names
// (`<destination device><backend key value/>`) become the dom0 backend drivers' module parameters
// those keys are written from, set before `xl restore` (whose new backends probe afresh and read them)
// and put back once the restored backends are Connected, or in teardown whatever happened. The
// values set and the ones to put back are kept in dom0 (SAVED_PARAMS), so a run that died in between
// is undone by the next open of the host.
import { hostError, unsupportedError } from '../../model/errors';
import type { DestinationBackend } from '../../model/scenario';
import { RUN_DIR, sleep } from './host-state';
import type { Dom0 } from './dom0';
import type { XlXenstore } from './xenstore';

/** The original values of the parameters a destination changed: `<sysfs path> <value>` per line. */
export const SAVED_PARAMS = `${RUN_DIR}/backend-params.saved`;

interface ParamOf {
  /** /sys/module/<module>/parameters/<name> */
  module: string;
  name: string;
  /** A bool parameter reads Y/N; the key says 1/0. */
  bool?: true;
}

/**
 * Which module parameter each backend key comes from, in Linux 6.1:
 *  - xen-blkback/xenbus.c xen_blkbk_probe writes `multi-queue-max-queues` from `max_queues`
 *    (xenblk_max_queues) and `max-ring-page-order` from `max_ring_page_order` (xen_blkif_max_ring_order);
 *    connect() writes `feature-persistent` from the `feature_persistent` parameter as it stood when the
 *    frontend connected (read in xen_blkbk_probe/connect_ring), and connect_ring refuses a frontend
 *    asking for more queues than max_queues allows;
 *  - xen-netback/xenbus.c netback_probe writes `multi-queue-max-queues` from `max_queues`
 *    (xenvif_max_queues), `feature-split-event-channels` from `separate_tx_rx_irq` and
 *    `feature-xdp-headroom` from `provides_xdp_headroom`.
 * A parameter sysfs shows read-only (max_ring_page_order is 0444: fixed when the module loads) is
 * refused when the destination asks for it, naming the parameter.
 */
const KEY_PARAMS: Record<'vbd' | 'vif', Record<string, ParamOf>> = {
  vbd: {
    'multi-queue-max-queues': { module: 'xen_blkback', name: 'max_queues' },
    'max-ring-page-order': { module: 'xen_blkback', name: 'max_ring_page_order' },
    'feature-persistent': { module: 'xen_blkback', name: 'feature_persistent', bool: true },
  },
  vif: {
    'multi-queue-max-queues': { module: 'xen_netback', name: 'max_queues' },
    'feature-split-event-channels': { module: 'xen_netback', name: 'separate_tx_rx_irq', bool: true },
    'feature-xdp-headroom': { module: 'xen_netback', name: 'provides_xdp_headroom', bool: true },
  },
};

const paramPath = (p: ParamOf) => `/sys/module/${p.module}/parameters/${p.name}`;

/** One parameter a destination sets: its path, the value to write and the key it serves. */
export interface ParamChange {
  path: string;
  value: string;
  device: string;
  key: string;
}

/** The parameter writes a destination needs; keys no parameter gives are refused (the step is skipped
 *  with the reason), as are two devices asking the same parameter for different values. */
export function paramChanges(dest: readonly DestinationBackend[]): ParamChange[] {
  const out: ParamChange[] = [];
  for (const d of dest) {
    const kind = d.device.split('/')[0] as 'vbd' | 'vif';
    for (const [key, value] of Object.entries(d.backend)) {
      const p = KEY_PARAMS[kind]?.[key];
      if (!p) {
        const known = Object.keys(KEY_PARAMS[kind] ?? {}).join(', ');
        throw unsupportedError(`xl: no dom0 backend module parameter gives ${d.device}'s ${key} (a destination on xl can set ${known || 'nothing for this device'})`);
      }
      if (p.bool && value !== '0' && value !== '1') throw unsupportedError(`xl: ${d.device}'s ${key} is a feature flag (0 or 1), not ${JSON.stringify(value)}`);
      if (!p.bool && !/^\d+$/.test(value)) throw unsupportedError(`xl: ${d.device}'s ${key} must be a number, not ${JSON.stringify(value)}`);
      const change = { path: paramPath(p), value: p.bool ? (value === '1' ? 'Y' : 'N') : value, device: d.device, key };
      const clash = out.find((c) => c.path === change.path && c.value !== change.value);
      if (clash) throw unsupportedError(`xl: ${clash.device}'s ${clash.key} and ${d.device}'s ${key} both come from ${change.path} and ask different values`);
      if (!out.some((c) => c.path === change.path)) out.push(change);
    }
  }
  return out;
}

/** Reads each parameter's mode and value: `<path> <octal mode> <value>` per line. */
export const READ_PARAMS = 'for p; do printf "%s %s %s\\n" "$p" "$(stat -c %a "$p")" "$(cat "$p")"; done';

/** Sets a destination's parameters in dom0, keeping the originals first (SAVED_PARAMS). */
export async function applyParams(dom0: Dom0, changes: readonly ParamChange[]): Promise<void> {
  if (changes.length === 0) return;
  const rows = (await dom0.run(['sh', '-c', READ_PARAMS, 'sh', ...changes.map((c) => c.path)])).trim().split('\n');
  const now = new Map(rows.map((r) => r.split(' ')).map(([p, mode, v]) => [p!, { mode: mode!, value: v ?? '' }]));
  for (const c of changes) {
    const cur = now.get(c.path);
    if (!cur || !/^\d+$/.test(cur.mode)) throw hostError('XL_NO_PARAM', `dom0 of ${dom0.label} has no ${c.path} (is the backend module loaded?) for ${c.device}'s ${c.key}`);
    if ((parseInt(cur.mode, 8) & 0o200) === 0 && cur.value !== c.value) {
      throw unsupportedError(`xl: ${c.path} is read-only in dom0 of ${dom0.label} (mode ${cur.mode}: fixed when the module loads), so ${c.device}'s ${c.key} cannot become ${c.value}`);
    }
  }
  // The originals are kept before the first write; a file already there holds older originals (a run
  // that died between apply and restore), which are the ones to go back to.
  const kept = await dom0.try(['cat', SAVED_PARAMS]);
  if (kept.code !== 0) {
    await dom0.run(['tee', SAVED_PARAMS], { stdin: changes.map((c) => `${c.path} ${now.get(c.path)!.value}\n`).join('') });
  }
  for (const c of changes) await dom0.run(['tee', c.path], { stdin: `${c.value}\n` });
}

/** Puts back the parameters SAVED_PARAMS holds and removes it; nothing to do when there is none.
 *  Returns the parameters restored. */
export async function restoreParams(dom0: Dom0): Promise<string[]> {
  const saved = await dom0.try(['cat', SAVED_PARAMS]);
  if (saved.code !== 0) return [];
  const done: string[] = [];
  for (const line of saved.stdout.split('\n').filter((l) => l.trim())) {
    const [path, value] = line.split(' ');
    if (!path?.startsWith('/sys/module/') || value === undefined) continue;
    await dom0.run(['tee', path], { stdin: `${value}\n` });
    done.push(`${path}=${value}`);
  }
  await dom0.run(['rm', '-f', SAVED_PARAMS]);
  return done;
}

/**
 * After `xl restore` onto changed parameters: waits (bounded) until every destination device's backend
 * is Connected, then reads back the keys the destination named. Linux writes them from the parameters
 * (KEY_PARAMS), so a key that differs means the destination was not given: a host error naming it. A
 * backend that never connects is left to the scenario's waits and checks (returned as not connected).
 */
export async function confirmDestination(
  xs: XlXenstore, domid: number, dest: readonly DestinationBackend[], limitMs: number,
): Promise<{ connected: boolean }> {
  const dir = (dev: string) => `/local/domain/0/backend/${dev.replace('/', `/${domid}/`)}`;
  const deadline = Date.now() + limitMs;
  for (;;) {
    const states = await Promise.all(dest.map((d) => xs.read(`${dir(d.device)}/state`)));
    if (states.every((s) => s === '4')) break;
    if (Date.now() > deadline) return { connected: false };
    await sleep(500);
  }
  for (const d of dest) {
    for (const [key, want] of Object.entries(d.backend)) {
      const got = await xs.read(`${dir(d.device)}/${key}`);
      if (got !== want) throw hostError('XL_DESTINATION_NOT_GIVEN', `the restored ${d.device} backend wrote ${key}=${got ?? '(nothing)'}, the destination asked for ${want}: dom0's backend did not take its module parameter`);
    }
  }
  return { connected: true };
}
