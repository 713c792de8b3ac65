// What the lab is made of: the Debian packages of dom0, the files written into its root filesystem,
// and the shell script that builds it all on the machine running winpv (as root: debootstrap and
// chroot need it). The script takes its inputs from the environment (set by build.ts) so nothing
// here names a mirror or a path of any machine; it prints `@@step <name>` lines that build.ts turns
// into progress reports.

/** Packages debootstrap installs into dom0 (minbase variant). */
export const DOM0_PACKAGES = [
  'systemd-sysv', 'udev', 'kmod', 'iproute2', 'bridge-utils', 'ifupdown', 'isc-dhcp-client',
  'openssh-server', 'linux-image-amd64', 'initramfs-tools', 'xen-utils-4.17', 'xen-utils-common',
  'xenstore-utils', 'busybox', 'e2fsprogs',
] as const;

/** Installed after the dist-upgrade (HVM guests need the device model). */
export const DOM0_EXTRA_PACKAGES = ['qemu-system-xen'] as const;

/** The hypervisor: downloaded and extracted on the machine running winpv, never installed there. */
const HYPERVISOR_PACKAGE = 'xen-hypervisor-4.17-amd64';

/** Packages whose versions key the image cache: a new version of any of them means a rebuild. */
export const CACHE_KEY_PACKAGES = [HYPERVISOR_PACKAGE, 'xen-utils-4.17', 'linux-image-amd64', 'qemu-system-xen'] as const;

/** Host tools the build and the boot need, by Debian package and the command that proves it is there. */
export const HOST_PACKAGES: readonly { pkg: string; cmd: string }[] = [
  { pkg: 'qemu-system-x86', cmd: 'qemu-system-x86_64' },
  { pkg: 'debootstrap', cmd: 'debootstrap' },
  { pkg: 'cpio', cmd: 'cpio' },
  { pkg: 'busybox-static', cmd: 'busybox' },
  { pkg: 'openssh-client', cmd: 'ssh-keygen' },
  { pkg: 'e2fsprogs', cmd: 'mke2fs' },
  { pkg: 'zstd', cmd: 'zstd' },
  // the HVM Linux guest's boot disk (lab/hvm-image.ts): FAT without a mount, syslinux's boot sector
  { pkg: 'dosfstools', cmd: 'mkfs.vfat' },
  { pkg: 'mtools', cmd: 'mcopy' },
  { pkg: 'syslinux', cmd: 'syslinux' },
];

/** Where the lab keeps things inside dom0. */
export const DOM0_LAB_DIR = '/var/lib/winpv-lab';
export const DOM0_GUEST_KERNEL = `${DOM0_LAB_DIR}/guest/vmlinuz`;
export const DOM0_GUEST_INITRD = `${DOM0_LAB_DIR}/guest/initrd-pv.img`;
/** The HVM Linux guest's boot disk, put into dom0 at every `lab up` (lab/hvm-image.ts): a user-style
 *  disk image for `<guest os="linux" image="...">`, with the same console agent as the PV guest. */
export const DOM0_GUEST_HVM_IMAGE = `${DOM0_LAB_DIR}/guest/linux-hvm.img`;

/** Kernel modules the reference PV guest loads, in dependency order (uncompressed into its initramfs). */
export const GUEST_MODULES = ['xen-blkfront', 'xen-netfront'] as const;

/** The PV guest's /init: a console agent. Commands arrive on hvc0 as `<id> <base64 script>` lines;
 *  their output is framed by markers that the Linux guest agent finds in xenconsoled's log. Base64
 *  keeps any byte of a script away from the tty's line discipline. */
