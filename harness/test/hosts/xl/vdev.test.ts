import t from 'tap';
import { vdevToDevid } from '../../../src/hosts/xl/vdev';
import { devidToLinuxDisk } from '../../../src/guests/linux/workloads';

t.test('Xen vdev numbering (docs/misc/vbd-interface.txt)', async (t) => {
  t.equal(vdevToDevid('xvda'), 51712);
  t.equal(vdevToDevid('xvdb'), 51728);
  t.equal(vdevToDevid('xvda1'), 51713);
  t.equal(vdevToDevid('xvdq'), (1 << 28) | (16 << 8));
  t.equal(vdevToDevid('hda'), 768);
  t.equal(vdevToDevid('hdc'), 22 << 8);
  t.equal(vdevToDevid('sdb'), 2064);
  t.equal(vdevToDevid('51712'), 51712);
  t.throws(() => vdevToDevid('nvme0n1'), /not a Xen virtual disk/);
});

t.test('and back to the name the Linux guest gives the disk', async (t) => {
  for (const v of ['xvda', 'xvdb', 'xvdp', 'xvdq', 'xvdz', 'xvdaa']) t.equal(devidToLinuxDisk(vdevToDevid(v)), v);
  t.throws(() => devidToLinuxDisk(768), /not a xvd device/);
});
