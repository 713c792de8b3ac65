// Xen virtual block device names -> the numeric devid used in xenstore paths, per Xen's
// docs/misc/vbd-interface.txt: xvd<d> = 202<<8 | d<<4 (d < 16), extended xvd = 1<<28 | d<<8,
// hd<a..d> on majors 3 and 22, sd<d> = 8<<8 | d<<4 (d < 16). Partitions are not devices here.

/** Disk index of a letter suffix: a=0, z=25, aa=26, ... */
function diskIndex(letters: string): number {
  let n = 0;
  for (const ch of letters) n = n * 26 + (ch.charCodeAt(0) - 96);
  return n - 1;
}

/** The devid of a vdev name (`xvda` -> 51712) or a plain number; undefined when not a disk name. */
export function vdevToDevid(vdev: string): number | undefined {
  if (/^\d+$/.test(vdev)) return Number(vdev);
  let m = /^xvd([a-z]+)$/.exec(vdev);
  if (m) {
    const d = diskIndex(m[1]);
    return d < 16 ? (202 << 8) | (d << 4) : (1 << 28) | (d << 8);
  }
  m = /^hd([a-d])$/.exec(vdev);
  if (m) {
    const d = diskIndex(m[1]);
    return ((d < 2 ? 3 : 22) << 8) | ((d % 2) << 6);
  }
  m = /^sd([a-p])$/.exec(vdev);
  if (m) return (8 << 8) | (diskIndex(m[1]) << 4);
  return undefined;
}
