import t from 'tap';
import { devidToVdev, requireDevid, vdevToDevid } from '../../src/model/vdev';
import { devidToLinuxDisk } from '../../src/guests/linux/workloads';

t.test('Xen vdev numbering (docs/misc/vbd-interface.txt)', async (t) => {
  t.equal(vdevToDevid('xvda'), 51712);
  t.equal(vdevToDevid('xvdb'), 51728);
  t.equal(vdevToDevid('xvda1'), 51713);
  t.equal(vdevToDevid('xvdq'), (1 << 28) | (16 << 8));
  t.equal(vdevToDevid('hda'), 768);
  t.equal(vdevToDevid('hdb'), 832);
  t.equal(vdevToDevid('hdc'), 22 << 8);
  t.equal(vdevToDevid('hdd'), 5696);
  t.equal(vdevToDevid('sdb'), 2064);
  t.equal(vdevToDevid('51712'), 51712);
  t.equal(vdevToDevid('nvme0n1'), undefined);
  t.equal(vdevToDevid('hde'), undefined, 'IDE has four disks');
  t.equal(vdevToDevid('xvda16'), (1 << 28) | 16, 'partitions past 15 need the extended scheme');
  t.throws(() => requireDevid('nvme0n1'), /not a Xen virtual disk/);
});

t.test('devid back to its name, for every name the scheme has', async (t) => {
  const names = ['xvda', 'xvdb3', 'xvdp', 'xvdq', 'xvdz', 'xvdaa', 'xvdaa7', 'hda', 'hdb', 'hdc', 'hdd', 'hdd63', 'sda', 'sdp15'];
  for (const v of names) t.equal(devidToVdev(vdevToDevid(v)!), v, v);
  t.equal(devidToVdev(7 << 8), undefined, 'major 7 (loop) is not a Xen disk');
});

t.test('and to the name the Linux guest gives the disk', async (t) => {
  for (const v of ['xvda', 'xvdb', 'xvdp', 'xvdq', 'xvdz', 'xvdaa']) t.equal(devidToLinuxDisk(vdevToDevid(v)!), v);
  t.throws(() => devidToLinuxDisk(768), /not a xvd device/);
});
