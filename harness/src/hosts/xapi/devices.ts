// The devices of a XenAPI host's guests: VBD and VIF hot-plug and unplug, where XAPI places a
// scenario's disk, backend-restart as a toolstack replug, a forced backend state, the run's data
// disk of verifying workloads and bundle ISOs in a guest's CD drive.
import type { BackendControlCapability, GuestRef, HotplugCapability } from '../../model/host';
import type { DeviceRef, VbdShape, VifShape } from '../../model/scenario';
import { hostError, isWinpvError } from '../../model/errors';
import { devidToVdev, vdevToDevid } from '../../model/vdev';
import { NULL_REF } from './session';
import { userdeviceOf } from './guest-build';
import { tagsFor, vmName } from './tags';
import { uploadDisc, writableIsoSrs, type IsoDisc } from './iso-disc';
import { withRunMac } from '../guest-mac';
import { homePath, type XapiState, type XGuest } from './host-state';
import type { Dom0Access } from './dom0-access';

/** The data disk of verifying workloads: room for diskspd's run and the 64 MiB verify pass. */
const DATA_DISK_MIB = 1024;

export class XapiDevices {
  constructor(
    private readonly st: XapiState,
    private readonly dom0: Dom0Access,
  ) {}

  readonly hotplug: HotplugCapability = {
    attachVbd: (ref, vbd) => this.attachVbd(this.st.g(ref), vbd),
    attachVif: (ref, vif) => this.attachVif(this.st.g(ref), vif),
    detach: async (ref, dev, opts) => {
      const g = this.st.g(ref);
      const devRef = this.findDevice(g, dev);
      const rec = this.st.s.get(devRef);
      const cls = dev.startsWith('vbd/') ? 'VBD' : 'VIF';
      await this.st.s.callAsync(`${cls}.${opts.surprise ? 'unplug_force' : 'unplug'}`, devRef).catch((e: unknown) => {
        throw this.detachRefused(g, dev, e);
      });
      await this.st.s.call(`${cls}.destroy`, devRef);
      if (cls === 'VBD' && rec && rec.VDI !== NULL_REF) g.detachedDisks.set(String(rec.userdevice), String(rec.VDI));
      if (cls === 'VIF' && rec) g.detachedNetworks.set(Number(rec.device), String(rec.network));
    },
  };

  private async attachVbd(g: XGuest, vbd: VbdShape): Promise<DeviceRef> {
    const s = this.st.s;
    const ud = userdeviceOf(vbd.vdev);
    const tags = tagsFor(this.st.runId, g.owner, new Date());
    // A disk unplugged earlier comes back with its data: the same VDI in a new VBD.
    let vdi = g.detachedDisks.get(ud);
    g.detachedDisks.delete(ud);
    vdi ??= await s.call<string>('VDI.create', {
      name_label: `${vmName(this.st.runId, g.owner)}:${vbd.vdev}`, name_description: 'winpv hot-plugged disk', SR: s.all('pool')[0]?.default_SR, virtual_size: vbd.sizeMiB * 2 ** 20,
      type: 'user', sharable: false, read_only: false, other_config: tags, xenstore_data: {}, sm_config: {}, tags: [],
    });
    const vbdRef = await s.call<string>('VBD.create', {
      VM: g.vm, VDI: vdi, userdevice: ud, bootable: false, mode: vbd.mode === 'r' ? 'RO' : 'RW', type: 'Disk', empty: false,
      other_config: tags, qos_algorithm_type: '', qos_algorithm_params: {},
    });
    await s.callAsync('VBD.plug', vbdRef);
    const name = await s.waitFor(`${g.ref.name}'s new disk to attach`, this.st.cfg.timeouts.bootMs, () => {
      const v = s.get(vbdRef);
      return v?.currently_attached === true && v.device ? String(v.device) : undefined;
    });
    return `vbd/${vdevToDevid(name) ?? name}` as DeviceRef;
  }