export const GUEST_INIT = String.raw`#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.order); do insmod /modules/$m.ko 2>/dev/null; done
ip link set lo up
ip link set eth0 up 2>/dev/null
# xl shutdown: Linux's drivers/xen/manage.c (do_poweroff) calls orderly_poweroff(false), which runs the
# kernel's poweroff_cmd /sbin/poweroff and gives up if it fails; this shell is PID 1 and has no handler
# for the signal busybox's poweroff sends init. So /sbin/poweroff powers off itself; the kernel's
# device shutdown still closes the frontends (xenbus_dev_shutdown: Closing, then waits for Closed).
mkdir -p /sbin
printf '#!/bin/busybox sh
sync
exec /bin/busybox poweroff -f
' > /sbin/poweroff
chmod 755 /sbin/poweroff
exec 0</dev/hvc0 1>/dev/hvc0 2>&1
stty -echo 2>/dev/null
echo "@@winpv-guest ready"
while read -r id script; do
  echo "@@winpv-begin $id"
  echo "$script" | base64 -d > /tmp/cmd.sh
  sh /tmp/cmd.sh </dev/null 2>&1
  echo "@@winpv-end $id $?"
done
echo "@@winpv-guest console closed"
poweroff -f
`;

/** Files written into dom0's root filesystem (path -> content). */
export const DOM0_FILES: Record<string, string> = {
  '/etc/hostname': 'winpv-lab\n',
  '/etc/hosts': '127.0.0.1 localhost\n127.0.1.1 winpv-lab\n',
  '/etc/fstab': [
    '/dev/vda / ext4 defaults,noatime 0 1',
    // netback's io_ring_q* files live here
    'debugfs /sys/kernel/debug debugfs defaults 0 0',
    '',
  ].join('\n'),
  '/etc/network/interfaces': [
    'auto lo',
    'iface lo inet loopback',
    '',
    '# guests\' vifs join xenbr0, which carries dom0\'s own address (QEMU user networking, DHCP)',
    'auto xenbr0',
    'iface xenbr0 inet dhcp',
    '    bridge_ports eth0',
    '    bridge_stp off',
    '    bridge_fd 0',
    '',
  ].join('\n'),
  '/etc/modules-load.d/winpv-lab.conf': 'xen-blkback\nxen-netback\nloop\n',
  '/etc/ssh/sshd_config.d/winpv-lab.conf': 'PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\nMaxSessions 20\n',
  '/usr/sbin/policy-rc.d': '#!/bin/sh\n# no service starts inside the build chroot\nexit 101\n',
};

/** A literal dollar sign for shell parameter expansions inside the templates below. */
const D = '$';

/** The build script (bash, run as root on the machine running winpv).
 *  Inputs (environment): OUT (image directory), SUITE, MIRROR, SOURCES_LIST (dom0's sources.list),
 *  PUBKEY (the lab's SSH public key), DOM0_FILES_DIR (a tree copied over the rootfs), GUEST_INIT_FILE. */
