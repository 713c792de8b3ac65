// The lifecycle of an xl host's guests: created paused from a generated config (the probes attach
// before any frontend moves), started, rebooted into a new domain, shut down, saved and restored,
// destroyed with everything the run made for them in dom0 (configs, disks, save images).
import { randomUUID } from 'node:crypto';
import { guestError, hostError } from '../../model/errors';
import type { DestinationOptions, GuestRef, SaveRestoreCapability } from '../../model/host';
import type { ExecResult } from '../../remote/ssh';
import type { GuestShape } from '../../model/scenario';
import { requireDevid } from '../../model/vdev';
import { domainName, xlConfig } from './xl-config';
import { BRIDGE, RUN_DIR, sleep, type GuestRecord, type XlState } from './host-state';
import type { XlDevices } from './devices';
import type { XlListEntry } from './parse';
import { applyParams, confirmDestination, paramChanges, restoreParams } from './backend-params';

/** Where the lab image keeps the reference PV guest (lab/recipe: DOM0_GUEST_KERNEL/INITRD). */
export const GUEST_KERNEL = '/var/lib/winpv-lab/guest/vmlinuz';
export const GUEST_INITRD = '/var/lib/winpv-lab/guest/initrd-pv.img';
/** The lab's HVM Linux disk (lab/recipe DOM0_GUEST_HVM_IMAGE) holds this same kernel and initramfs.
 *  Under the lab's nested virtualisation (Xen on QEMU TCG with emulated SVM), SeaBIOS reading them
 *  from the emulated IDE disk by PIO ends in a triple fault of the guest within a minute (seen with
 *  Debian's Xen 4.17.7+13 and qemu-system-xen 7.2+dfsg-7+deb12u18; `xl dmesg`: "Triple fault -
 *  invoking HVM shutdown action", real mode, IDE status port), or takes over 20 minutes on a loaded
 *  machine. So the lab's own disk is booted directly (QEMU's fw_cfg loader), with the disk still the
 *  emulated boot disk, unplugged by the guest and served again by blkback. A user image (Windows)
 *  always boots through the BIOS. */
export const LAB_HVM_IMAGE = '/var/lib/winpv-lab/guest/linux-hvm.img';
/** Destroys of a guest's name before giving up on it (the first, and xl's restarts that follow). */
const DESTROY_TRIES = 3;

/** Stops xl's monitor of a guest: the `xl create` (or `xl restore`) process that stays behind to
 *  carry out on_reboot and the like (seen in the lab's dom0 as `/usr/lib/xen-4.17/bin/xl create -p
 *  <cfg>`). $1 is the pattern of its whole command line; nothing to stop (or no pkill) is not an
 *  error. (A migrated guest's monitor is `xl migrate-receive`, which names no guest: not stopped.) */
export const STOP_MONITOR_SCRIPT = 'pkill -x -f "$1" || true';
const ere = (s: string) => s.replace(/[.[\]()*+?^$|\\{}]/g, '\\$&');
/** The whole command line of the monitor of the guest named `handle` (its config and save image
 *  are RUN_DIR/<handle>.cfg and .save), as an extended regular expression for pkill -x -f. */
export const monitorPattern = (handle: string): string => `.*xl (create -p ${ere(`${RUN_DIR}/${handle}.cfg`)}|restore ${ere(`${RUN_DIR}/${handle}.save`)})`;

/** Releases a destroyed guest's loop devices (the first $1 arguments) and removes its files (the
 *  rest) in one command: each command is an SSH session and a shell in dom0 (0.3-0.4 s on the lab). */
export const RELEASE_SCRIPT = 'n=$1; shift; while [ "$n" -gt 0 ]; do losetup --detach "$1"; shift; n=$((n-1)); done; [ $# -eq 0 ] || rm -f -- "$@"';
/** The teardown's first command: stops the guest's monitor ($1 its pattern, as STOP_MONITOR_SCRIPT),
 *  then lists every domain with its UUID (`xl list -v`): one SSH session instead of two. */
export const STOP_MONITOR_AND_LIST_SCRIPT = `${STOP_MONITOR_SCRIPT}; exec xl list -v`;
/** Destroys domain $1 and, once xl has, releases the rest of the arguments as RELEASE_SCRIPT does:
 *  the guest's last destroy and its release are one SSH session. A refused destroy exits with xl's
 *  status and releases nothing (its disks are still in use); the release's own failures are not
 *  the destroy's (as with RELEASE_SCRIPT alone, they are not asked about). */
