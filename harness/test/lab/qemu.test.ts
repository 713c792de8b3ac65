import t from 'tap';
import { DOM0_CMDLINE, qemuArgv, XEN_CMDLINE } from '../../src/lab/qemu';

const boot = { xen: '/c/xen', kernel: '/c/vmlinuz', initrd: '/c/initrd.img', rootfs: '/c/rootfs.img', serialLog: '/c/serial.log', pidFile: '/c/qemu.pid', sshPort: 40022 };

t.test('TCG with SVM and nested paging, q35, multiboot Xen, user networking with the ssh forward', async (t) => {
  const a = qemuArgv(boot);
  t.same(a.slice(0, 3), ['nice', '-n', '10']);
  const opt = (name: string) => a[a.indexOf(name) + 1];
  t.equal(opt('-accel'), 'tcg,thread=multi');
  t.equal(opt('-cpu'), 'qemu64,+svm,+npt');
  t.equal(opt('-machine'), 'q35');
  t.equal(opt('-kernel'), '/c/xen');
  t.equal(opt('-append'), XEN_CMDLINE);
  t.match(XEN_CMDLINE, /dom0_mem=1536M,max:1536M/);
  t.equal(opt('-netdev'), 'user,id=net0,hostfwd=tcp:127.0.0.1:40022-:22');
  t.equal(opt('-serial'), 'file:/c/serial.log');
  t.match(opt('-drive'), /snapshot=on/);
  t.equal(opt('-pidfile'), '/c/qemu.pid');
  t.equal(qemuArgv({ ...boot, qmpSocket: '/c/qmp.sock' }).at(-1), 'unix:/c/qmp.sock,server=on,wait=off');
});

t.test('commas inside the multiboot modules are doubled; modules are separated by one comma', async (t) => {
  const a = qemuArgv({ ...boot, kernel: '/c,d/vmlinuz' });
  const initrd = a[a.indexOf('-initrd') + 1]!;
  t.equal(initrd, `/c,,d/vmlinuz ${DOM0_CMDLINE.replace(/,/g, ',,')},/c/initrd.img`);
});

t.test('a lab directory with whitespace is refused (QEMU cannot take it)', async (t) => {
  t.throws(() => qemuArgv({ ...boot, kernel: '/my lab/vmlinuz' }), /whitespace/);
});
