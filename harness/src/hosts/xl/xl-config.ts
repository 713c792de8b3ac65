// The xl domain configuration a guest shape becomes. Values are written as xl config strings
// (double-quoted, with the characters xl's parser treats specially refused), never spliced raw.
import { usageError } from '../../model/errors';
import type { GuestShape, VbdShape, VifShape } from '../../model/scenario';

/** A string literal in xl's config syntax. xl has no escapes, so quotes and newlines are refused. */
export function xlString(s: string): string {
  if (/["\\\n\r\0]/.test(s)) throw usageError(`value not allowed in an xl config (quote, backslash or newline): ${JSON.stringify(s)}`);
  return `"${s}"`;
}

/** Refuses the separators of xl's disk/vif specification strings inside one value. */
function specValue(what: string, s: string): string {
  if (/[,=\s"\\]/.test(s)) throw usageError(`${what} must not contain commas, '=', quotes or whitespace: ${JSON.stringify(s)}`);
  return s;
}

export interface XlGuestFiles {
  /** PV guests without an image: the kernel and initramfs in dom0. */
  kernel?: string;
  ramdisk?: string;
  /** Disk file per vdev, in dom0. */
  disks: Record<string, string>;
  /** The block and vif hotplug scripts (hosts/xl/block-script.ts), when dom0 has them. */
  blockScript?: string;
  vifScript?: string;
  /** HVM guests: where QEMU writes the emulated serial port (BIOS, boot loader and kernel messages
   *  before the PV console exists), so a guest that halts early can be diagnosed; a pty otherwise. */
  serialLog?: string;
  /** HVM guests: load this kernel and initramfs through QEMU's firmware interface instead of having
   *  the BIOS read them from the boot disk (which stays attached as the emulated disk and is unplugged
   *  as usual). Only for the lab's own Linux HVM disk: see LAB_HVM_DIRECT_BOOT in xl-host.ts. */
  directBoot?: { kernel: string; ramdisk: string; cmdline: string };
}

/** `script`: the block hotplug script (xl runs /etc/xen/scripts/block without one); target comes last. */
export function diskSpec(vbd: VbdShape, target: string, script?: string): string {
  return `format=raw,vdev=${specValue('vdev', vbd.vdev)},access=${vbd.mode === 'r' ? 'ro' : 'rw'},${script ? `script=${specValue('script', script)},` : ''}target=${specValue('disk path', target)}`;
}

/** `script`: the vif hotplug script (xl runs /etc/xen/scripts/vif-bridge without one). */
export function vifSpec(vif: VifShape, defaultBridge: string, script?: string): string {
  const parts = [`bridge=${specValue('bridge', vif.bridge ?? defaultBridge)}`, `devid=${vif.devid}`];
  if (script) parts.push(`script=${specValue('script', script)}`);
  if (vif.mac) {
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(vif.mac)) throw usageError(`not a MAC address: ${vif.mac}`);
    parts.push(`mac=${vif.mac}`);
  }
  return parts.join(',');
}

/** The config file text. PV when there is no image (the lab's reference Linux guest), HVM with the
 *  Xen platform PCI device otherwise (a user-supplied disk image, e.g. Windows). */
export function xlConfig(name: string, shape: GuestShape, files: XlGuestFiles, opts: { bridge: string; uuid?: string }): string {
  const hvm = shape.image !== undefined;
  if (opts.uuid !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(opts.uuid)) throw usageError(`not a UUID: ${opts.uuid}`);
  const lines = [
    `name = ${xlString(name)}`,
    // The domain's handle in Xen, which xl list -v shows: it names the domain also once its name is
    // gone (a destroy begun and cut short: lifecycle.ts destroyGuest), and a reboot, restore or
    // migration keeps it (libxl carries the config's c_info.uuid over).
    ...(opts.uuid !== undefined ? [`uuid = ${xlString(opts.uuid)}`] : []),
    `type = ${hvm ? '"hvm"' : '"pv"'}`,
    // A memory target below the static maximum (memory-target): xl's `memory` is the target the
    // domain is built with (memory/target), `maxmem` the static maximum (memory/static-max); an HVM
    // guest so started runs populate-on-demand until its balloon gives the difference back.
    ...(shape.memoryTargetMiB !== undefined && shape.memoryTargetMiB < shape.memoryMiB
      ? [`memory = ${Math.floor(shape.memoryTargetMiB)}`, `maxmem = ${Math.floor(shape.memoryMiB)}`]
      : [`memory = ${Math.floor(shape.memoryMiB)}`]),
    `vcpus = ${Math.floor(shape.vcpus)}`,
    // A crashed domain stays listed (state `c`) so the run sees the crash and can collect it.
    'on_crash = "preserve"',
    'on_poweroff = "destroy"',
    'on_reboot = "restart"',
  ];
  if (hvm) {
    // serial: xl hands the value to QEMU's -serial, where `file:PATH` is a character device backend.
    const serial = files.serialLog ? `file:${files.serialLog}` : 'pty';
    lines.push('xen_platform_pci = 1', 'device_model_version = "qemu-xen"', 'vnc = 0', `serial = ${xlString(serial)}`, 'boot = "c"');
    const d = files.directBoot;
    if (d) lines.push(`kernel = ${xlString(d.kernel)}`, `ramdisk = ${xlString(d.ramdisk)}`, `cmdline = ${xlString(d.cmdline)}`);
  } else {
    if (!files.kernel || !files.ramdisk) throw usageError(`guest ${shape.name}: a PV guest needs a kernel and ramdisk in dom0 (the lab provides them)`);
    // sysrq_always_enabled: `xl sysrq <dom> c` (xenstore control/sysrq, handled by the guest kernel)
    // panics the guest even while its console agent is busy; Debian's default sysrq mask refuses `c`.
    lines.push(`kernel = ${xlString(files.kernel)}`, `ramdisk = ${xlString(files.ramdisk)}`, 'extra = "console=hvc0 quiet sysrq_always_enabled"');
  }
  const disks = shape.vbds.map((v) => diskSpec(v, files.disks[v.vdev]!, files.blockScript));
  lines.push(`disk = [ ${disks.map(xlString).join(', ')} ]`);
  lines.push(`vif = [ ${shape.vifs.map((v) => xlString(vifSpec(v, opts.bridge, files.vifScript))).join(', ')} ]`);
  return lines.join('\n') + '\n';
}

/** A domain name for a guest of a scenario instance: xl allows letters, digits, `-`, `_`, `.`. */
export function domainName(inst: string, guest: string, tag?: string): string {
  return `winpv-${tag ? `${tag}-` : ''}${inst}-${guest}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 60);
}