  private async attachVif(g: XGuest, vif: VifShape): Promise<DeviceRef> {
    const s = this.st.s;
    const vm = this.st.vm(g)!;
    const first = ((vm.VIFs as string[]) ?? []).map((v) => s.get(v)).find(Boolean);
    const network = g.detachedNetworks.get(vif.devid) ?? (first?.network as string | undefined) ?? s.all('network')[0]!.$ref;
    const vifRef = await s.call<string>('VIF.create', {
      device: String(vif.devid), network, VM: g.vm, MAC: withRunMac(this.st.runId, g.owner, vif, (msg) => this.st.log(g.inst, 'info', msg)).mac, MTU: 1500, other_config: tagsFor(this.st.runId, g.owner, new Date()),
      qos_algorithm_type: '', qos_algorithm_params: {}, locking_mode: 'network_default', ipv4_allowed: [], ipv6_allowed: [],
    });
    await s.callAsync('VIF.plug', vifRef);
    return `vif/${vif.devid}` as DeviceRef;
  }

  /** A scenario's disk n (xvd<n>) is the VM's userdevice n; XAPI's device model puts userdevice 0-3 of
   *  an HVM guest on IDE (hda..hdd) and the rest, and every disk of a PV guest, on xvd. The VBD's
   *  `device` field says where it went once the VM runs; before that the same rule predicts it. */
  resolveDevice(ref: GuestRef, dev: DeviceRef): DeviceRef {
    if (!dev.startsWith('vbd/')) return dev;
    const vdev = devidToVdev(Number(dev.slice(4)));
    const ud = vdev && /^(?:xvd|hd|sd)[a-z]$/.test(vdev) ? userdeviceOf(vdev) : undefined;
    const g = this.st.guests.get(ref.handle);
    const vm = g && this.st.vm(g);
    if (ud === undefined || !vm) return dev;
    const vbd = ((vm.VBDs as string[]) ?? []).map((b) => this.st.s.get(b)).find((b) => b && String(b.userdevice) === ud && b.type !== 'CD');
    const placed = vbd?.device ? vdevToDevid(String(vbd.device)) : undefined;
    if (placed !== undefined) return `vbd/${placed}`;
    // domain_type (XAPI >= 1.13) is 'unspecified' on VMs made before it; HVM_boot_policy decided then
    const type = String(vm.domain_type ?? 'unspecified');
    const hvm = type === 'hvm' || (type === 'unspecified' && String(vm.HVM_boot_policy ?? '') !== '');
    const n = Number(ud);
    return `vbd/${hvm && n < 4 ? vdevToDevid(`hd${String.fromCharCode(97 + n)}`)! : vdevToDevid(`xvd${String.fromCharCode(97 + n)}`)!}`;
  }

  /** xapi's DEVICE_DETACH_REJECTED (the guest refused a clean unplug) said as what it means. */
  private detachRefused(g: XGuest, dev: DeviceRef, e: unknown): unknown {
    if (!isWinpvError(e) || e.code !== 'XAPI_DEVICE_DETACH_REJECTED') return e;
    return hostError('XAPI_DEVICE_DETACH_REJECTED', `${g.ref.name} refused to give up ${dev} (Windows holds it: the system disk, the pagefile or an open volume); a clean unplug needs a disk the guest does not use, a surprise removal does not ask`, e);
  }

  private findDevice(g: XGuest, dev: DeviceRef): string {
    const vm = this.st.vm(g)!;
    const [kind, id] = dev.split('/') as ['vbd' | 'vif', string];
    if (kind === 'vif') {
      const hit = ((vm.VIFs as string[]) ?? []).find((v) => String(this.st.s.get(v)?.device) === id);
      if (hit) return hit;
    } else {
      const hit = ((vm.VBDs as string[]) ?? []).find((b) => String(vdevToDevid(String(this.st.s.get(b)?.device ?? ''))) === id);
      if (hit) return hit;
    }
    throw hostError('XAPI_NO_DEVICE', `${g.ref.name} has no ${dev}`);
  }

