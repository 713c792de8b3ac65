// The devices of an xl host's guests: disks as sparse files (or user images) behind loop devices,
// hot-plug and unplug through xl, the backends (found through the frontend's `backend` key),
// backend-restart as a driver rebind in dom0, and the backends' counters into the trace.
import { hostError, unsupportedError } from '../../model/errors';
import type { BackendControlCapability, GuestRef, HotplugCapability } from '../../model/host';
import type { DeviceRef, VbdShape, VifShape } from '../../model/scenario';
import { requireDevid } from '../../model/vdev';
import { diskSpec, vifSpec } from './xl-config';
import { BRIDGE, RUN_DIR, type GuestRecord, type XlState } from './host-state';

/** Unbinds a xen-backend device ($1, `vbd-<domid>-<devid>`) from its driver and binds it again, then
 *  prints the driver's name. Measured on the lab (Linux 6.1): neither blkback nor netback writes a
 *  state on unbind (they allow rebinding, so the frontend stays Connected); the bind probes afresh
 *  (features, InitWait) and the backend reconnects to the rings the frontend still has. netback's
 *  remove also deletes `hotplug-status` and its netdev, and it connects only once the hotplug script
 *  says so: as libxl does at device creation, the vif's script ($2 = backend path, $3 = netdev)
 *  is run with `online` (it brings the new netdev up on its bridge and writes hotplug-status).
 *  Fails, naming the device, when dom0 has no such backend device bound to a driver. */
export const RESTART_BACKEND_SCRIPT = [
  'set -e',
  'd=/sys/bus/xen-backend/devices/$1',
  '[ -e "$d/driver" ] || { echo "no backend device $1 bound to a driver in /sys/bus/xen-backend" >&2; exit 1; }',
  'drv=$(readlink -f "$d/driver")',
  'echo "$1" > "$drv/unbind"',
  'echo "$1" > "$drv/bind"',
  'case "$1" in vif-*) if ! xenstore-read "$2/hotplug-status" >/dev/null 2>&1; then',
  '  script=$(xenstore-read "$2/script")',
  '  XENBUS_PATH=${2#/local/domain/0/} XENBUS_TYPE=vif XENBUS_BASE_PATH=backend script=$script vif=$3 "$script" online type_if=vif >&2',
  'fi ;; esac',
  'basename "$drv"',
].join('\n');

export class XlDevices {
  constructor(private readonly st: XlState) {}

  /** A sparse disk file behind a loop device. The loop is set up here rather than by the block
   *  hotplug script: libxl kills hotplug scripts after 10 s, and the script's file path (locking,
   *  scanning every loop device) took longer than that in the lab on a loaded machine; for a block
   *  device the script only records it. */
  async makeDisk(name: string, vbd: VbdShape): Promise<{ file: string; loop: string }> {
    const file = `${RUN_DIR}/${name}-${vbd.vdev}.img`;
    await this.st.dom0.run(['truncate', '-s', `${Math.max(1, Math.floor(vbd.sizeMiB))}M`, file]);
    const loop = (await this.st.dom0.run(['losetup', '--find', '--show', file])).trim();
    if (!/^\/dev\/loop\d+$/.test(loop)) throw hostError('XL_LOOP', `losetup gave no loop device for ${file}: ${loop}`);
    return { file, loop };
  }

  /** A user-supplied disk image (a path in dom0) behind a loop device, for the reason above. The
   *  guest writes to the image itself: give it a copy you can lose. */
  async imageLoop(image: string): Promise<string> {
    const there = await this.st.dom0.try(['test', '-f', image, '-a', '-r', image]);
    if (there.code !== 0) throw hostError('XL_NO_IMAGE', `guest image ${image} is not a readable file in dom0 of ${this.st.label} (copy it there first)`);
    const loop = (await this.st.dom0.run(['losetup', '--find', '--show', '--', image])).trim();
    if (!/^\/dev\/loop\d+$/.test(loop)) throw hostError('XL_LOOP', `losetup gave no loop device for ${image}: ${loop}`);
    return loop;
  }

  /** Backend keys a scenario sets on a device, written before the frontends can read them. */
  async overrideBackend(domid: number, dev: string, keys: Record<string, string>): Promise<void> {
    for (const [k, v] of Object.entries(keys)) await this.st.xenstore.write(`/local/domain/0/backend/${dev.replace('/', `/${domid}/`)}/${k}`, v);
  }

  /** The devices of a guest, from the backend directories in xenstore. */
  async devices(guest: GuestRef): Promise<DeviceRef[]> {
    // a disk may be served by blkback (vbd), tapdisk3 (vbd3) or QEMU (qdisk): all are the guest's vbd;
    // the four listings go to dom0 together
    const kinds = [['vbd', 'vbd'], ['vbd3', 'vbd'], ['qdisk', 'vbd'], ['vif', 'vif']] as const;
    const ids = await Promise.all(kinds.map(([dir]) => this.st.xenstore.directory(`/local/domain/0/backend/${dir}/${guest.domid}`)));
    return kinds.flatMap(([, kind], i) => ids[i]!.map((id): DeviceRef => `${kind}/${Number(id)}`));
  }

