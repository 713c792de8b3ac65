// The toolstack's part (as libxl does it): the xenstore entries of a domain and its devices, with
// the permissions libxl sets (frontend dir owned by the guest and readable by the backend domain,
// backend dir owned by dom0 and readable by the guest), backend creation, graceful and surprise
// device removal, and backend restart.
import { vdevToDevid } from '../model/vdev';
import type { DeviceRef, DiskBackendType, VbdShape, VifShape } from '../model/scenario';
import { XenbusState } from '../model/xenbus';
import { hostError } from '../model/errors';
import type { Domain, Hypervisor } from './hypervisor';
import { Blkback } from './backend/blkback';
import { Tapback } from './backend/tapback';
import { Netback } from './backend/netback';
import type { XenbusBackend } from './backend/xenbus-backend';
import type { VirtualBridge } from './bridge';
import type { SparseDisk } from './disk';
import { readInt } from './xs';
import { HOST_TIMINGS } from './timings';

/** How long the toolstack waits for a device to close before removing it anyway (libxl: 10 s). */
const DEVICE_REMOVE_TIMEOUT_MS = HOST_TIMINGS.deviceRemoveTimeoutMs;

export interface DeviceRecord {
  dev: DeviceRef;
  backend: XenbusBackend;
  shape: VbdShape | VifShape;
  disk?: SparseDisk;
}

export class Toolstack {
  readonly devices = new Map<string, DeviceRecord>();

  constructor(
    readonly hv: Hypervisor,
    readonly dom0: Domain,
    readonly bridge: (name: string) => VirtualBridge,
    /** The backend of a disk whose shape names none (a `vbd3` host label: tapdisk3, as a XenServer pool). */
    readonly diskBackend: DiskBackendType = 'vbd',
  ) {}

  /** The backend driver serving a disk: the scenario's choice, else the host's default. */
  private diskBackendFor(d: Domain, devid: number, shape: VbdShape, disk?: SparseDisk): Blkback {
    return (shape.backendType ?? this.diskBackend) === 'vbd3' ? new Tapback(this.hv, this.dom0, d.domid, devid, shape, disk) : new Blkback(this.hv, this.dom0, d.domid, devid, shape, disk);
  }

  private key(domid: number, dev: DeviceRef): string {
    return `${domid}:${dev}`;
  }

  record(domid: number, dev: DeviceRef): DeviceRecord | undefined {
    return this.devices.get(this.key(domid, dev));
  }

  devicesOf(domid: number): DeviceRecord[] {
    return [...this.devices.entries()].filter(([k]) => k.startsWith(`${domid}:`)).map(([, v]) => v);
  }

  /** The domain's own keys (libxl__domain_make): name, domid, and the writable subtrees the guest owns. */
  async createDomainKeys(d: Domain, name: string, memoryKiB: number, targetKiB = memoryKiB): Promise<void> {
    const xs = this.dom0.xs;
    const h = d.home;
    await xs.write(h, '');
    await xs.setPerms(h, ['n0', `r${d.domid}`]);
    await xs.write(`${h}/name`, name);
    await xs.write(`${h}/domid`, String(d.domid));
    await xs.write(`${h}/memory/target`, String(targetKiB));
    await xs.write(`${h}/memory/static-max`, String(memoryKiB));
    for (const sub of ['device', 'control', 'data', 'drivers', 'attr', 'feature', 'error']) {
      await xs.mkdir(`${h}/${sub}`);
      await xs.setPerms(`${h}/${sub}`, [`n${d.domid}`]);
    }
    // control/shutdown is written by the toolstack and cleared by the guest
    await xs.write(`${h}/control/shutdown`, '');
    await xs.setPerms(`${h}/control/shutdown`, [`n${d.domid}`]);
    await xs.mkdir(`/local/domain/0/backend/vbd/${d.domid}`);
    await xs.mkdir(`/local/domain/0/backend/vif/${d.domid}`);
  }