export const BUILD_SCRIPT = String.raw`set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
work="$OUT/work"
rootfs="$work/rootfs"
step() { echo "@@step $*"; }
cleanup() {
  for m in dev/pts dev proc sys; do umount -l "$rootfs/$m" 2>/dev/null || true; done
}
trap cleanup EXIT
rm -rf "$work"; mkdir -p "$work/xen"

step hypervisor
( cd "$work/xen" && apt-get download -q ${HYPERVISOR_PACKAGE} )
dpkg-deb -x "$work"/xen/*.deb "$work/xen/x"
xengz=$(ls "$work"/xen/x/boot/xen-*.gz | head -n1)
zcat "$xengz" > "$OUT/xen.part" && mv "$OUT/xen.part" "$OUT/xen"
dpkg-deb -f "$work"/xen/*.deb Version > "$OUT/xen.version"

step debootstrap
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$rootfs" "$MIRROR" > "$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log"; exit 1; }

step configure
cp -a "$DOM0_FILES_DIR"/. "$rootfs"/
chmod 755 "$rootfs/usr/sbin/policy-rc.d"
printf '%s\n' "$SOURCES_LIST" > "$rootfs/etc/apt/sources.list"
rm -f "$rootfs"/etc/apt/sources.list.d/*.sources
mount -t proc proc "$rootfs/proc"; mount -t sysfs sysfs "$rootfs/sys"
mount --bind /dev "$rootfs/dev"; mount --bind /dev/pts "$rootfs/dev/pts"

step dist-upgrade
chroot "$rootfs" apt-get -q update > "$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log"; exit 1; }
chroot "$rootfs" apt-get -y -q -o Dpkg::Options::=--force-confold dist-upgrade >> "$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log"; exit 1; }

step qemu-system-xen
chroot "$rootfs" apt-get -y -q --no-install-recommends -o Dpkg::Options::=--force-confold install $EXTRA >> "$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log"; exit 1; }
chroot "$rootfs" apt-get clean
# xenconsoled logs guest consoles to /var/log/xen/console/guest-<name>.log (the Linux guest agent reads them)
echo 'XENCONSOLED_ARGS="--log=guest"' >> "$rootfs/etc/default/xen"
chroot "$rootfs" systemctl disable xendomains.service >/dev/null 2>&1 || true
chroot "$rootfs" systemctl enable ssh.service >/dev/null 2>&1 || true
mkdir -p "$rootfs/var/log/xen/console" "$rootfs/root/.ssh" "$rootfs$LABDIR/guest" "$rootfs$LABDIR/run"
chmod 700 "$rootfs/root/.ssh"
printf '%s\n' "$PUBKEY" > "$rootfs/root/.ssh/authorized_keys"
chmod 600 "$rootfs/root/.ssh/authorized_keys"
rm -f "$rootfs/usr/sbin/policy-rc.d"
dpkg-query --admindir="$rootfs/var/lib/dpkg" -W -f='${D}{Package} ${D}{Version}\n' > "$OUT/dom0-packages.txt"
grep -q "^xen-utils-4.17 $(cat "$OUT/xen.version")$" "$OUT/dom0-packages.txt" || { echo "xen-utils-4.17 in dom0 does not match the hypervisor $(cat "$OUT/xen.version")"; exit 1; }

step kernel
kver=$(ls "$rootfs/lib/modules" | sort -V | tail -n1)
cp "$rootfs/boot/vmlinuz-$kver" "$OUT/vmlinuz"
cp "$rootfs/boot/initrd.img-$kver" "$OUT/initrd.img"
echo "$kver" > "$OUT/kernel.version"
cp "$rootfs/etc/ssh/ssh_host_ed25519_key.pub" "$OUT/host_ed25519.pub"

step guest-initramfs
g="$work/guest"; mkdir -p "$g/bin" "$g/modules"
cp "$(command -v busybox)" "$g/bin/busybox"
cp "$GUEST_INIT_FILE" "$g/init"; chmod 755 "$g/init"
: > "$g/modules.order"
for m in $GUEST_MODULES; do
  f=$(find "$rootfs/lib/modules/$kver" -name "$m.ko*" | head -n1)
  [ -n "$f" ] || { grep -q "/$m.ko" "$rootfs/lib/modules/$kver/modules.builtin" && continue; echo "module $m not found"; exit 1; }
  case "$f" in
    *.xz) xz -dc "$f" > "$g/modules/$m.ko" ;;
    *.zst) zstd -qdc "$f" > "$g/modules/$m.ko" ;;
    *) cp "$f" "$g/modules/$m.ko" ;;
  esac
  echo "$m" >> "$g/modules.order"
done
( cd "$g" && find . | cpio -o -H newc --quiet | gzip -1 ) > "$rootfs$LABDIR/guest/initrd-pv.img"
cp "$rootfs/boot/vmlinuz-$kver" "$rootfs$LABDIR/guest/vmlinuz"

step mke2fs
cleanup
rm -f "$OUT/rootfs.img"
mke2fs -q -t ext4 -L winpv-lab -d "$rootfs" "$OUT/rootfs.img.part" "$IMAGE_SIZE"
mv "$OUT/rootfs.img.part" "$OUT/rootfs.img"
rm -rf "$work"
step done
`;
