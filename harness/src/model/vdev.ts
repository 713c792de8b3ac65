// Xen virtual block device names -> the numeric devid used in xenstore paths (`device/vbd/<devid>`),
// per Xen's docs/misc/vbd-interface.txt: xvd<d> = 202<<8 | d<<4 | p (d, p < 16), extended
// xvd = 1<<28 | d<<8 | p, hd<a..d> on majors 3 and 22 (64 partitions each, two disks per major),
// sd<d> = 8<<8 | d<<4 | p. The one place winpv numbers disks: scenarios, hosts and tests use it.
import { usageError } from './errors';

/** Disk index of a letter suffix: a=0, z=25, aa=26, ... */
function diskIndex(letters: string): number {
  let n = 0;
  for (const ch of letters) n = n * 26 + (ch.charCodeAt(0) - 96);
  return n - 1;
}

/** The letters of disk index `d`: 0=a, 25=z, 26=aa, ... */
function diskLetters(d: number): string {
  let s = '';
  for (let n = d + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(97 + ((n - 1) % 26)) + s;
  return s;
}

/** The devid of a vdev name (`xvda` -> 51712, `xvdb3` -> 51731, `hda` -> 768) or a plain number;
 *  undefined when it is not a Xen disk name or is out of the scheme's range. */
export function vdevToDevid(vdev: string): number | undefined {
  if (/^\d+$/.test(vdev)) return Number(vdev);
  const m = /^(xvd|hd|sd)([a-z]+)(\d*)$/.exec(vdev);
  if (!m) return undefined;
  const disk = diskIndex(m[2]!);
  const part = m[3] ? Number(m[3]) : 0;
  switch (m[1]) {
    case 'xvd':
      if (disk < 16 && part < 16) return (202 << 8) | (disk << 4) | part;
      return disk < 1 << 20 && part < 256 ? (1 << 28) | (disk << 8) | part : undefined;
    case 'hd':
      if (disk > 3 || part > 63) return undefined;
      return ([3, 3, 22, 22][disk]! << 8) | ((disk % 2) << 6) | part;
    default:
      return disk > 15 || part > 15 ? undefined : (8 << 8) | (disk << 4) | part;
  }
}

/** vdevToDevid that fails with a usage error naming the accepted forms. */
export function requireDevid(vdev: string): number {
  const id = vdevToDevid(vdev);
  if (id === undefined) throw usageError(`not a Xen virtual disk name: '${vdev}' (expected xvdX, hdX (a-d), sdX (a-p) or a number)`);
  return id;
}

/** The name of a devid (`51712` -> `xvda`, `51713` -> `xvda1`, `768` -> `hda`); undefined for
 *  numbers outside the scheme. */
export function devidToVdev(devid: number): string | undefined {
  const name = (prefix: string, disk: number, part: number) => `${prefix}${diskLetters(disk)}${part || ''}`;
  if (devid >>> 28 === 1) return name('xvd', (devid >>> 8) & 0xfffff, devid & 0xff);
  const major = devid >>> 8;
  const minor = devid & 0xff;
  if (major === 202) return name('xvd', minor >>> 4, minor & 15);
  if (major === 8) return name('sd', minor >>> 4, minor & 15);
  if ((major === 3 || major === 22) && minor < 128) return name('hd', (major === 22 ? 2 : 0) + (minor >>> 6), minor & 63);
  return undefined;
}
