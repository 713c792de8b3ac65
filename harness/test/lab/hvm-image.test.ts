// The lab's HVM Linux boot disk, built for real from a stand-in kernel and an initramfs read out of an
// ext4 image (as from dom0's root filesystem): FAT with syslinux's boot sector, the three files in it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { LabImage } from '../../src/lab/build';
import { ensureHvmImage, HVM_DISK_MIB, HVM_SYSLINUX_CFG, hvmImageFile } from '../../src/lab/hvm-image';
import { DOM0_GUEST_INITRD } from '../../src/lab/recipe';
import { skipUnlessTool } from '../support/tools';

const skip = skipUnlessTool('mke2fs', 'debugfs', 'mkfs.vfat', 'mcopy', 'mtype', 'syslinux');

t.test('a bootable FAT disk with syslinux, the kernel, the initramfs and syslinux.cfg; built once', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-hvm-test-'));
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, DOM0_GUEST_INITRD, '..'), { recursive: true });
  writeFileSync(join(tree, DOM0_GUEST_INITRD), 'initramfs bytes');
  writeFileSync(join(dir, 'vmlinuz'), 'kernel bytes');
  const rootfs = join(dir, 'rootfs.img');
  t.equal(spawnSync('mke2fs', ['-q', '-t', 'ext4', '-d', tree, rootfs, '8M']).status, 0, 'a stand-in dom0 root filesystem');
  const image = { dir, key: 'k', kernel: join(dir, 'vmlinuz'), rootfs } as LabImage;
  const said: string[] = [];
  const gz = await ensureHvmImage(image, (m) => said.push(m));
  t.equal(gz, hvmImageFile(image));
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, gunzipSync(readFileSync(gz)));
  const bytes = readFileSync(disk);
  t.equal(bytes.length, HVM_DISK_MIB * 1024 * 1024);
  t.same([bytes[510], bytes[511]], [0x55, 0xaa], 'a boot sector');
  t.match(bytes.subarray(0, 512).toString('latin1'), /SYSLINUX/, "syslinux's boot code, no partition table");
  const type = (f: string) => spawnSync('mtype', ['-i', disk, `::${f}`], { encoding: 'utf8' }).stdout;
  t.equal(type('vmlinuz'), 'kernel bytes');
  t.equal(type('initrd'), 'initramfs bytes', 'the initramfs read out of the root filesystem image');
  t.equal(type('syslinux.cfg'), HVM_SYSLINUX_CFG);
  t.match(spawnSync('mdir', ['-a', '-i', disk, '::/'], { encoding: 'utf8' }).stdout, /LDLINUX\s+SYS|ldlinux\.sys/i, 'the syslinux loader is installed');
  t.match(said.join('\n'), /HVM Linux guest disk built/);
  said.length = 0;
  await ensureHvmImage(image, (m) => said.push(m));
  t.same(said, [], 'cached beside the lab image');
});

t.test('a root filesystem without the guest initramfs is a clear error', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-hvm-test-'));
  mkdirSync(join(dir, 'empty'));
  const rootfs = join(dir, 'rootfs.img');
  spawnSync('mke2fs', ['-q', '-t', 'ext4', '-d', join(dir, 'empty'), rootfs, '8M']);
  writeFileSync(join(dir, 'vmlinuz'), 'k');
  await t.rejects(ensureHvmImage({ dir, key: 'k', kernel: join(dir, 'vmlinuz'), rootfs } as LabImage, () => undefined), { code: 'LAB_HVM_IMAGE', message: /initrd-pv\.img/ });
  t.notOk(existsSync(join(dir, 'linux-hvm.img.gz')));
});
