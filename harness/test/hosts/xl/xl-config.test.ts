import t from 'tap';
import { domainName, xlConfig, xlString } from '../../../src/hosts/xl/xl-config';
import type { GuestShape } from '../../../src/model/scenario';

const shape: GuestShape = { name: 'g1', os: 'linux', vcpus: 1, memoryMiB: 128, vbds: [{ vdev: 'xvda', sizeMiB: 64, mode: 'w', backend: {} }], vifs: [{ devid: 0, backend: {} }] };
const files = { kernel: '/k/vmlinuz', ramdisk: '/k/initrd', disks: { xvda: '/r/g1-xvda.img' } };

t.test('a PV guest: lab kernel, crash preserved, one disk and one vif', async (t) => {
  const c = xlConfig('winpv-i-g1', shape, files, { bridge: 'xenbr0' });
  t.match(c, /^type = "pv"$/m);
  t.match(c, /^on_crash = "preserve"$/m);
  t.match(c, /^kernel = "\/k\/vmlinuz"$/m);
  t.match(c, /^extra = ".*\bsysrq_always_enabled\b.*"$/m, 'xl sysrq c can panic the guest (guest-crash fault)');
  t.match(c, /^disk = \[ "format=raw,vdev=xvda,access=rw,target=\/r\/g1-xvda.img" \]$/m);
  t.match(c, /^vif = \[ "bridge=xenbr0,devid=0" \]$/m);
});

t.test('an HVM guest from a user image gets the Xen platform PCI device', async (t) => {
  const c = xlConfig('w', { ...shape, os: 'windows', image: '/img/win.raw' }, { disks: { xvda: '/img/win.raw' } }, { bridge: 'xenbr0' });
  t.match(c, /^type = "hvm"$/m);
  t.match(c, /^xen_platform_pci = 1$/m);
  t.notMatch(c, /kernel/);
  t.match(c, /^serial = "pty"$/m, 'no serial log asked for: a pty');
  t.match(c, /^boot = "c"$/m, 'a user image boots through the BIOS from its disk');
});

t.test('the lab\'s own Linux HVM disk is booted directly, still attached as the emulated boot disk; its serial port goes to a file', async (t) => {
  const c = xlConfig('h', { ...shape, image: '/lab/linux-hvm.img' }, {
    disks: { xvda: '/dev/loop0' }, serialLog: '/var/log/xen/s.log',
    directBoot: { kernel: '/lab/vmlinuz', ramdisk: '/lab/initrd', cmdline: 'console=hvc0' },
  }, { bridge: 'xenbr0' });
  t.match(c, /^type = "hvm"$/m);
  t.match(c, /^kernel = "\/lab\/vmlinuz"$/m);
  t.match(c, /^ramdisk = "\/lab\/initrd"$/m);
  t.match(c, /^cmdline = "console=hvc0"$/m);
  t.match(c, /^serial = "file:\/var\/log\/xen\/s.log"$/m);
  t.match(c, /vdev=xvda/, 'the image is still the emulated disk the guest unplugs');
});

t.test('values that would break out of the config or a spec string are refused', async (t) => {
  t.throws(() => xlString('a"b'), /not allowed/);
  t.throws(() => xlConfig('n', shape, { ...files, disks: { xvda: '/r/x,script=/evil' } }, { bridge: 'xenbr0' }), /must not contain/);
  t.throws(() => xlConfig('n', { ...shape, vifs: [{ devid: 0, mac: '00:16:3e:00:00:zz', backend: {} }] }, files, { bridge: 'xenbr0' }), /not a MAC/);
  t.throws(() => xlConfig('n', shape, { disks: files.disks }, { bridge: 'xenbr0' }), /needs a kernel/);
});

t.test('domain names keep to what xl accepts', async (t) => {
  t.equal(domainName('vbd-connect[order=2]', 'g 1'), 'winpv-vbd-connect_order_2_-g_1');
});

t.test('a memory target below the static maximum: memory is the target, maxmem the static maximum', async (t) => {
  const cfg = xlConfig('g', { ...shape, memoryMiB: 384, memoryTargetMiB: 256 }, { kernel: '/k', ramdisk: '/r', disks: { xvda: '/dev/loop0' } }, { bridge: 'xenbr0' });
  t.match(cfg, /^memory = 256$/m);
  t.match(cfg, /^maxmem = 384$/m);
  t.notMatch(xlConfig('g', shape, { kernel: '/k', ramdisk: '/r', disks: { xvda: '/dev/loop0' } }, { bridge: 'xenbr0' }), /maxmem/, 'none without a target');
});

t.test('the disks name the block hotplug script the host put into dom0', async (t) => {
  const cfg = xlConfig('g', shape, { kernel: '/k', ramdisk: '/r', disks: { xvda: '/dev/loop0' }, blockScript: '/var/lib/winpv/run/block-phy' }, { bridge: 'xenbr0' });
  t.match(cfg, /^disk = \[ "format=raw,vdev=xvda,access=rw,script=\/var\/lib\/winpv\/run\/block-phy,target=\/dev\/loop0" \]$/m, 'script before target (xl reads target last)');
});