export const DESTROY_AND_RELEASE_SCRIPT = `xl destroy "$1" || exit $?; shift; ${RELEASE_SCRIPT}; exit 0`;
const LAB_HVM_DIRECT_BOOT = { kernel: GUEST_KERNEL, ramdisk: GUEST_INITRD, cmdline: 'console=ttyS0 console=hvc0 quiet sysrq_always_enabled' };

/** How long a restored guest's backends may take to reach Connected on a destination's parameters
 *  before the parameters are put back anyway (the scenario's waits then judge the devices). */
const DESTINATION_CONNECT_MS = 240_000;

/** How long xl's monitor may take to build a rebooted guest's new domain after the old one is gone. */
const REBUILD_MS = 180_000;

export class XlLifecycle {
  constructor(
    private readonly st: XlState,
    private readonly devices: XlDevices,
  ) {}

  async createGuest(shape: GuestShape, inst: string): Promise<GuestRef> {
    const st = this.st;
    const name = domainName(inst, shape.name, st.opts.nameTag);
    if ((await st.domid(name)) !== undefined) {
      // left over by a crashed run, with its monitor perhaps
      await st.dom0.try(['sh', '-c', STOP_MONITOR_SCRIPT, 'sh', monitorPattern(name)]);
      await st.dom0.try(['xl', 'destroy', name]);
    }
    const { files, loops, disks } = await this.makeDisks(name, shape);
    const cfg = `${RUN_DIR}/${name}.cfg`;
    const runShape = { ...shape, vifs: shape.vifs.map((v) => st.withRunMac(inst, shape.name, v)) };
    const uuid = randomUUID();
    const config = xlConfig(name, runShape, { kernel: GUEST_KERNEL, ramdisk: GUEST_INITRD, disks, blockScript: st.blockScript, vifScript: st.vifScript, serialLog: st.serialLog(name), directBoot: shape.image === LAB_HVM_IMAGE ? LAB_HVM_DIRECT_BOOT : undefined }, { bridge: BRIDGE, uuid });
    await st.connection!.link.putFile(Buffer.from(config), cfg);
    files.push(cfg);
    const consoleOffset = await st.logSize(name);
    // Paused: the probes attach before the frontends start. 300 s: on the lab under a loaded machine
    // `xl create -p` (the block hotplug script under TCG) ran past 120 s and completed later.
    await st.dom0.run(['xl', 'create', '-p', cfg], { timeoutMs: 300_000 });
    const domid = await st.domid(name);
    if (domid === undefined) throw hostError('XL_CREATE', `xl create ${name} returned but the domain is not listed`);
    const ref: GuestRef = { name: shape.name, domid, handle: name };
    const rec: GuestRecord = { ref, uuid, inst, shape, files, loops, consoleOffset, expectRunning: false, busy: 0, epoch: 0 };
    st.guests.set(name, rec);
    // Backend overrides (e.g. max-ring-page-order 0) are written while the frontends cannot yet read them.
    for (const vbd of shape.vbds) await this.devices.overrideBackend(domid, `vbd/${requireDevid(vbd.vdev)}`, vbd.backend);
    for (const vif of shape.vifs) await this.devices.overrideBackend(domid, `vif/${vif.devid}`, vif.backend);
    st.emit(rec, 'created');
    return ref;
  }

  /** The guest's disks behind loop devices: its image as the first disk, sparse files for the rest. */
  private async makeDisks(name: string, shape: GuestShape): Promise<{ files: string[]; loops: string[]; disks: Record<string, string> }> {
    const files: string[] = [];
    const loops: string[] = [];
    const disks: Record<string, string> = {};
    for (const [i, vbd] of shape.vbds.entries()) {
      if (i === 0 && shape.image) {
        const loop = await this.devices.imageLoop(shape.image);
        loops.push(loop);
        disks[vbd.vdev] = loop;
        continue;
      }
      const { file, loop } = await this.devices.makeDisk(name, vbd);
      files.push(file);
      loops.push(loop);
      disks[vbd.vdev] = loop;
    }
    return { files, loops, disks };
  }

