// The emulated-device unplug protocol of the Xen platform PCI device, as QEMU implements it
// (docs/misc/hvm-emulated-unplug.pandoc): reading u16 port 0x10 gives the magic 0x49d2; a non-zero
// protocol version at port 0x12 asks the driver to identify itself (product u16 to 0x12, build u32
// to 0x10); the magic is read again (0xd249 means this product/build is blacklisted); writing a
// mask to 0x10 unplugs the emulated devices it names.

const UNPLUG_PORT = 0x10;
const UNPLUG_VERSION_PORT = 0x12;
const UNPLUG_MAGIC = 0x49d2;
const UNPLUG_BLACKLISTED = 0xd249;
const UNPLUG_PROTOCOL_VERSION = 1;
// hvm-emulated-unplug.pandoc mask bits
export const UNPLUG_ALL_IDE_DISKS = 1 << 0;
export const UNPLUG_ALL_NICS = 1 << 1;
const UNPLUG_AUX_IDE_DISKS = 1 << 2;
export const UNPLUG_NVME_DISKS = 1 << 3;

export class PlatformDevice {
  product?: number;
  build?: number;
  unpluggedMask = 0;
  /** Product numbers QEMU refuses (blacklisted drivers). */
  blacklist = new Set<number>();
  /** Port accesses, in order (tests assert the handshake). */
  readonly log: string[] = [];

  inw(port: number): number {
    this.log.push(`inw ${hex(port)}`);
    if (port === UNPLUG_PORT) return this.product !== undefined && this.blacklist.has(this.product) ? UNPLUG_BLACKLISTED : UNPLUG_MAGIC;
    if (port === UNPLUG_VERSION_PORT) return UNPLUG_PROTOCOL_VERSION;
    return 0xffff;
  }

  inb(port: number): number {
    this.log.push(`inb ${hex(port)}`);
    return port === UNPLUG_VERSION_PORT ? UNPLUG_PROTOCOL_VERSION : 0xff;
  }

  outw(port: number, v: number): void {
    this.log.push(`outw ${hex(port)} ${hex(v)}`);
    if (port === UNPLUG_VERSION_PORT) this.product = v;
    else if (port === UNPLUG_PORT) this.unpluggedMask |= v;
  }

  outl(port: number, v: number): void {
    this.log.push(`outl ${hex(port)} ${hex(v)}`);
    if (port === UNPLUG_PORT) this.build = v;
  }

  get disksUnplugged(): boolean {
    return (this.unpluggedMask & (UNPLUG_ALL_IDE_DISKS | UNPLUG_AUX_IDE_DISKS)) !== 0;
  }

  get nicsUnplugged(): boolean {
    return (this.unpluggedMask & UNPLUG_ALL_NICS) !== 0;
  }

  /** A reboot re-plugs everything (QEMU resets the emulated devices). */
  reset(): void {
    this.unpluggedMask = 0;
    this.product = undefined;
    this.build = undefined;
  }
}

/**
 * The driver side (xen.sys's unplug): check the magic, identify, re-check, write the mask.
 * Returns false when the platform does not support unplug or blacklisted the driver.
 */
export function performUnplug(dev: PlatformDevice, mask: number, product: number, build: number): boolean {
  if (dev.inw(UNPLUG_PORT) !== UNPLUG_MAGIC) return false;
  if (dev.inb(UNPLUG_VERSION_PORT) !== 0) {
    dev.outw(UNPLUG_VERSION_PORT, product);
    dev.outl(UNPLUG_PORT, build);
    if (dev.inw(UNPLUG_PORT) !== UNPLUG_MAGIC) return false;
  }
  if (mask) dev.outw(UNPLUG_PORT, mask);
  return true;
}

const hex = (n: number) => '0x' + n.toString(16);