  readonly backendControl: BackendControlCapability = {
    restartKind: 'replug',
    // backend-restart on XenAPI is a toolstack unplug and plug of the device (VBD/VIF.unplug then
    // .plug): the backend goes Closing, the frontend must let go (a clean unplug asks the guest),
    // both xenstore directories are removed, and a new backend for the same devid and the same
    // disk or network is created, which the frontend connects to again. It is NOT the xl backend's
    // driver unbind/bind in dom0 (no consent asked, directories kept); see docs/real-pool.md.
    restartBackend: async (ref, dev) => {
      const g = this.st.g(ref);
      const devRef = this.findDevice(g, dev);
      const cls = dev.startsWith('vbd/') ? 'VBD' : 'VIF';
      await this.st.s.callAsync(`${cls}.unplug`, devRef).catch((e: unknown) => {
        throw this.detachRefused(g, dev, e);
      });
      await this.st.s.callAsync(`${cls}.plug`, devRef);
    },
    // Written where the device's backend really is (the frontend's `backend` key: backend/vbd3 for a
    // pool's tapdisk3 disks, backend/vbd or qdisk elsewhere), never at a path guessed from the device
    // type, which on a vbd3 pool would be a stray node nobody reads and the step reported as done.
    forceBackendState: async (ref, dev, state) => {
      const xs = this.dom0.xs;
      const backend = await xs.read(`${homePath(ref)}/device/${dev}/backend`);
      if (!backend || !/^\/local\/domain\/\d+\/backend\/[a-z0-9]+\/\d+\/\d+$/.test(backend) || (await xs.read(`${backend}/state`)) === null) {
        throw hostError('XAPI_NO_DEVICE', `${ref.name} has no backend for ${dev} (its frontend names ${backend === null ? 'none' : `'${backend}'`})`);
      }
      await xs.write(`${backend}/state`, String(state));
    },
  };

  /** The run's data disk of a guest, made and plugged once, on first use. */
  dataDisk(g: XGuest): Promise<{ dev: DeviceRef; label: string }> {
    return (g.dataDisk ??= this.addDataDisk(g).catch((e: unknown) => {
      g.dataDisk = undefined;
      throw e;
    }));
  }

  /**
   * The data disk a verifying workload runs on instead of the system disk: a new VDI in the default
   * SR and a VBD at the first userdevice from 4 up that neither the VM nor the scenario uses (so on
   * xvd, not the emulated IDE of userdevices 0-3), tagged with the run and hot-plugged like any
   * scenario disk. It goes with the guest (destroyVm takes the VM's disks; a kept guest's revert
   * removes the run's loose disks), so nothing is left on the pool.
   */
  private async addDataDisk(g: XGuest): Promise<{ dev: DeviceRef; label: string }> {
    const used = new Set(((this.st.vm(g)?.VBDs as string[]) ?? []).map((b) => String(this.st.s.get(b)?.userdevice)));
    for (const v of g.shape.vbds) used.add(userdeviceOf(v.vdev));
    const ud = [...Array(12).keys()].map((i) => i + 4).find((n) => !used.has(String(n)));
    if (ud === undefined) throw hostError('XAPI_NO_DEVICE', `${g.ref.name} has no free userdevice (4-15) for the data disk of a verifying workload`);
    const vdev = `xvd${String.fromCharCode(97 + ud)}`;
    const dev = await this.hotplug.attachVbd(g.ref, { vdev, sizeMiB: DATA_DISK_MIB, mode: 'w', backend: {} });
    if (this.st.cfg.dom0) await this.waitConnected(g, dev);
    const label = `${vdev} (the run's data disk, ${DATA_DISK_MIB} MiB, userdevice ${ud})`;
    this.st.log(g.inst, 'info', `${g.ref.name}: data disk ${label} created and plugged for verifying workloads`);
    return { dev, label };
  }

