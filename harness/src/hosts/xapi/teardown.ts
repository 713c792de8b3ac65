// Removing a VM and everything winpv made for it, in an order XAPI accepts, from any power state.
// Used by destroyGuest (normal runs and failure paths) and by `winpv xapi gc` (crashed runs).
import type { XapiRecord } from 'xen-api';
import { NULL_REF, XapiSession } from './session';
import { isWinpvError } from '../../model/errors';

const gone = (e: unknown) => isWinpvError(e) && (e.code === 'XAPI_HANDLE_INVALID' || e.code === 'XAPI_UUID_INVALID');

/** Run a call whose target may already be gone (destroy is idempotent). */
export async function ignoringGone(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!gone(e)) throw e;
  }
}

/** Disk VDIs of a VM (not CDs: an ISO belongs to its SR). */
function diskVdis(s: XapiSession, vm: XapiRecord): string[] {
  const out: string[] = [];
  for (const vbdRef of (vm.VBDs as string[]) ?? []) {
    const vbd = s.get(vbdRef);
    if (vbd && vbd.type === 'Disk' && vbd.VDI !== NULL_REF && typeof vbd.VDI === 'string') out.push(vbd.VDI);
  }
  return out;
}

/** Halts (hard), then destroys the VM's snapshots, the VM, and the disks that were its own. */
export async function destroyVm(s: XapiSession, vmRef: string): Promise<void> {
  const vm = s.get(vmRef) ?? (await s.client.getRecord('VM', vmRef).catch(() => undefined));
  if (!vm) return;
  if (vm.is_control_domain) throw new Error('refusing to destroy a control domain');
  const state = vm.power_state as string;
  if (!vm.is_a_snapshot && !vm.is_a_template && state !== 'Halted') {
    await ignoringGone(() => s.callAsync('VM.hard_shutdown', vmRef));
  }
  for (const snap of (vm.snapshots as string[]) ?? []) await destroyVm(s, snap);
  const vdis = diskVdis(s, vm);
  await ignoringGone(() => s.callAsync('VM.destroy', vmRef));
  for (const vdi of vdis) await ignoringGone(() => s.callAsync('VDI.destroy', vdi));
}
