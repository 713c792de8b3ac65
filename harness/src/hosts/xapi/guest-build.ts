// Building a guest from a scenario's guest shape on a pool: fast clone of a template, vCPUs and
// memory, VIFs and VBDs as the shape asks, every object tagged with the run. Pure XenAPI calls; the
// caller destroys the VM (and so everything here) when a step fails.
import type { XapiRecord } from 'xen-api';
import type { GuestShape, VbdShape } from '../../model/scenario';
import { hostError, isWinpvError, usageError } from '../../model/errors';
import { NULL_REF, num, XapiSession } from './session';
import { tagsFor, vmName } from './tags';
import { withRunMac } from '../guest-mac';

const MiB = 2 ** 20;

/** XAPI userdevice for a Xen vdev name: hd[a-d] -> 0..3, xvd?/sd? -> letter index. */
export function userdeviceOf(vdev: string): string {
  const m = /^(?:hd|xvd|sd)([a-z])$/.exec(vdev);
  if (!m) throw usageError(`XenAPI guests take disks named hda..hdd or xvda..xvdz, not '${vdev}'`);
  return String(m[1]!.charCodeAt(0) - 97);
}

export function findByNameOrUuid(s: XapiSession, type: string, key: string, extra: (r: XapiRecord) => boolean = () => true): XapiRecord | undefined {
  const all = s.all(type).filter(extra);
  return all.find((r) => r.uuid === key) ?? all.find((r) => r.name_label === key) ?? all.find((r) => r.bridge === key);
}

export function findTemplate(s: XapiSession, key: string): XapiRecord {
  const t = findByNameOrUuid(s, 'VM', key, (r) => r.is_a_template === true && r.is_a_snapshot !== true);
  if (!t) throw hostError('XAPI_NO_TEMPLATE', `no template named '${key}' on the pool (give a name label or UUID in the host's "template" setting or the guest's image)`);
  return t;
}

function networkFor(s: XapiSession, template: XapiRecord, key: string | undefined): string {
  if (key) {
    const n = findByNameOrUuid(s, 'network', key);
    if (!n) throw hostError('XAPI_NO_NETWORK', `no network named '${key}' on the pool`);
    return n.$ref;
  }
  for (const v of (template.VIFs as string[]) ?? []) {
    const vif = s.get(v);
    if (vif) return vif.network as string;
  }
  const any = s.all('network').find((n) => n.bridge === 'xenbr0') ?? s.all('network')[0];
  if (!any) throw hostError('XAPI_NO_NETWORK', 'the pool has no network for the guest VIFs');
  return any.$ref;
}

function diskSr(s: XapiSession, vm: XapiRecord): string {
  const pool = s.all('pool')[0];
  if (pool && pool.default_SR !== NULL_REF && s.get(pool.default_SR as string)) return pool.default_SR as string;
  for (const b of (vm.VBDs as string[]) ?? []) {
    const vbd = s.get(b);
    const vdi = vbd && vbd.type === 'Disk' ? s.get(vbd.VDI as string) : undefined;
    if (vdi) return vdi.SR as string;
  }
  throw hostError('XAPI_NO_SR', 'the pool has no default SR for the guest disks');
}

export interface BuildOptions {
  runId: string;
  owner: string;
  template: string;
  network?: string;
  now: Date;
  /** Called with each VM ref as soon as it exists, so a failure later still destroys it. */
  created(vmRef: string): void;
  /** What the build did differently from the shape, and why (into the trace). */
  log?(msg: string): void;
}

/** XenAPI has no call that writes a device's backend keys before the guest sees them. */
function refuseBackendOverrides(shape: GuestShape): void {
  const devices = [...shape.vbds.map((v) => ({ keys: v.backend, what: v.vdev })), ...shape.vifs.map((v) => ({ keys: v.backend, what: `vif ${v.devid}` }))];
  for (const d of devices) {
    if (Object.keys(d.keys).length) {
      throw hostError('XAPI_UNSUPPORTED_SHAPE', `guest ${shape.name}: XenAPI cannot override backend keys (${Object.keys(d.keys).join(', ')}) of ${d.what}`);
    }
  }
}

