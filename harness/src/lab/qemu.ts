// The QEMU command line that boots Xen with dom0. Measured on 2-core Debian 12 machines: KVM does not
// run these kernels, so it is TCG with a CPU that offers SVM and nested paging (Debian's Xen has no
// shadow paging, HVM guests need +npt; `-cpu max` breaks dom0 through SMAP under TCG).
import { usageError } from '../model/errors';

export interface QemuBoot {
  xen: string;
  kernel: string;
  initrd: string;
  rootfs: string;
  serialLog: string;
  pidFile: string;
  /** QMP control socket (unix), where `lab down` asks QEMU to quit. */
  qmpSocket?: string;
  sshPort: number;
  /** Memory of the whole machine; dom0 gets DOM0_MEM of it, guests the rest. */
  memoryMiB?: number;
  cpus?: number;
}

const DOM0_MEM = '1536M';
export const XEN_CMDLINE = `console=com1 com1=115200,8n1 dom0_mem=${DOM0_MEM},max:${DOM0_MEM} dom0_max_vcpus=2 noreboot`;
export const DOM0_CMDLINE = 'root=/dev/vda rw console=hvc0 earlyprintk=xen net.ifnames=0';

/** A file name inside QEMU's multiboot module list: commas separate modules (doubled to escape),
 *  the first space separates the file from its command line, so a space cannot be escaped. */
function moduleArg(file: string, cmdline: string): string {
  if (/\s/.test(file)) throw usageError(`the lab directory must not contain whitespace (QEMU's multiboot loader cannot take it): ${file}`);
  return `${file} ${cmdline}`.replace(/,/g, ',,');
}

/** The argv (with `nice -n 10` in front: the machine is shared). */
export function qemuArgv(b: QemuBoot): string[] {
  return [
    'nice', '-n', '10',
    'qemu-system-x86_64',
    '-name', 'winpv-lab',
    '-machine', 'q35',
    '-accel', 'tcg,thread=multi',
    '-cpu', 'qemu64,+svm,+npt',
    '-smp', String(b.cpus ?? 2),
    '-m', String(b.memoryMiB ?? 3072),
    '-kernel', b.xen,
    '-append', XEN_CMDLINE,
    '-initrd', `${moduleArg(b.kernel, DOM0_CMDLINE)},${moduleArg(b.initrd, '')}`.replace(/ $/, ''),
    // snapshot=on: writes go to a temporary overlay, so every boot starts from the built image.
    '-drive', `file=${b.rootfs.replace(/,/g, ',,')},if=virtio,format=raw,snapshot=on`,
    '-netdev', `user,id=net0,hostfwd=tcp:127.0.0.1:${b.sshPort}-:22`,
    '-device', 'virtio-net-pci,netdev=net0',
    '-serial', `file:${b.serialLog}`,
    '-display', 'none',
    '-monitor', 'none',
    '-pidfile', b.pidFile,
    ...(b.qmpSocket ? ['-qmp', `unix:${b.qmpSocket},server=on,wait=off`] : []),
  ];
}