  async startGuest(guest: GuestRef): Promise<void> {
    const rec = this.st.rec(guest);
    await this.st.dom0.run(['xl', 'unpause', rec.ref.handle]);
    rec.expectRunning = true;
    this.st.emit(rec, 'started');
  }

  async rebootGuest(guest: GuestRef): Promise<void> {
    const st = this.st;
    const rec = st.rec(guest);
    rec.consoleOffset = await st.logSize(rec.ref.handle);
    rec.agent = undefined;
    rec.linux = undefined;
    rec.console?.stop();
    await st.ours(rec, async () => {
      const old = rec.ref.domid;
      await st.dom0.run(['xl', 'reboot', '-w', rec.ref.handle], { timeoutMs: 180_000 });
      rec.ref.domid = await this.newDomain(rec, old);
    });
    guest.domid = rec.ref.domid;
    st.emit(rec, 'rebooted');
  }

  /** `xl reboot -w` returns once the old domain is gone; xl's monitor process builds the new one
   *  (on_reboot="restart") after that: measured on the lab under TCG, 33 s later. */
  private async newDomain(rec: GuestRecord, old: number): Promise<number> {
    const limit = this.st.opts.rebuildMs ?? REBUILD_MS;
    const deadline = Date.now() + limit;
    for (;;) {
      const domid = await this.st.domid(rec.ref.handle);
      if (domid !== undefined && domid !== old) return domid;
      if (Date.now() > deadline) throw guestError('GUEST_NOT_REBOOTED', `guest ${rec.ref.name} went down for its reboot but no new domain was built within ${limit / 1000} s`);
      await sleep(1000);
    }
  }

  async shutdownGuest(guest: GuestRef, how: 'clean' | 'hard'): Promise<void> {
    const rec = this.st.rec(guest);
    rec.expectRunning = false;
    if (how === 'hard') await this.st.dom0.run(['xl', 'destroy', rec.ref.handle]);
    else await this.st.dom0.run(['timeout', '120', 'xl', 'shutdown', '-w', rec.ref.handle], { timeoutMs: 130_000 });
    this.st.emit(rec, 'shutdown', { how });
  }

  async destroyGuest(guest: GuestRef): Promise<void> {
    const st = this.st;
    const rec = st.guests.get(guest.handle);
    if (!rec) return;
    rec.expectRunning = false;
    rec.console?.stop();
    await st.reconnectForTeardown();
    // xl's monitor first: a domain that was rebooting when the run ended (an HVM triple fault is
    // Xen's reboot) would otherwise get a new domain under its name from xl's restart after the
    // destroy (seen on the lab: lab-hvm-image left a domain being built, its monitor still running)
    // What is left of the guest is every domain with its UUID, not only the one with its name. xl's
    // monitor may have been carrying out on_poweroff="destroy" when it was stopped, and libxl's
    // destroy (tools/libs/light/libxl_domain.c: libxl__destroy_domid, devices_destroy_cb) pauses the
    // domain, removes its devices and then its xenstore home, name included, and only then forks the
    // child that calls xc_domain_destroy: stopped in between, it leaves the domain paused, shut down
    // and nameless (`(null)` in xl list), holding all its memory, where `xl domid <name>` finds
    // nothing. Seen on the lab: the backend recording's guest after its clean shutdown, left for the
    // rest of CI's lab leg. A domain already dying (flag d) is on its way out.
    const alive = (ds: XlListEntry[]) => ds.filter((d) => !d.state.includes('d'));
    const left = async () => alive(await st.domainsOf(rec.uuid));
    const stopMonitorAndList = async () => alive(st.domainsIn(await st.dom0.try(['sh', '-c', STOP_MONITOR_AND_LIST_SCRIPT, 'sh', monitorPattern(rec.ref.handle)]), rec.uuid));
    // whether the domain is still there, and its final counters (none when it is gone), asked together
    let [domains] = await Promise.all([stopMonitorAndList(), this.devices.emitBackendStats(rec).catch(() => undefined)]);
    const release = rec.loops.length || rec.files.length ? [String(rec.loops.length), ...rec.loops, ...rec.files] : undefined;
    let released = false;
    // A refused destroy is asked about again. A domain going away on its own (a clean shutdown, a
    // poweroff) can be gone between the listing and `xl destroy`, and xl then says "invalid domain
    // identifier". A domain that was rebooting (an HVM triple fault is Xen's reboot) can be between
    // the old domain and the new one xl's own restart builds under the name: destroyed again (a
    // retried lab HVM run's leftover loop devices). One still there after DESTROY_TRIES holds its
    // disks: they stay, and the teardown reports the failure. (After a destroy xl accepted, the
    // domain may still be listed while it dies, so success is not asked about again.)
    let destroyed = false;
    for (let tries = 1; domains.length; tries++) {
      let refused: { argv: string[]; r: ExecResult } | undefined;
      for (const [i, d] of domains.entries()) {
        const argv = ['xl', 'destroy', String(d.domid)];
        // the last domain's destroy releases the disks in the same command once xl has destroyed it,
        // unless a destroy before it was refused (that domain may hold them still)
        const withRelease = release && i === domains.length - 1 && !refused;
        const r = await st.dom0.try(withRelease ? ['sh', '-c', DESTROY_AND_RELEASE_SCRIPT, 'sh', String(d.domid), ...release] : argv);
        if (r.code !== 0) {
          refused = { argv, r };
          continue;
        }
        if (withRelease) released = true;
        if (!destroyed) {
          destroyed = true;
          st.emit(rec, 'destroyed');
        }
      }
      if (!refused) break;
      domains = await left();
      if (!domains.length) break;
      if (tries >= DESTROY_TRIES) throw st.dom0.failed(refused.argv, refused.r);
      await sleep(1000);
    }
    if (release && !released) await st.dom0.try(['sh', '-c', RELEASE_SCRIPT, 'sh', ...release]);
    st.guests.delete(guest.handle);
  }