  /** Until the guest's frontend of a new disk is Connected (xenvbd then reports the disk to Windows). */
  private async waitConnected(g: XGuest, dev: DeviceRef): Promise<void> {
    const path = `${homePath(g.ref)}/device/${dev}/state`;
    const until = Date.now() + this.st.cfg.timeouts.bootMs;
    while ((await this.dom0.xs.read(path).catch(() => null)) !== '4') {
      if (Date.now() > until) throw hostError('XAPI_TIMEOUT', `${g.ref.name}'s data disk ${dev} did not connect within ${Math.round(this.st.cfg.timeouts.bootMs / 1000)} s`);
      await this.st.clock.sleep(this.st.cfg.pauses.diskStateMs);
    }
  }

  /** XENVBD's target id of a disk: read from the frontend (device/vbd/<id>/target-id) or the userdevice. */
  async vbdTarget(g: XGuest, dev: DeviceRef): Promise<number | undefined> {
    const devid = dev.split('/')[1];
    if (this.st.cfg.dom0) {
      const v = await this.dom0.xs.read(`${homePath(g.ref)}/device/vbd/${devid}/target-id`).catch(() => null);
      if (v !== null && /^\d+$/.test(v)) return Number(v);
    }
    return undefined;
  }

  /** A local bundle's ISO as a VDI of a writable ISO SR in the guest's CD drive (iso-disc.ts says
   *  why that way); undefined when the pool has no such SR (the agent then copies the bundle over SFTP). */
  async deliverDisc(g: XGuest, isoPath: string, version: string): Promise<IsoDisc | undefined> {
    const s = this.st.s;
    const vm = this.st.vm(g)!;
    const [sr] = writableIsoSrs(s, { named: this.st.cfg.isoSr, host: vm.resident_on as string });
    if (!sr) {
      if (this.st.cfg.isoSr) throw hostError('XAPI_NO_ISO_SR', `no ISO SR '${this.st.cfg.isoSr}' on the pool for the bundle ISO`);
      return undefined;
    }
    const cd = this.cdDrive(g);
    const disc = await uploadDisc(s, { sr, cd, isoPath, runId: this.st.runId, owner: g.owner, version });
    this.st.log(g.inst, 'info', `bundle ${version} uploaded as ISO VDI ${disc.name} into SR '${String(sr.name_label)}' and inserted into ${g.ref.name}'s CD drive`);
    return disc;
  }

  /** For `winpv run`'s install step on this host: insert a bundle ISO from the ISO SR into the guest's CD drive. */
  async insertIso(ref: GuestRef, isoName: string): Promise<void> {
    const s = this.st.s;
    const g = this.st.g(ref);
    const sr = this.st.cfg.isoSr;
    // a CD drive takes only ISO SR VDIs (xapi refuses others with VDI_IS_NOT_ISO)
    const vdi = s.all('VDI').find((v) => {
      const vsr = s.get(v.SR as string);
      return v.name_label === isoName && vsr?.content_type === 'iso' && (!sr || vsr.name_label === sr || vsr.uuid === sr);
    });
    if (!vdi) throw hostError('XAPI_NO_ISO', `no ISO '${isoName}' in ${sr ? `SR '${sr}'` : 'any ISO SR'}`);
    const cd = this.cdDrive(g);
    if (cd.empty !== true) await s.callAsync('VBD.eject', cd.$ref);
    await s.callAsync('VBD.insert', cd.$ref, vdi.$ref);
  }

  private cdDrive(g: XGuest) {
    const vm = this.st.vm(g)!;
    const cd = ((vm.VBDs as string[]) ?? []).map((b) => this.st.s.get(b)).find((b) => b?.type === 'CD');
    if (!cd) throw hostError('XAPI_NO_CD', `${g.ref.name} has no CD drive for the bundle ISO`);
    return cd;
  }
}
