// The lab's HVM Linux guest: a raw disk image that boots through the BIOS like any user-supplied
// image (a Windows disk, say), so the xl backend's HVM path (`<guest image="...">`: emulated disk,
// Xen platform PCI device, PV frontends after the unplug) can be run without one. The disk is a FAT
// filesystem with no partition table whose boot sector is syslinux's, holding the reference guest's
// kernel and initramfs (the console agent of the PV guest, on hvc0). It is made on the machine
// running winpv without a mount or root (mkfs.vfat, mcopy, syslinux --install), once per lab image,
// and copied into dom0 at every `lab up` (dom0's root filesystem is a snapshot: nothing written there
// survives a boot).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { infraError } from '../model/errors';
import { writeFileAtomic } from '../util/atomic-write';
import type { LabImage } from './build';
import { runProcess, runProcessOk } from '../util/process';
import { DOM0_GUEST_HVM_IMAGE, DOM0_GUEST_INITRD } from './recipe';

/** Size of the boot disk (the kernel and initramfs take about 10 MB). */
export const HVM_DISK_MIB = 64;

/** syslinux.cfg: boot the kernel at once; the guest's /init talks on hvc0 (the PV console, which
 *  xenconsoled serves for HVM guests too); ttyS0 gets the kernel's messages as well. */
export const HVM_SYSLINUX_CFG = [
  'DEFAULT linux',
  'PROMPT 0',
  'TIMEOUT 0',
  'LABEL linux',
  '  KERNEL vmlinuz',
  '  APPEND initrd=initrd console=ttyS0 console=hvc0 quiet sysrq_always_enabled',
  '',
].join('\n');

/** Builds the disk ($1) from a kernel ($2), an initramfs ($3) and a syslinux.cfg ($4). */
const HVM_DISK_SCRIPT = [
  'set -eu',
  `truncate -s ${HVM_DISK_MIB}M "$1"`,
  'mkfs.vfat -n WINPVHVM "$1" >/dev/null',
  'mcopy -i "$1" "$2" ::vmlinuz',
  'mcopy -i "$1" "$3" ::initrd',
  'mcopy -i "$1" "$4" ::syslinux.cfg',
  'syslinux --install "$1"',
].join('\n');

/** Where the compressed disk is kept beside the lab image. */
export const hvmImageFile = (image: LabImage) => join(image.dir, 'linux-hvm.img.gz');

/** The gzipped boot disk for this lab image, built first if needed. */
export async function ensureHvmImage(image: LabImage, progress: (msg: string) => void): Promise<string> {
  const out = hvmImageFile(image);
  if (existsSync(out)) return out;
  const t0 = Date.now();
  const scratch = mkdtempSync(join(tmpdir(), 'winpv-hvm-'));
  try {
    const initrd = join(scratch, 'initrd-in');
    // the guest initramfs lives only inside dom0's root filesystem image: read it out without a mount
    const dump = await runProcess(['debugfs', '-R', `dump ${DOM0_GUEST_INITRD} ${initrd}`, image.rootfs]);
    if (dump.code !== 0 || !existsSync(initrd)) throw infraError('LAB_HVM_IMAGE', `cannot read ${DOM0_GUEST_INITRD} from ${image.rootfs}: ${dump.stderr.trim()}`);
    const cfg = join(scratch, 'syslinux.cfg-in');
    writeFileAtomic(cfg, HVM_SYSLINUX_CFG);
    const disk = join(scratch, 'linux-hvm.img');
    await runProcessOk(['sh', '-c', HVM_DISK_SCRIPT, 'sh', disk, image.kernel, initrd, cfg]);
    writeFileAtomic(out, gzipSync(readFileSync(disk), { level: 1 }));
    progress(`HVM Linux guest disk built in ${Math.round((Date.now() - t0) / 1000)} s`);
    return out;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The dom0 command that unpacks the disk from stdin into its place. */
export const INSTALL_HVM_IMAGE = `umask 022; mkdir -p "$(dirname ${DOM0_GUEST_HVM_IMAGE})" && gunzip > ${DOM0_GUEST_HVM_IMAGE}.part && mv ${DOM0_GUEST_HVM_IMAGE}.part ${DOM0_GUEST_HVM_IMAGE}`;