  async addVbd(d: Domain, shape: VbdShape, disk?: SparseDisk): Promise<DeviceRecord> {
    const devid = vdevToDevid(shape.vdev);
    if (devid === undefined) throw hostError('SIM_BAD_VDEV', `cannot derive a devid from vdev '${shape.vdev}'`);
    const dev: DeviceRef = `vbd/${devid}`;
    const be = this.diskBackendFor(d, devid, shape, disk);
    // xenopsd (xen-api ocaml/xenopsd/xc/device.ml Vbd.add) for a tapdisk3 disk: params is the VDI's
    // block device in dom0; the hotplug script and tapback write the rest (Tapback.probe). libxl for
    // blkback: its own keys and the hotplug script's physical-device.
    const beKeys: Record<string, string> = be instanceof Tapback
      ? { mode: shape.mode, params: `/dev/sm/backend/sim/${shape.vdev}` }
      : { params: `sim:${shape.vdev}`, type: 'phy', mode: shape.mode, dev: shape.vdev, 'device-type': 'disk', removable: '0', bootable: '1', 'discard-enable': '1', 'physical-device': '202:0' };
    await this.writeDevice(d, dev, be.bePath, be.fePath, { 'virtual-device': String(devid), 'device-type': 'disk' }, beKeys);
    const rec: DeviceRecord = { dev, backend: be, shape, disk: be.disk };
    this.devices.set(this.key(d.domid, dev), rec);
    await this.probe(d, be);
    return rec;
  }

  async addVif(d: Domain, shape: VifShape): Promise<DeviceRecord> {
    const dev: DeviceRef = `vif/${shape.devid}`;
    const mac = shape.mac ?? defaultMac(d.domid, shape.devid);
    const bridge = this.bridge(shape.bridge ?? 'xenbr0');
    const be = new Netback(this.hv, this.dom0, d.domid, shape, bridge);
    await this.writeDevice(d, dev, be.bePath, be.fePath, { handle: String(shape.devid), mac }, {
      handle: String(shape.devid),
      mac,
      bridge: bridge.name,
      script: 'vif-bridge',
      type: 'vif',
    });
    const rec: DeviceRecord = { dev, backend: be, shape };
    this.devices.set(this.key(d.domid, dev), rec);
    await this.probe(d, be);
    await this.dom0.xs.write(`${be.bePath}/hotplug-status`, 'connected');
    return rec;
  }

  private async writeDevice(d: Domain, dev: DeviceRef, bePath: string, fePath: string, fe: Record<string, string>, be: Record<string, string>): Promise<void> {
    const xs = this.dom0.xs;
    await xs.transaction(async (tx) => {
      // Directory first with its permissions, so every key below inherits them (as libxl does).
      await tx.write(fePath, '');
      await tx.setPerms(fePath, [`n${d.domid}`, 'r0']);
      await tx.write(`${fePath}/backend`, bePath);
      await tx.write(`${fePath}/backend-id`, '0');
      await tx.write(`${fePath}/state`, String(XenbusState.Initialising));
      for (const [k, v] of Object.entries(fe)) await tx.write(`${fePath}/${k}`, v);
      await tx.write(bePath, '');
      await tx.setPerms(bePath, ['n0', `r${d.domid}`]);
      await tx.write(`${bePath}/frontend`, fePath);
      await tx.write(`${bePath}/frontend-id`, String(d.domid));
      await tx.write(`${bePath}/online`, '1');
      await tx.write(`${bePath}/state`, String(XenbusState.Initialising));
      for (const [k, v] of Object.entries(be)) await tx.write(`${bePath}/${k}`, v);
    });
    void dev;
  }

  /** The new backend's probe. While the toolstack builds a domain it is paused, so the backends are at
   *  InitWait before its frontends start. On a running domain (hot-plug) dom0's xenbus sees the new
   *  directory through its watch and probes the backend a backend reaction later (sim/timings.ts, the
   *  lab's figure), while the guest may already see its new device: a frontend must wait for InitWait
   *  (win-xenvbd/win-xenvif frontend.c FrontendPrepare). libxl's device add returns once the backend is
   *  at InitWait (libxl__wait_device_connection), so this does too. */
  private async probe(d: Domain, be: XenbusBackend): Promise<void> {
    const reactMs = d.state === 'running' ? d.timings.backendReactionMs : 0;
    if (reactMs > 0) await this.hv.sched.sleep(reactMs);
    await be.probe();
  }