  /** One backend.stats event per device of the guest, as dom0 reports the counters now. */
  async emitBackendStats(rec: GuestRecord): Promise<void> {
    for (const dev of await this.devices(rec.ref)) {
      const stats = await this.st.rings.backendStats(rec.ref, dev);
      if (stats) this.st.trace?.emit({ ev: 'backend.stats', inst: rec.inst, guest: rec.ref.name, dev, stats });
    }
  }

  readonly hotplug: HotplugCapability = {
    attachVbd: async (guest: GuestRef, vbd: VbdShape): Promise<DeviceRef> => {
      const rec = this.st.rec(guest);
      const { file, loop } = await this.makeDisk(rec.ref.handle, vbd);
      rec.files.push(file);
      rec.loops.push(loop);
      await this.st.dom0.run(['xl', 'block-attach', rec.ref.handle, diskSpec(vbd, loop, this.st.blockScript)]);
      return `vbd/${requireDevid(vbd.vdev)}`;
    },
    attachVif: async (guest: GuestRef, vif: VifShape): Promise<DeviceRef> => {
      const rec = this.st.rec(guest);
      await this.st.dom0.run(['xl', 'network-attach', rec.ref.handle, ...vifSpec(this.st.withRunMac(rec.inst, rec.ref.name, vif), BRIDGE, this.st.vifScript).split(',')]);
      return `vif/${vif.devid}`;
    },
    detach: async (guest: GuestRef, dev: DeviceRef, opts: { surprise: boolean }): Promise<void> => {
      const rec = this.st.rec(guest);
      const [kind, id] = dev.split('/') as ['vbd' | 'vif', string];
      if (opts.surprise) {
        // No Closing handshake: the backend directory (wherever the frontend's backend key puts it:
        // vbd, vbd3 or qdisk for a disk) goes away under the frontend.
        await this.st.xenstore.rm(await this.backendOf(rec.ref, dev));
        return;
      }
      await this.st.dom0.run(['xl', kind === 'vbd' ? 'block-detach' : 'network-detach', rec.ref.handle, id], { timeoutMs: 120_000 });
    },
  };

  readonly backendControl: BackendControlCapability = {
    restartKind: 'rebind',
    /** The backend instance is unbound from its driver (blkback's or netback's remove) and bound
     *  again (a fresh probe), through sysfs, as `echo vbd-<domid>-<devid> > .../unbind` by hand.
     *  Only a kernel backend has a driver to rebind: a disk served by tapdisk3 (backend/vbd3) or
     *  QEMU (backend/qdisk) is refused as unsupported, not "restarted" through a sysfs node that
     *  does not exist. */
    restartBackend: async (guest: GuestRef, dev: DeviceRef): Promise<void> => {
      const rec = this.st.rec(guest);
      const m = /^(vbd|vif)\/(\d+)$/.exec(dev);
      if (!m) throw hostError('XL_NO_DEVICE', `backend-restart: ${dev} is not a vbd/<devid> or vif/<devid> device`);
      const backend = await this.backendOf(rec.ref, dev);
      const type = /\/backend\/([a-z0-9]+)\//.exec(backend)![1]!;
      if (type !== 'vbd' && type !== 'vif') {
        throw unsupportedError(`backend-restart (rebind) of ${dev}: its backend is ${type} (${backend}), which has no kernel driver in dom0 to unbind and bind`);
      }
      const name = `${type}-${rec.ref.domid}-${m[2]}`;
      const netdev = m[1] === 'vif' ? ((await this.st.xenstore.read(`${backend}/vifname`)) ?? `vif${rec.ref.domid}.${m[2]}`) : '';
      const out = await this.st.dom0.run(['sh', '-c', RESTART_BACKEND_SCRIPT, 'sh', name, backend, netdev], { timeoutMs: 60_000 });
      this.st.trace?.emit({ ev: 'log', inst: rec.inst, level: 'info', msg: `backend ${name} unbound from ${out.trim()} and bound again` });
    },
    forceBackendState: async (guest: GuestRef, dev: DeviceRef, state: number): Promise<void> => {
      await this.st.xenstore.write(`${await this.backendOf(guest, dev)}/state`, String(state));
    },
  };

  /** Where a device's backend is: the frontend's `backend` key (backend/vbd, vbd3, qdisk or vif). */
  private async backendOf(guest: GuestRef, dev: DeviceRef): Promise<string> {
    const backend = await this.st.xenstore.read(`/local/domain/${guest.domid}/device/${dev}/backend`);
    if (!backend || !/^\/local\/domain\/\d+\/backend\/[a-z0-9]+\/\d+\/\d+$/.test(backend)) {
      throw hostError('XL_NO_DEVICE', `${guest.name} has no backend for ${dev} (its frontend names ${backend === null ? 'none' : `'${backend}'`})`);
    }
    return backend;
  }
}