export async function buildGuest(s: XapiSession, shape: GuestShape, o: BuildOptions): Promise<string> {
  refuseBackendOverrides(shape);
  const tpl = findTemplate(s, shape.image ?? o.template);
  const tags = tagsFor(o.runId, o.owner, o.now);
  const vm = await s.callAsync<string>('VM.clone', tpl.$ref, vmName(o.runId, o.owner));
  o.created(vm);
  for (const [k, v] of Object.entries(tags)) await s.call('VM.add_to_other_config', vm, k, v);
  await s.callAsync('VM.provision', vm);
  await s.call('VM.set_is_a_template', vm, false);
  // A crash leaves the domain in place (Paused) so that it is seen as a crash, not a reboot.
  await s.call('VM.set_actions_after_crash', vm, 'preserve');
  if (shape.platformDevice !== undefined) await setPlatformDevice(s, vm, shape.platformDevice);

  const rec = await s.client.getRecord('VM', vm);
  if (shape.vcpus > num(rec.VCPUs_max)) {
    await s.call('VM.set_VCPUs_max', vm, shape.vcpus);
    await s.call('VM.set_VCPUs_at_startup', vm, shape.vcpus);
  } else {
    await s.call('VM.set_VCPUs_at_startup', vm, shape.vcpus);
    await s.call('VM.set_VCPUs_max', vm, shape.vcpus);
  }
  const mem = shape.memoryMiB * MiB;
  await s.call('VM.set_memory_limits', vm, Math.min(num(rec.memory_static_min), mem), mem, mem, mem);

  // VIFs exactly as the shape says: the clone's own go, the shape's come.
  const network = networkFor(s, tpl, o.network);
  for (const v of (rec.VIFs as string[]) ?? []) await s.call('VIF.destroy', v);
  // A Windows guest on a pool is driven over SSH: a shape without a VIF still gets VIF 0, on the
  // guests' network, for that (its emulated NIC is how the guest is found and reached).
  const vifs = shape.vifs.length ? shape.vifs : [{ devid: 0, backend: {} }];
  if (!shape.vifs.length) o.log?.(`guest ${shape.name} has no VIF in the scenario: VIF 0 added on the guests' network, to reach it over SSH`);
  for (const v of vifs) {
    const { mac } = withRunMac(o.runId, o.owner, v, (msg) => o.log?.(msg));
    await s.call('VIF.create', {
      device: String(v.devid), network, VM: vm, MAC: mac, MTU: 1500, other_config: tags,
      qos_algorithm_type: '', qos_algorithm_params: {}, locking_mode: 'network_default', ipv4_allowed: [], ipv6_allowed: [],
    });
  }

  // Disks: the template's (cloned) disk at a userdevice is kept; others the shape names are created.
  const existing = new Map<string, XapiRecord>();
  for (const b of (rec.VBDs as string[]) ?? []) {
    const vbd = await s.client.getRecord('VBD', b);
    existing.set(String(vbd.userdevice), vbd);
  }
  const sr = diskSr(s, rec);
  for (const v of shape.vbds) await addDisk(s, vm, v, existing, sr, tags, o);
  return vm;
}

async function addDisk(s: XapiSession, vm: string, v: VbdShape, existing: Map<string, XapiRecord>, sr: string, tags: Record<string, string>, o: BuildOptions) {
  const ud = userdeviceOf(v.vdev);
  const have = existing.get(ud);
  if (have && have.type === 'Disk') return;
  if (have) await s.call('VBD.destroy', have.$ref);
  const vdi = await s.call<string>('VDI.create', {
    name_label: `${vmName(o.runId, o.owner)}:${v.vdev}`, name_description: 'winpv test disk', SR: sr, virtual_size: v.sizeMiB * MiB,
    type: 'user', sharable: false, read_only: false, other_config: tags, xenstore_data: {}, sm_config: {}, tags: [],
  }).catch((e: unknown) => {
    // sm's "insufficient space" (SR_BACKEND_FAILURE_44): say which disk, which SR and what is free
    if (!isWinpvError(e) || e.code !== 'XAPI_SR_BACKEND_FAILURE_44') throw e;
    const r = s.get(sr);
    const free = r ? Math.max(0, num(r.physical_size) - num(r.physical_utilisation)) : NaN;
    throw hostError('XAPI_SR_FULL', `guest ${o.owner}: disk ${v.vdev} (${v.sizeMiB} MiB) does not fit in SR '${String(r?.name_label ?? sr)}' (${Math.floor(free / MiB)} MiB free): free space there (winpv xapi gc) or make a larger SR the pool's default`, e);
  });
  await s.call('VBD.create', {
    VM: vm, VDI: vdi, userdevice: ud, bootable: false, mode: v.mode === 'r' ? 'RO' : 'RW', type: 'Disk', empty: false,
    other_config: tags, qos_algorithm_type: '', qos_algorithm_params: {},
  });
}

/** The Xen PCI devices the guest gets (capability platform-device), set while the VM is halted:
 *  `platform:device_id` is the id xenopsd gives QEMU's xen-platform device (xen-api
 *  ocaml/xenopsd/xc/xenops_server_xen.ml, revision 2; 0001 without it); `has_vendor_device` adds
 *  XenServer's vendor device 5853:C000 beside it (xenopsd xc/device.ml xen-pvdevice), which xapi lets
 *  change only on a halted VM (xapi_vm.ml set_has_vendor_device: VM_BAD_POWER_STATE otherwise).
 *  "C000" is the vendor device beside platform device 0002, as XenServer's Windows templates have it. */
async function setPlatformDevice(s: XapiSession, vm: string, device: string): Promise<void> {
  const vendor = device.toUpperCase() === 'C000';
  const id = vendor ? '0002' : device;
  await s.call('VM.remove_from_platform', vm, 'device_id');
  await s.call('VM.add_to_platform', vm, 'device_id', id);
  await s.call('VM.set_has_vendor_device', vm, vendor);
}
