// Xen's virtual block device numbering (docs/misc/vbd-interface.txt): the devid a vdev name gets
// in xenstore (`device/vbd/<devid>`).
import { usageError } from '../../model/errors';

function diskIndex(letters: string): number {
  let n = 0;
  for (const ch of letters) n = n * 26 + (ch.charCodeAt(0) - 96);
  return n - 1;
}

/** `xvda` -> 51712, `xvdb3` -> 51731, `hda` -> 768, `sdb` -> 2064, `xvdaa` -> (1 << 28) | (26 << 8). */
export function vdevToDevid(vdev: string): number {
  const m = /^(xvd|hd|sd)([a-z]+)(\d*)$/.exec(vdev);
  if (!m) {
    if (/^\d+$/.test(vdev)) return Number(vdev);
    throw usageError(`not a Xen virtual disk name: '${vdev}' (expected xvdX, hdX, sdX or a number)`);
  }
  const disk = diskIndex(m[2]!);
  const part = m[3] ? Number(m[3]) : 0;
  if (m[1] === 'xvd') {
    if (disk < 16 && part < 16) return (202 << 8) | (disk << 4) | part;
    return (1 << 28) | (disk << 8) | part;
  }
  if (m[1] === 'hd') {
    if (disk > 3 || part > 63) throw usageError(`${vdev}: hd disks go up to hdd, partitions to 63`);
    const major = [3, 3, 22, 22][disk]!;
    return (major << 8) | ((disk % 2) << 6) | part;
  }
  if (disk > 15 || part > 15) throw usageError(`${vdev}: sd disks go up to sdp, partitions to 15`);
  return (8 << 8) | (disk << 4) | part;
}
