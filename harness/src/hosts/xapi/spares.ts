// Guests kept between scenarios (opt-in, `"reuseGuests": true` in the host entry). A new guest is
// snapshotted right after it is built, halted and before any driver install; when its scenario
// ends it is shut down and parked instead of destroyed, and the next guest of the same shape is
// that VM reverted to the snapshot: pristine disks, no clone, no VM set-up. close() destroys what is
// parked, so a run still leaves nothing; everything stays tagged for `winpv xapi gc`.
import type { GuestShape } from '../../model/scenario';
import { isWinpvError } from '../../model/errors';
import { NULL_REF, type XapiSession } from './session';
import { OWNER_KEY, RUN_KEY, tagsFor } from './tags';
import { destroyVm } from './teardown';

export interface Spare {
  vm: string;
  /** The snapshot taken before the driver install. */
  preInstall: string;
  owner: string;
  key: string;
}

/** What makes two guests interchangeable: the template and everything the VM is built with. */
export function shapeKey(shape: GuestShape, template: string): string {
  return JSON.stringify({
    template, vcpus: shape.vcpus, memoryMiB: shape.memoryMiB,
    vbds: shape.vbds.map((v) => [v.vdev, v.sizeMiB, v.mode]),
    vifs: shape.vifs.map((v) => [v.devid, v.mac ?? '']),
  });
}

/** VM.snapshot, tagged like everything else the run makes. */
export async function taggedSnapshot(s: XapiSession, vm: string, name: string, runId: string, owner: string): Promise<string> {
  const snap = await s.callAsync<string>('VM.snapshot', vm, name);
  for (const [k, v] of Object.entries(tagsFor(runId, owner, new Date()))) {
    await s.call('VM.remove_from_other_config', snap, k);
    await s.call('VM.add_to_other_config', snap, k, v);
  }
  return snap;
}

export class SpareGuests {
  private readonly parked: Spare[] = [];

  constructor(private readonly runId: string) {}

  take(key: string): Spare | undefined {
    const i = this.parked.findIndex((p) => p.key === key);
    return i < 0 ? undefined : this.parked.splice(i, 1)[0];
  }

  /** Halts the VM (hard: its scenario is over) and keeps it. */
  async park(s: XapiSession, spare: Spare): Promise<void> {
    if (s.get(spare.vm)?.power_state !== 'Halted') await s.callAsync('VM.hard_shutdown', spare.vm);
    this.parked.push(spare);
  }

  /** Back to the pre-install snapshot. Disks hot-plugged in the last scenario are left unattached
   *  by the revert: they are removed here. */
  async revert(s: XapiSession, spare: Spare): Promise<void> {
    await s.callAsync('VM.revert', spare.preInstall);
    for (const vdi of s.all('VDI')) {
      const oc = (vdi.other_config ?? {}) as Record<string, string>;
      const loose = !vdi.is_a_snapshot && ((vdi.VBDs as string[]) ?? []).every((b) => !s.get(b) || s.get(b)!.VM === NULL_REF);
      if (oc[RUN_KEY] !== this.runId || oc[OWNER_KEY] !== spare.owner || !loose) continue;
      try {
        await s.callAsync('VDI.destroy', vdi.$ref);
      } catch (e) {
        if (!isWinpvError(e) || e.code !== 'XAPI_HANDLE_INVALID') throw e;
      }
    }
  }

  /** Destroys every parked VM with its snapshots and disks; returns what could not be removed. */
  async destroyAll(s: XapiSession): Promise<Error[]> {
    const failed: Error[] = [];
    for (const p of this.parked.splice(0)) await destroyVm(s, p.vm).catch((e: Error) => failed.push(e));
    return failed;
  }
}
