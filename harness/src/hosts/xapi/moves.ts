// Moving a XenAPI host's running guests: suspend/resume and save/restore (both VM.suspend and
// VM.resume, below), live migration within the pool, and snapshots.
import type { MigrateCapability, RebootOptions, SaveRestoreCapability, SnapshotCapability, SuspendCapability } from '../../model/host';
import { hostError } from '../../model/errors';
import { NULL_REF, num } from './session';
import { destroyVm } from './teardown';
import { taggedSnapshot } from './spares';
import type { XapiState, XGuest } from './host-state';
import type { GuestTransport } from './guest-transport';

export class XapiMoves {
  constructor(
    private readonly st: XapiState,
    private readonly transport: GuestTransport,
  ) {}

  // XenAPI has one way to stop a guest with its memory: VM.suspend (xenopsd's VM_save into a
  // suspend VDI, then the domain is destroyed) and VM.resume (a new domain restored from that VDI).
  // VM.checkpoint is no in-place alternative: it is the same suspend, a clone and a resume into a
  // new domain. So `suspend` (suspend-resume) and `save-restore` both drive these two calls; the
  // guest's PV drivers see exactly what a XenCenter suspend/resume does to them.
  readonly suspend: SuspendCapability = {
    suspend: async (ref) => {
      await this.suspendVm(this.st.g(ref), 'suspended');
    },
    resume: async (ref, opts: RebootOptions = {}) => {
      const g = this.st.g(ref);
      await this.resumeVm(g, opts);
      this.st.emit(g, 'resumed', { domid: g.ref.domid });
      return g.ref;
    },
  };

  readonly saveRestore: SaveRestoreCapability = {
    save: async (ref) => {
      const g = this.st.g(ref);
      await this.suspendVm(g, 'saved');
      return String(this.st.vm(g)?.suspend_VDI ?? NULL_REF);
    },
    restore: async (ref, image) => {
      const g = this.st.g(ref);
      const vm = this.st.vm(g);
      const have = vm?.suspend_VDI;
      if (vm?.power_state !== 'Suspended' || have !== image) {
        throw hostError('XAPI_NO_IMAGE', `${ref.name} has no saved image ${image} to restore (power state ${String(vm?.power_state)}, suspend VDI ${String(have)})`);
      }
      const from = g.ref.domid;
      await this.resumeVm(g, {});
      this.st.emit(g, 'restored', { from, domid: g.ref.domid });
      return g.ref;
    },
  };

  /** VM.suspend: the domain and its xenstore tree are destroyed before XAPI reports the VM Suspended,
   *  so `suspending` marks where the guest's old home stops being judged. */
  private async suspendVm(g: XGuest, done: 'suspended' | 'saved') {
    // The guest's SSH connection stays: its TCP session lives in the guest's memory and carries on
    // after the resume, so a workload running in a parallel branch comes back (a connection that
    // does die is replaced at the next command).
    this.st.emit(g, 'suspending');
    try {
      await this.st.ours(g, () => this.st.s.callAsync('VM.suspend', g.vm));
    } catch (e) {
      // refused or cancelled with the domain still running: the guest goes on where it was
      const vm = this.st.vm(g);
      if (vm?.power_state === 'Running' && num(vm.domid) === g.ref.domid) this.st.emit(g, 'resumed', { domid: g.ref.domid, cancelled: 1 });
      throw e;
    }
    const vdi = this.st.vm(g)?.suspend_VDI as string | undefined;
    this.st.emit(g, done, done === 'saved' && vdi ? { image: String(this.st.s.get(vdi)?.uuid ?? vdi) } : undefined);
  }

  /** VM.resume into a new domain; built paused when the caller wants to attach to it first. */
  private async resumeVm(g: XGuest, opts: RebootOptions) {
    await this.st.ours(g, async () => {
      const paused = opts.beforeUnpause !== undefined;
      await this.st.s.callAsync('VM.resume', g.vm, paused, false);
      const want = paused ? 'Paused' : 'Running';
      await this.st.waitPower(g, want, `${g.ref.name} to be resumed (${want.toLowerCase()})`);
      if (opts.beforeUnpause) {
        await opts.beforeUnpause(g.ref);
        await this.st.s.callAsync('VM.unpause', g.vm);
        await this.st.s.waitFor(`${g.ref.name} to run after resume`, this.st.cfg.timeouts.bootMs, () => (this.st.vm(g)?.power_state === 'Running' ? true : undefined));
      }
    });
  }

  readonly migrate: MigrateCapability = {
    migrate: async (ref, target) => {
      const s = this.st.s;
      const g = this.st.g(ref);
      const vm = this.st.vm(g);
      this.transport.assertAgentReports(g);
      const hosts = s.all('host');
      // unnamed: another member that takes VMs (xapi refuses a disabled one, HOST_DISABLED)
      const others = hosts.filter((h) => h.$ref !== vm?.resident_on);
      const dest = target ? hosts.find((h) => h.name_label === target || h.uuid === target || h.address === target) : others.find((h) => h.enabled !== false) ?? others[0] ?? hosts[0];
      if (!dest) throw hostError('XAPI_NO_HOST', `no pool member '${target}' to migrate ${ref.name} to`);
      // A live migration ends by suspending the guest in its old domain (xenopsd's VM_migrate saves
      // it there, its xenbus suspend handler runs) and resuming it in a new one: what the guest
      // reported is what it must report again there (guest-keys, guest-metrics judge from here).
      this.st.emit(g, 'suspending', { for: 'migrate' });
      // a live migration keeps the guest's TCP sessions: its SSH connection (and a workload on it) stays
      await this.st.ours(g, async () => {
        await s.callAsync('VM.pool_migrate', g.vm, dest.$ref, { live: 'true' });
        await s.waitFor(`${ref.name} to run on ${dest.name_label}`, this.st.cfg.timeouts.bootMs, () => {
          const v = this.st.vm(g);
          return v && v.power_state === 'Running' && v.resident_on === dest.$ref ? true : undefined;
        });
        g.ref.domid = num(this.st.vm(g)!.domid);
      });
      this.st.emit(g, 'migrated', { domid: g.ref.domid, host: String(dest.name_label) });
      return g.ref;
    },
  };

  readonly snapshot: SnapshotCapability = {
    snapshot: async (ref, label) => {
      const g = this.st.g(ref);
      const snap = await taggedSnapshot(this.st.s, g.vm, `${g.owner}:${label}`, this.st.runId, g.owner);
      this.st.emit(g, 'snapshot', { label });
      return snap;
    },
    revert: async (ref, snap) => {
      const g = this.st.g(ref);
      await this.transport.dropGuestSsh(g);
      await this.st.ours(g, () => this.st.s.callAsync('VM.revert', snap));
      this.st.emit(g, 'reverted');
    },
    deleteSnapshot: async (snap) => {
      await destroyVm(this.st.s, snap);
    },
  };
}
