// The PV frontends of a Windows guest: xenvbd and xenvif make one for every device directory the
// toolstack writes (at boot and on hot-plug, dropping those removed), each with its fault switches,
// the guest's registry parameters and, after a move, what its predecessor negotiated.
import type { DriverName, DriverSpec } from '../../model/spec';
import type { DeviceRef, GuestShape } from '../../model/scenario';
import { vdevToDevid } from '../../model/vdev';
import type { Domain } from '../hypervisor';
import type { Toolstack } from '../toolstack';
import type { GuestFaults } from '../faults';
import type { XenbusFrontend } from '../frontend/xenbus-frontend';
import { Xenvbd, xenvbdTargetId } from '../frontend/xenvbd';
import { Xenvif } from '../frontend/xenvif';
import { DeviceFaults } from './device-faults';
import type { GuestKeys } from './guest-keys';

/** What the frontends need of their guest. */
export interface FrontendsGuest {
  /** The guest's domain now (a restore moves it into a new one). */
  dom(): Domain;
  readonly shape: GuestShape;
  readonly toolstack: Toolstack;
  readonly faults: GuestFaults;
  readonly keys: GuestKeys;
  spec(name: DriverName): DriverSpec;
  /** Whether the guest enumerates devices of a type now (booted, not suspending, its driver bound). */
  scans(type: 'vbd' | 'vif'): boolean;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void;
}

export class GuestFrontends {
  readonly live = new Map<DeviceRef, XenbusFrontend>();
  readonly faults = new DeviceFaults();
  /** The vif-rescan-lost fault has struck: new VIFs are not enumerated until the next boot. */
  vifScanStopped = false;
  /** While a restored guest comes up: what each device's frontend negotiated before the move. */
  negotiatedBefore = new Map<DeviceRef, ReadonlyMap<string, string | null>>();

  constructor(private readonly g: FrontendsGuest) {}

  /** Faults for a device's frontend (present and future instances); `*` applies to every device. */
  deviceFaults(dev: DeviceRef | '*'): ReturnType<DeviceFaults['switches']> {
    const f = this.faults.switches(dev);
    for (const fe of this.live.values()) if (dev === '*' || fe.dev === dev) fe.faults = this.faults.effective(fe.dev);
    return f;
  }

  /** Re-reads the fault switches into the live frontends (after the injector changed them). */
  refreshFaults(): void {
    for (const fe of this.live.values()) fe.faults = this.faults.effective(fe.dev);
  }

  /** Creates frontends for new device directories (boot and hotplug) and drops removed ones. */
  async scan(type: 'vbd' | 'vif'): Promise<void> {
    if (!this.g.scans(type)) return;
    if (type === 'vif' && this.vifScanStopped) return;
    const dom = this.g.dom();
    const ids = await dom.xs.directory(`${dom.home}/device/${type}`);
    const removed = await this.dropRemoved(type, ids);
    // win-xenvif fdo.c FdoScan re-reads device/vif on every event of the watch __FdoD3ToD0 set, an empty
    // directory included, so a VIF added after the last one went is enumerated like any other. The
    // vif-rescan-lost fault is an FDO that drops that watch (as __FdoD0ToD3 does) when its last child goes.
    if (type === 'vif' && removed > 0 && ids.length === 0 && this.g.faults.vifRescanLost) {
      this.vifScanStopped = true;
      this.g.log('warn', 'xenvif: last VIF removed; no longer scanning device/vif');
      return;
    }
    for (const id of ids) {
      const dev = `${type}/${Number(id)}` as DeviceRef;
      if (this.live.has(dev)) continue;
      const fe = this.create(type, id);
      fe.faults = this.faults.effective(dev);
      fe.registry = this.g.shape.registry ?? [];
      const before = this.negotiatedBefore.get(dev);
      if (before) fe.inheritNegotiated(before);
      this.live.set(dev, fe);
      void this.start(fe, type, Number(id));
    }
  }

  /** The frontends of a type whose device directory is gone, detached; how many. */
  private async dropRemoved(type: 'vbd' | 'vif', ids: string[]): Promise<number> {
    let removed = 0;
    for (const [dev, fe] of this.live) {
      if (fe.type === type && !ids.includes(String(fe.devid))) {
        this.live.delete(dev);
        await fe.detach();
        removed++;
      }
    }
    return removed;
  }

  private create(type: 'vbd' | 'vif', id: string): XenbusFrontend {
    const { shape } = this.g;
    return type === 'vbd'
      ? new Xenvbd(this.g.dom(), this.g.spec('xenvbd'), Number(id), shape.vbds.find((v) => String(this.devidOf(v.vdev)) === id) ?? { vdev: id, sizeMiB: 0, mode: 'w', backend: {} }, shape.vcpus)
      : new Xenvif(this.g.dom(), this.g.spec('xenvif'), Number(id), shape.vifs.find((v) => v.devid === Number(id)) ?? { devid: Number(id), backend: {} }, shape.vcpus);
  }

  private devidOf(vdev: string): number | undefined {
    const rec = this.g.toolstack.devicesOf(this.g.dom().domid).find((r) => 'vdev' in r.shape && r.shape.vdev === vdev);
    return rec ? Number(rec.dev.split('/')[1]) : undefined;
  }

  private async start(fe: XenbusFrontend, type: 'vbd' | 'vif', id: number): Promise<void> {
    const keys = this.g.keys;
    try {
      if (type === 'vif') {
        await keys.writeGuestKey('xenvif', 'feature/hotplug/vif', '1');
        const n = [...this.live.values()].filter((f) => f.type === 'vif').indexOf(fe);
        await keys.writeGuestKey('xenvif', `attr/vif/${id}/name`, `Ethernet${n > 0 ? ` ${n + 1}` : ''}`);
        await keys.writeGuestKey('xenvif', `attr/vif/${id}/ipv4/0`, `10.0.${this.g.dom().domid & 0xff}.${(id + 2) & 0xff}`);
      } // xenvbd's data/scsi/target keys are its frontend's prepare step (Xenvbd.prepare)
      await fe.start();
      // Windows puts its page file and crash dump on the boot disk (the first one) and tells that disk's
      // stack so (IRP_MN_DEVICE_USAGE_NOTIFICATION): xenvbd's target.c __TargetDeviceUsageNotification ->
      // frontend.c FrontendSetDeviceUsage writes the target's paging and dump flags, which the crash-dump
      // path looks for (xencrsh fdo.c FdoFindTarget).
      const boot = this.g.shape.vbds[0] && vdevToDevid(this.g.shape.vbds[0].vdev);
      if (type === 'vbd' && id === boot) {
        for (const usage of ['paging', 'dump']) await keys.writeGuestKey('xenvbd', `data/scsi/target/${xenvbdTargetId(id)}/${usage}`, '1');
      }
    } catch (e) {
      this.g.log('error', `${fe.dev}: ${(e as Error).message}`);
    }
  }

  /** Every frontend detached and forgotten (the driver stacks are gone). */
  async detachAll(): Promise<void> {
    for (const fe of this.live.values()) await fe.detach();
    this.live.clear();
  }
}