  readonly saveRestore: SaveRestoreCapability = {
    save: async (guest: GuestRef): Promise<string> => {
      const rec = this.st.rec(guest);
      const image = `${RUN_DIR}/${rec.ref.handle}.save`;
      rec.expectRunning = false;
      await this.st.ours(rec, () => this.st.dom0.run(['xl', 'save', rec.ref.handle, image], { timeoutMs: 300_000 }));
      rec.files.push(image);
      this.st.emit(rec, 'saved');
      return image;
    },
    /** A destination (a poorer backend) is given through dom0's backend module parameters
     *  (backend-params.ts), set for the restore and put back once its backends are Connected. */
    restore: async (guest: GuestRef, image: string, opts: DestinationOptions = {}): Promise<GuestRef> => {
      const st = this.st;
      const rec = st.rec(guest);
      const old = rec.ref.domid;
      await this.landOn(rec, opts, 'restore', async () => {
        const domid = await st.ours(rec, async () => {
          await st.dom0.run(['xl', 'restore', image], { timeoutMs: 300_000 });
          return st.domid(rec.ref.handle);
        });
        if (domid === undefined) throw hostError('XL_RESTORE', `xl restore of ${rec.ref.handle} returned but the domain is not listed`);
        rec.ref.domid = domid;
        rec.expectRunning = true;
        st.emit(rec, 'restored', { from: old, domid });
        return domid;
      });
      return { ...rec.ref };
    },
  };

  /** Moves the guest into a new domain (`move` returns its domid) on the destination's backends: the
   *  dom0 backend module parameters its keys come from (backend-params.ts) are set for the move,
   *  confirmed once the new backends are Connected, and put back whatever happened. */
  async landOn(rec: GuestRecord, opts: DestinationOptions, what: string, move: () => Promise<number>): Promise<void> {
    const st = this.st;
    const dest = opts.destination ?? [];
    const changes = paramChanges(dest); // refuses what no parameter gives before anything changes
    try {
      await applyParams(st.dom0, changes);
      if (changes.length) st.log(rec, 'info', `destination: dom0 backend parameters ${changes.map((c) => `${c.path}=${c.value}`).join(', ')} for the ${what}`);
      const domid = await move();
      if (changes.length) {
        const { connected } = await confirmDestination(st.xenstore, domid, dest, DESTINATION_CONNECT_MS);
        st.log(rec, connected ? 'info' : 'warn', connected ? `destination: the backends after the ${what} are Connected with the keys it named` : `destination: the backends after the ${what} were not all Connected within ${DESTINATION_CONNECT_MS / 1000} s`);
      }
    } finally {
      const put = changes.length ? await restoreParams(st.dom0) : [];
      if (put.length) st.log(rec, 'info', `destination: dom0 backend parameters put back: ${put.join(', ')}`);
    }
  }
}