  /**
   * Removes a device. Graceful (libxl device remove): online=0, backend to Closing, wait for the
   * backend to reach Closed (at most DEVICE_REMOVE_TIMEOUT_MS), then delete both directories.
   * Surprise: the backend is torn down and the directories deleted at once, requests in flight and all.
   */
  async removeDevice(d: Domain, dev: DeviceRef, opts: { surprise: boolean }): Promise<void> {
    const rec = this.record(d.domid, dev);
    if (!rec) throw hostError('SIM_NO_DEVICE', `d${d.domid} has no device ${dev}`);
    const be = rec.backend;
    if (!opts.surprise && d.state !== 'dead') {
      await this.dom0.xs.write(`${be.bePath}/online`, '0');
      await be.force(XenbusState.Closing);
      const deadline = this.hv.sched.now() + DEVICE_REMOVE_TIMEOUT_MS;
      while (this.hv.sched.now() < deadline && !be.isRemoved) {
        const s = await readInt(this.dom0.xs, `${be.bePath}/state`);
        if (s === undefined || s === XenbusState.Closed) break;
        await this.hv.sched.sleep(5);
      }
    }
    await be.remove({ surprise: opts.surprise });
    await this.dom0.xs.rm(be.fePath);
    this.devices.delete(this.key(d.domid, dev));
  }

  /** Restarts a backend: Closing, wait for the frontend to close, then a fresh backend on the same disk. */
  async restartBackend(d: Domain, dev: DeviceRef): Promise<void> {
    const rec = this.record(d.domid, dev);
    if (!rec) throw hostError('SIM_NO_DEVICE', `d${d.domid} has no device ${dev}`);
    const old = rec.backend;
    await old.force(XenbusState.Closing);
    const deadline = this.hv.sched.now() + DEVICE_REMOVE_TIMEOUT_MS;
    while (this.hv.sched.now() < deadline) {
      const s = await readInt(this.dom0.xs, `${old.fePath}/state`);
      if (s === undefined || s === XenbusState.Closed) break;
      await this.hv.sched.sleep(5);
    }
    await old.force(XenbusState.Closed);
    await this.resetBackend(d, dev);
  }

  /** Replaces a backend without a handshake (the frontend is suspended): the new one probes to InitWait. */
  async resetBackend(d: Domain, dev: DeviceRef): Promise<void> {
    const rec = this.record(d.domid, dev);
    if (!rec) return;
    await rec.backend.detachDriver();
    // As when libxl re-creates a device for a resumed domain: the frontend entry starts over at
    // Initialising, so the fresh backend does not connect to the rings of before the suspend.
    await this.dom0.xs.write(`${rec.backend.fePath}/state`, String(XenbusState.Initialising));
    rec.backend = this.freshBackend(d, rec);
    await rec.backend.probe();
  }

  private freshBackend(d: Domain, rec: DeviceRecord): XenbusBackend {
    return 'vdev' in rec.shape
      ? this.diskBackendFor(d, Number(rec.dev.split('/')[1]), rec.shape, rec.disk)
      : new Netback(this.hv, this.dom0, d.domid, rec.shape, this.bridge(rec.shape.bridge ?? 'xenbr0'));
  }

  /** A domain is going away: every backend of it is torn down and its directories removed. */
  async destroyDevices(d: Domain): Promise<void> {
    for (const rec of this.devicesOf(d.domid)) {
      await rec.backend.remove({ surprise: true });
      this.devices.delete(this.key(d.domid, rec.dev));
    }
    await this.dom0.xs.rm(`/local/domain/0/backend/vbd/${d.domid}`);
    await this.dom0.xs.rm(`/local/domain/0/backend/vbd3/${d.domid}`);
    await this.dom0.xs.rm(`/local/domain/0/backend/vif/${d.domid}`);
    await this.dom0.xs.rm(d.home);
  }
}

const hex2 = (n: number) => (n & 0xff).toString(16).padStart(2, '0');

/** The MAC the toolstack gives a VIF whose guest names none, when the guest is created (Xen's OUI,
 *  00:16:3e, as libxl's libxl__device_nic_setdefault; from the domid and devid instead of libxl's
 *  random bytes, so a seeded run is the same every time). */
export function defaultMac(domid: number, devid: number): string {
  return `00:16:3e:${hex2(domid)}:${hex2(devid)}:${hex2((domid * 7 + devid) & 0xff)}`;
}
