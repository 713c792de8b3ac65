// `winpv xapi gc`: find what runs left on a pool (VMs, snapshots, VDIs tagged with a run id) and
// remove what is older than a threshold. A normal run leaves nothing; this is for crashed ones.
import type { XapiRecord } from 'xen-api';
import { XapiSession, NULL_REF } from './session';
import { createdAt, runOf } from './tags';
import { destroyVm } from './teardown';
import { isWinpvError } from '../../model/errors';

const alreadyGone = (e: unknown) => isWinpvError(e) && e.code === 'XAPI_HANDLE_INVALID';

export interface GcItem {
  type: 'VM' | 'VDI';
  ref: string;
  name: string;
  run: string;
  created?: string;
}

export interface GcResult {
  found: GcItem[];
  removed: GcItem[];
  kept: { item: GcItem; why: string }[];
  failed: { item: GcItem; error: string }[];
}

export interface GcOptions {
  /** Remove only what is at least this old (ms). Objects without a creation tag count as old. */
  olderThanMs: number;
  now: Date;
  dryRun: boolean;
  /** Never touch this run (the caller's own, when gc runs inside a run). */
  exceptRun?: string;
}

function item(rec: XapiRecord, run: string): GcItem {
  const c = createdAt(rec);
  return { type: rec.$type as 'VM' | 'VDI', ref: rec.$ref, name: String(rec.name_label ?? ''), run, created: c?.toISOString() };
}

export async function collectGarbage(s: XapiSession, o: GcOptions): Promise<GcResult> {
  const res: GcResult = { found: [], removed: [], kept: [], failed: [] };
  const tooNew = (rec: XapiRecord) => {
    const c = createdAt(rec);
    return c !== undefined && o.now.getTime() - c.getTime() < o.olderThanMs;
  };

  // VMs first (snapshots go with their VM; orphaned snapshots on their own), then loose VDIs.
  const vms = s.all('VM').filter((vm) => !vm.is_control_domain && runOf(vm) !== undefined);
  const ordered = [...vms.filter((v) => !v.is_a_snapshot), ...vms.filter((v) => v.is_a_snapshot)];
  for (const vm of ordered) {
    const run = runOf(vm)!;
    const it = item(vm, run);
    res.found.push(it);
    if (run === o.exceptRun) res.kept.push({ item: it, why: 'the current run' });
    else if (tooNew(vm)) res.kept.push({ item: it, why: `younger than the threshold (created ${it.created})` });
    else if (o.dryRun) res.kept.push({ item: it, why: 'dry run' });
    else if (!s.get(vm.$ref)) res.removed.push(it); // went with its parent VM
    else {
      try {
        await destroyVm(s, vm.$ref);
        res.removed.push(it);
      } catch (e) {
        res.failed.push({ item: it, error: (e as Error).message });
      }
    }
  }
  for (const vdi of s.all('VDI')) {
    const run = runOf(vdi);
    if (run === undefined) continue;
    const it = item(vdi, run);
    const attachedToLiveVm = ((vdi.VBDs as string[]) ?? []).some((b) => {
      const vbd = s.get(b);
      return vbd && vbd.VM !== NULL_REF && s.get(vbd.VM as string) !== undefined;
    });
    if (!s.get(vdi.$ref)) continue; // removed with its VM above
    res.found.push(it);
    if (run === o.exceptRun) res.kept.push({ item: it, why: 'the current run' });
    else if (attachedToLiveVm) res.kept.push({ item: it, why: 'attached to a VM gc kept' });
    else if (tooNew(vdi)) res.kept.push({ item: it, why: `younger than the threshold (created ${it.created})` });
    else if (o.dryRun) res.kept.push({ item: it, why: 'dry run' });
    else {
      try {
        await s.callAsync('VDI.destroy', vdi.$ref);
        res.removed.push(it);
      } catch (e) {
        if (alreadyGone(e)) continue;
        res.failed.push({ item: it, error: (e as Error).message });
      }
    }
  }
  return res;
}

/** `30m`, `6h`, `2d`, `0` -> milliseconds. */
export function parseAge(s: string): number | undefined {
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(s.trim());
  if (!m) return undefined;
  const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
