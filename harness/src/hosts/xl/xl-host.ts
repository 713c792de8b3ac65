// Plain Xen through `xl` over SSH (`xl://user@host[:port]`, and `lab`). Guests are created paused
// from a generated config, so the probes are attached before any frontend moves; everything the run
// creates in dom0 (configs, disks, save images) lives under RUN_DIR and goes with its domain.
import { guestError, hostError, unsupportedError, WinpvError } from '../../model/errors';
import type { Capability, FaultName } from '../../model/catalog';
import { dom0Load, dom0LoadProblem } from '../../remote/dom0-load';
import type {
  BackendControlCapability, FaultCapability, GuestAgent, GuestPowerState, GuestRef, HostBackend, HostClock, HostNeeds, HotplugCapability, SaveRestoreCapability,
} from '../../model/host';
import type { DeviceRef, FaultConfig, GuestShape, VbdShape, VifShape } from '../../model/scenario';
import type { GuestLifecycle, TraceSink } from '../../model/trace';
import { LinuxConsoleAgent, type ConsoleChannel } from '../../guests/linux/console-agent';
import { Dom0, type Dom0Link } from './dom0';
import { parseXlList, powerStateOf, type XlListEntry } from './parse';
import { XlRings } from './rings';
import { requireDevid } from '../../model/vdev';
import { XlXenstore } from './xenstore';
import { diskSpec, domainName, vifSpec, xlConfig } from './xl-config';

/** Where the lab image keeps the reference PV guest (lab/recipe: DOM0_GUEST_KERNEL/INITRD). */
export const GUEST_KERNEL = '/var/lib/winpv-lab/guest/vmlinuz';
export const GUEST_INITRD = '/var/lib/winpv-lab/guest/initrd-pv.img';
/** The lab's HVM Linux disk (lab/recipe DOM0_GUEST_HVM_IMAGE) holds this same kernel and initramfs.
 *  Under the lab's nested virtualisation (Xen on QEMU TCG with emulated SVM), SeaBIOS reading them
 *  from the emulated IDE disk by PIO ends in a triple fault of the guest within a minute (seen with
 *  Debian's Xen 4.17.7+13 and qemu-system-xen 7.2+dfsg-7+deb12u18; `xl dmesg`: "Triple fault -
 *  invoking HVM shutdown action", real mode, IDE status port), or takes over 20 minutes on a loaded
 *  machine. So the lab's own disk is booted directly (QEMU's fw_cfg loader), with the disk still the
 *  emulated boot disk, unplugged by the guest and served again by blkback. A user image (Windows)
 *  always boots through the BIOS. */
export const LAB_HVM_IMAGE = '/var/lib/winpv-lab/guest/linux-hvm.img';
const LAB_HVM_DIRECT_BOOT = { kernel: GUEST_KERNEL, ramdisk: GUEST_INITRD, cmdline: 'console=ttyS0 console=hvc0 quiet sysrq_always_enabled' };
/** Per-run files in dom0. */
export const RUN_DIR = '/var/lib/winpv/run';
export const BRIDGE = 'xenbr0';
/** Unbinds a xen-backend device ($1, `vbd-<domid>-<devid>`) from its driver and binds it again, then
 *  prints the driver's name. Measured on the lab (Linux 6.1): neither blkback nor netback writes a
 *  state on unbind (they allow rebinding, so the frontend stays Connected); the bind probes afresh
 *  (features, InitWait) and the backend reconnects to the rings the frontend still has. netback's
 *  remove also deletes `hotplug-status` and its netdev, and it connects only once the hotplug script
 *  says so: as libxl does at device creation, the vif's script ($2 = backend path, $3 = netdev)
 *  is run with `online` (it brings the new netdev up on its bridge and writes hotplug-status).
 *  Fails, naming the device, when dom0 has no such backend device bound to a driver. */
export const RESTART_BACKEND_SCRIPT = [
  'set -e',
  'd=/sys/bus/xen-backend/devices/$1',
  '[ -e "$d/driver" ] || { echo "no backend device $1 bound to a driver in /sys/bus/xen-backend" >&2; exit 1; }',
  'drv=$(readlink -f "$d/driver")',
  'echo "$1" > "$drv/unbind"',
  'echo "$1" > "$drv/bind"',
  'case "$1" in vif-*) if ! xenstore-read "$2/hotplug-status" >/dev/null 2>&1; then',
  '  script=$(xenstore-read "$2/script")',
  '  XENBUS_PATH=${2#/local/domain/0/} XENBUS_TYPE=vif XENBUS_BASE_PATH=backend script=$script vif=$3 "$script" online type_if=vif >&2',
  'fi ;; esac',
  'basename "$drv"',
].join('\n');

/** The faults real Xen can have, injected for real (see `faults`); scenarios needing the simulator-only
 *  ones (ring and xenstore misbehaviour, frontend bugs) are skipped by the planner with the reason. */
export const XL_FAULTS: ReadonlySet<FaultName> = new Set<FaultName>(['guest-crash', 'backend-closing', 'surprise-unplug']);

interface GuestRecord {
  ref: GuestRef;
  inst: string;
  shape: GuestShape;
  files: string[];
  /** Loop devices set up for the guest's disks (released at destroy). */
  loops: string[];
  agent?: GuestAgent;
  linux?: LinuxConsoleAgent;
  consoleOffset: number;
  /** The domain should be running: set once started, cleared before our own shutdown, destroy, save. */
  expectRunning: boolean;
  /** Lifecycle operations of ours under way (the domain goes away and comes back on purpose). */
  busy: number;
  /** Moves when an operation of ours starts or ends: an `xl list` taken across it is stale. */
  epoch: number;
  /** What crash detection reported (once per guest). */
  reported?: 'crashed' | 'halted-unexpectedly';
}

export interface XlHostOptions {
  label: string;
  /** Connects to dom0 (remote/ssh SshConnection.connect for real hosts; a fake in tests). */
  connect: () => Promise<Dom0Link>;
  /** How long a guest told to panic may take to be seen down (default CRASH_DETECT_MS). */
  crashDetectMs?: number;
  /** How long a rebooted guest's new domain may take to appear (default REBUILD_MS). */
  rebuildMs?: number;
  /** Put into every domain name (`winpv-<tag>-<inst>-<guest>`): the lease slot the run holds, so two
   *  runs sharing the host never name a domain alike, and a crashed run's leftovers are destroyed by
   *  the next run that takes its slot. */
  nameTag?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How long xl's monitor may take to build a rebooted guest's new domain after the old one is gone. */
const REBUILD_MS = 180_000;

/** How long a guest may take to be seen down after its kernel was told to panic (measured on the lab:
 *  0.5 s with the console free, 8 s with dd running). */
const CRASH_DETECT_MS = 60_000;

export class XlHost implements HostBackend {
  readonly kind = 'xl' as const;
  readonly label: string;
  /** `xl reboot` destroys the domain and builds a new one (on_reboot="restart"). */
  readonly rebootMakesNewDomain = true;
  /** `fault-injection` covers the faults of XL_FAULTS only (`faults.supported`). */
  /** No `windows-guest`: the xl backend boots a Windows image (os="windows" with a user image) but has
   *  no Windows agent to install drivers or run workloads, so Windows scenarios are skipped here with
   *  the reason rather than failing step by step. Drive Windows guests through XenAPI. */
  capabilities: ReadonlySet<Capability> = new Set<Capability>(['hotplug', 'save-restore', 'backend-control', 'backend-keys', 'fault-injection', 'linux-guest']);
  private t0 = Date.now();
  readonly clock: HostClock = { now: () => Date.now() - this.t0, sleep };
  private dom0Conn?: Dom0;
  private xs?: XlXenstore;
  private ringView?: XlRings;
  private trace?: TraceSink;
  private readonly guests = new Map<string, GuestRecord>();
  private bridgeAddress = '';
  private dropped?: Error;
  /** The connection dropped at some point of this run (teardown may have reconnected since). */
  private droppedOnce = false;

  constructor(private readonly opts: XlHostOptions) {
    this.label = opts.label;
  }

  private get dom0(): Dom0 {
    if (this.dropped) throw this.dropped;
    if (!this.dom0Conn) throw hostError('XL_NOT_OPEN', `host ${this.label} is not open`);
    return this.dom0Conn;
  }

  get xenstore(): XlXenstore {
    if (!this.xs) throw hostError('XL_NOT_OPEN', `host ${this.label} is not open`);
    return this.xs;
  }

  get rings(): XlRings {
    if (!this.ringView) throw hostError('XL_NOT_OPEN', `host ${this.label} is not open`);
    return this.ringView;
  }

  private async connect(): Promise<void> {
    const link = await this.opts.connect();
    link.onClose((err) => {
      if (err && this.dom0Conn?.link === link) {
        this.dropped = err instanceof WinpvError ? err : hostError('SSH_DROPPED', `connection to ${this.label} dropped: ${err.message}`);
        this.droppedOnce = true;
      }
    });
    this.dom0Conn = new Dom0(link, this.label);
    this.dropped = undefined;
    this.xs?.stopAll();
    this.xs = new XlXenstore(this.dom0Conn);
    this.ringView = new XlRings(this.dom0Conn, (g) => this.devices(g));
  }

  /** Teardown after the connection dropped: one new connection, so what the run created is still removed. */
  private async reconnectForTeardown(): Promise<void> {
    if (!this.dropped) return;
    const why = this.dropped;
    try {
      await this.connect();
    } catch {
      throw why;
    }
  }

  async open(trace: TraceSink, _opts: { seed: number }): Promise<void> {
    this.trace = trace;
    this.t0 = Date.now();
    await this.connect();
    const info = await this.dom0.try(['xl', 'info']);
    if (info.code !== 0) throw hostError('XL_UNAVAILABLE', `\`xl info\` failed on ${this.label}: ${info.stderr.trim()} (is this a Xen dom0 with the toolstack running?)`);
    await this.dom0.run(['mkdir', '-p', RUN_DIR]);
    const hasPvGuest = await this.dom0.try(['test', '-r', GUEST_KERNEL, '-a', '-r', GUEST_INITRD]);
    if (hasPvGuest.code !== 0) this.capabilities = new Set([...this.capabilities].filter((c) => c !== 'linux-guest'));
    const addr = await this.dom0.try(['ip', '-4', '-o', 'addr', 'show', 'dev', BRIDGE]);
    this.bridgeAddress = /inet (\d+\.\d+\.\d+\.\d+)/.exec(addr.stdout)?.[1] ?? '';
    // Crash detection: xenstored fires @releaseDomain when a domain shuts down for any reason
    // (crash included) or dies; each event is one `xl list` compared with what the run expects.
    await this.xenstore.watch('@releaseDomain', () => this.scheduleSweep());
  }

  /** `xl info`'s free_memory (MiB): what the hypervisor has left for new domains. */
  async freeMemoryBytes(): Promise<number> {
    const out = await this.dom0.run(['xl', 'info']);
    const m = /^free_memory\s*:\s*(\d+)/m.exec(out);
    if (!m) throw hostError('XL_NO_FREE_MEMORY', `\`xl info\` on ${this.label} names no free_memory`);
    return Number(m[1]) * 2 ** 20;
  }

  /** Before the host gets work: dom0 answers, `xl info`'s free memory holds one instance's guests, and
   *  dom0 is not overloaded (its load average per CPU, remote/dom0-load.ts); the failed ones. */
  async preflight(needs: HostNeeds): Promise<string[]> {
    const out: string[] = [];
    const free = await this.freeMemoryBytes().catch((e: Error) => (out.push(`memory: ${e.message}`), undefined));
    if (free !== undefined && free < needs.memoryBytes) {
      out.push(`memory: \`xl info\` on ${this.label}: ${(free / 2 ** 20).toFixed(0)} MiB free, an instance's guests need ${(needs.memoryBytes / 2 ** 20).toFixed(0)} MiB`);
    }
    const busy = dom0LoadProblem(`dom0 of ${this.label}`, await dom0Load((argv) => this.dom0.try(argv, { timeoutMs: 20_000 })).catch(() => undefined));
    if (busy) out.push(`dom0: ${busy}`);
    return out;
  }

  async healthy(): Promise<boolean> {
    if (this.droppedOnce || this.dropped || !this.dom0Conn) return false;
    const r = await this.dom0Conn.try(['true'], { timeoutMs: 20_000 }).catch(() => undefined);
    return r?.code === 0;
  }

  async close(): Promise<void> {
    this.xs?.stopAll();
    await this.dom0Conn?.link.close();
    this.dom0Conn = undefined;
  }

  private emit(rec: GuestRecord, what: GuestLifecycle, detail?: Record<string, string | number>): void {
    this.trace?.emit({ ev: 'guest', inst: rec.inst, guest: rec.ref.name, domid: rec.ref.domid, what, ...(detail ? { detail } : {}) });
  }

  private rec(guest: GuestRef): GuestRecord {
    const r = this.guests.get(guest.handle);
    if (!r) throw hostError('XL_UNKNOWN_GUEST', `guest ${guest.name} (${guest.handle}) was not created by this run`);
    return r;
  }

  private async domid(name: string): Promise<number | undefined> {
    const r = await this.dom0.try(['xl', 'domid', name]);
    return r.code === 0 && /^\d+$/.test(r.stdout.trim()) ? Number(r.stdout.trim()) : undefined;
  }

  private consoleLog(name: string): string {
    return `/var/log/xen/console/guest-${name}.log`;
  }

  /** The emulated serial port of an HVM guest (QEMU truncates it at every start of the domain). */
  private serialLog(name: string): string {
    return `/var/log/xen/winpv-serial-${name}.log`;
  }

  private async logSize(name: string): Promise<number> {
    const r = await this.dom0.try(['stat', '-c', '%s', this.consoleLog(name)]);
    return r.code === 0 ? Number(r.stdout.trim()) : 0;
  }

  async createGuest(shape: GuestShape, inst: string): Promise<GuestRef> {
    const name = domainName(inst, shape.name, this.opts.nameTag);
    if ((await this.domid(name)) !== undefined) await this.dom0.try(['xl', 'destroy', name]); // left over by a crashed run
    const files: string[] = [];
    const loops: string[] = [];
    const disks: Record<string, string> = {};
    for (const [i, vbd] of shape.vbds.entries()) {
      if (i === 0 && shape.image) {
        const loop = await this.imageLoop(shape.image);
        loops.push(loop);
        disks[vbd.vdev] = loop;
        continue;
      }
      const { file, loop } = await this.makeDisk(name, vbd);
      files.push(file);
      loops.push(loop);
      disks[vbd.vdev] = loop;
    }
    const cfg = `${RUN_DIR}/${name}.cfg`;
    await this.dom0Conn!.link.putFile(Buffer.from(xlConfig(name, shape, { kernel: GUEST_KERNEL, ramdisk: GUEST_INITRD, disks, serialLog: this.serialLog(name), directBoot: shape.image === LAB_HVM_IMAGE ? LAB_HVM_DIRECT_BOOT : undefined }, { bridge: BRIDGE })), cfg);
    files.push(cfg);
    const consoleOffset = await this.logSize(name);
    // Paused: the probes attach before the frontends start.
    await this.dom0.run(['xl', 'create', '-p', cfg]);
    const domid = await this.domid(name);
    if (domid === undefined) throw hostError('XL_CREATE', `xl create ${name} returned but the domain is not listed`);
    const ref: GuestRef = { name: shape.name, domid, handle: name };
    const rec: GuestRecord = { ref, inst, shape, files, loops, consoleOffset, expectRunning: false, busy: 0, epoch: 0 };
    this.guests.set(name, rec);
    // Backend overrides (e.g. max-ring-page-order 0) are written while the frontends cannot yet read them.
    for (const vbd of shape.vbds) await this.overrideBackend(domid, `vbd/${requireDevid(vbd.vdev)}`, vbd.backend);
    for (const vif of shape.vifs) await this.overrideBackend(domid, `vif/${vif.devid}`, vif.backend);
    this.emit(rec, 'created');
    return ref;
  }

  /** A sparse disk file behind a loop device. The loop is set up here rather than by the block
   *  hotplug script: libxl kills hotplug scripts after 10 s, and the script's file path (locking,
   *  scanning every loop device) took longer than that in the lab on a loaded machine; for a block
   *  device the script only records it. */
  private async makeDisk(name: string, vbd: VbdShape): Promise<{ file: string; loop: string }> {
    const file = `${RUN_DIR}/${name}-${vbd.vdev}.img`;
    await this.dom0.run(['truncate', '-s', `${Math.max(1, Math.floor(vbd.sizeMiB))}M`, file]);
    const loop = (await this.dom0.run(['losetup', '--find', '--show', file])).trim();
    if (!/^\/dev\/loop\d+$/.test(loop)) throw hostError('XL_LOOP', `losetup gave no loop device for ${file}: ${loop}`);
    return { file, loop };
  }

  /** A user-supplied disk image (a path in dom0) behind a loop device, for the reason above. The
   *  guest writes to the image itself: give it a copy you can lose. */
  private async imageLoop(image: string): Promise<string> {
    const there = await this.dom0.try(['test', '-f', image, '-a', '-r', image]);
    if (there.code !== 0) throw hostError('XL_NO_IMAGE', `guest image ${image} is not a readable file in dom0 of ${this.label} (copy it there first)`);
    const loop = (await this.dom0.run(['losetup', '--find', '--show', '--', image])).trim();
    if (!/^\/dev\/loop\d+$/.test(loop)) throw hostError('XL_LOOP', `losetup gave no loop device for ${image}: ${loop}`);
    return loop;
  }

  private async overrideBackend(domid: number, dev: string, keys: Record<string, string>): Promise<void> {
    for (const [k, v] of Object.entries(keys)) await this.xenstore.write(`/local/domain/0/backend/${dev.replace('/', `/${domid}/`)}/${k}`, v);
  }

  async startGuest(guest: GuestRef): Promise<void> {
    const rec = this.rec(guest);
    await this.dom0.run(['xl', 'unpause', rec.ref.handle]);
    rec.expectRunning = true;
    this.emit(rec, 'started');
  }

  /** Runs a lifecycle operation of ours: the domain going away during it is not a crash. */
  private async ours<T>(rec: GuestRecord, fn: () => Promise<T>): Promise<T> {
    rec.busy++;
    rec.epoch++;
    try {
      return await fn();
    } finally {
      rec.busy--;
      rec.epoch++;
    }
  }

  async rebootGuest(guest: GuestRef): Promise<void> {
    const rec = this.rec(guest);
    rec.consoleOffset = await this.logSize(rec.ref.handle);
    rec.agent = undefined;
    rec.linux = undefined;
    await this.ours(rec, async () => {
      const old = rec.ref.domid;
      await this.dom0.run(['xl', 'reboot', '-w', rec.ref.handle], { timeoutMs: 180_000 });
      // `xl reboot -w` returns once the old domain is gone; xl's monitor process builds the new one
      // (on_reboot="restart") after that: measured on the lab under TCG, 33 s later.
      const deadline = Date.now() + (this.opts.rebuildMs ?? REBUILD_MS);
      for (;;) {
        const domid = await this.domid(rec.ref.handle);
        if (domid !== undefined && domid !== old) {
          rec.ref.domid = domid;
          return;
        }
        if (Date.now() > deadline) throw guestError('GUEST_NOT_REBOOTED', `guest ${rec.ref.name} went down for its reboot but no new domain was built within ${(this.opts.rebuildMs ?? REBUILD_MS) / 1000} s`);
        await sleep(1000);
      }
    });
    guest.domid = rec.ref.domid;
    this.emit(rec, 'rebooted');
  }

  async shutdownGuest(guest: GuestRef, how: 'clean' | 'hard'): Promise<void> {
    const rec = this.rec(guest);
    rec.expectRunning = false;
    if (how === 'hard') await this.dom0.run(['xl', 'destroy', rec.ref.handle]);
    else await this.dom0.run(['timeout', '120', 'xl', 'shutdown', '-w', rec.ref.handle], { timeoutMs: 130_000 });
    this.emit(rec, 'shutdown', { how });
  }

  async destroyGuest(guest: GuestRef): Promise<void> {
    const rec = this.guests.get(guest.handle);
    if (!rec) return;
    rec.expectRunning = false;
    await this.reconnectForTeardown();
    if ((await this.domid(rec.ref.handle)) !== undefined) {
      await this.emitBackendStats(rec).catch(() => undefined); // the final counters
      await this.dom0.run(['xl', 'destroy', rec.ref.handle]);
      this.emit(rec, 'destroyed');
    }
    for (const loop of rec.loops) await this.dom0.try(['losetup', '--detach', loop]);
    if (rec.files.length) await this.dom0.try(['rm', '-f', '--', ...rec.files]);
    this.guests.delete(guest.handle);
  }

  async powerState(guest: GuestRef): Promise<GuestPowerState> {
    const epoch = this.guests.get(guest.handle)?.epoch;
    const r = await this.dom0.try(['xl', 'list', guest.handle]);
    const entry = r.code === 0 ? parseXlList(r.stdout).find((e) => e.name === guest.handle) : undefined;
    const rec = this.guests.get(guest.handle);
    if (rec && rec.epoch === epoch) await this.observe(rec, entry);
    return powerStateOf(entry?.state);
  }

  private sweeping?: Promise<void>;
  private sweepAgain = false;

  /** One sweep at a time; events arriving during it ask for one more. */
  private scheduleSweep(): void {
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    this.sweeping = this.sweep()
      .catch(() => undefined)
      .finally(() => {
        this.sweeping = undefined;
        if (this.sweepAgain) {
          this.sweepAgain = false;
          this.scheduleSweep();
        }
      });
  }

  /** Crash detection: one `xl list`, each guest of the run compared with what the run expects of it. */
  private async sweep(): Promise<void> {
    if (![...this.guests.values()].some((r) => r.expectRunning && r.busy === 0 && !r.reported)) return;
    const epochs = new Map([...this.guests.values()].map((rec) => [rec, rec.epoch]));
    const r = await this.dom0.try(['xl', 'list']);
    if (r.code !== 0) return;
    const listed = new Map(parseXlList(r.stdout).map((e) => [e.name, e]));
    // a guest one of our operations touched meanwhile is judged by the next sweep, not this listing
    for (const rec of this.guests.values()) if (epochs.get(rec) === rec.epoch) await this.observe(rec, listed.get(rec.ref.handle));
  }

  /** Reports a guest that crashed (on_crash="preserve" keeps it listed with the `c` flag), went away or
   *  came back under a new domid on its own, once, with the end of its console (the panic message). */
  private async observe(rec: GuestRecord, entry: XlListEntry | undefined): Promise<void> {
    if (!rec.expectRunning || rec.busy > 0 || rec.reported) return;
    const state = powerStateOf(entry?.state);
    if (state === 'crashed' || state === 'halted' || state === 'gone') {
      const what = (rec.reported = state === 'crashed' ? 'crashed' : 'halted-unexpectedly');
      this.emit(rec, what, entry ? { flags: entry.state } : { listed: 'no' });
      const text = await this.consoleText(rec.ref, 2048).catch(() => '');
      if (text) this.trace?.emit({ ev: 'log', inst: rec.inst, level: 'error', msg: `${rec.ref.name} ${what}; the end of its console:\n${text}` });
      if (rec.shape.image !== undefined) {
        // An HVM guest may halt before its PV console exists (BIOS, boot loader, early kernel).
        const serial = await this.dom0.try(['tail', '-c', '2048', this.serialLog(rec.ref.handle)]).catch(() => undefined);
        if (serial?.stdout) this.trace?.emit({ ev: 'log', inst: rec.inst, level: 'error', msg: `${rec.ref.name} ${what}; the end of its serial port:\n${serial.stdout}` });
      }
    } else if (entry && entry.domid !== rec.ref.domid) {
      const old = rec.ref.domid;
      rec.ref.domid = entry.domid;
      this.emit(rec, 'rebooted', { unexpected: 1, from: old, domid: entry.domid });
    }
  }

  homePath(guest: GuestRef): string {
    return `/local/domain/${guest.domid}`;
  }

  /** The devices of a guest, from the backend directories in xenstore. */
  async devices(guest: GuestRef): Promise<DeviceRef[]> {
    const out: DeviceRef[] = [];
    // a disk may be served by blkback (vbd), tapdisk3 (vbd3) or QEMU (qdisk): all are the guest's vbd
    for (const [dir, kind] of [['vbd', 'vbd'], ['vbd3', 'vbd'], ['qdisk', 'vbd'], ['vif', 'vif']] as const) {
      for (const id of await this.xenstore.directory(`/local/domain/0/backend/${dir}/${guest.domid}`)) out.push(`${kind}/${Number(id)}`);
    }
    return out;
  }

  /** The guest's console as xenconsoled logged it (for diagnostics). */
  async consoleText(guest: GuestRef, maxBytes = 4096): Promise<string> {
    const r = await this.dom0.try(['tail', '-c', String(maxBytes), this.consoleLog(guest.handle)]);
    return r.stdout;
  }

  agent(guest: GuestRef): GuestAgent {
    const rec = this.rec(guest);
    // Linux guests, PV or HVM from an image (the lab's HVM Linux disk), run the lab's console agent.
    // A guest error: the scenario fails with the reason and the run goes on (the host is fine).
    if (rec.shape.os !== 'linux') {
      throw new WinpvError('guest', 'NOT_SUPPORTED', `guest ${guest.name}: the xl backend drives Linux guests running the lab's console agent; a Windows guest agent for xl hosts is not built yet`);
    }
    if (!rec.agent) {
      const linux = this.linuxAgent(rec);
      // After every workload the backends' counters go into the trace (blkback statistics/, netback rings).
      const withStats = <T>(p: Promise<T>): Promise<T> => p.finally(() => this.emitBackendStats(rec).catch(() => undefined));
      rec.agent = {
        installDrivers: (b) => linux.installDrivers(b),
        driverStatus: () => linux.driverStatus(),
        blockWorkload: (w) => withStats(linux.blockWorkload(w)),
        netWorkload: (w, peer) => withStats(linux.netWorkload(w, peer)),
      };
    }
    return rec.agent;
  }

  /** The console agent of a Linux reference guest (one per boot of the guest). */
  private linuxAgent(rec: GuestRecord): LinuxConsoleAgent {
    return (rec.linux ??= new LinuxConsoleAgent(rec.ref.name, this.consoleChannel(rec)));
  }

  /** One backend.stats event per device of the guest, as dom0 reports the counters now. */
  async emitBackendStats(rec: GuestRecord): Promise<void> {
    for (const dev of await this.devices(rec.ref)) {
      const stats = await this.rings.backendStats(rec.ref, dev);
      if (stats) this.trace?.emit({ ev: 'backend.stats', inst: rec.inst, guest: rec.ref.name, dev, stats });
    }
  }

  private consoleChannel(rec: GuestRecord): ConsoleChannel {
    const log = this.consoleLog(rec.ref.handle);
    const prefix = this.bridgeAddress.split('.').slice(0, 3).join('.');
    return {
      send: async (line) => {
        const tty = (await this.xenstore.read(`/local/domain/${rec.ref.domid}/console/tty`)) ?? '';
        if (!/^\/dev\/pts\/\d+$/.test(tty)) throw hostError('XL_CONSOLE', `guest ${rec.ref.name} has no console pty (${tty || 'none'})`);
        await this.dom0.run(['sh', '-c', 'printf "%s\\n" "$1" > "$2"', 'sh', line, tty]);
      },
      readFrom: async (offset) => {
        const r = await this.dom0.try(['tail', '-c', `+${offset + 1}`, log]);
        const text = r.code === 0 ? r.stdout : '';
        return { text, next: offset + Buffer.byteLength(text) };
      },
      bootOffset: () => rec.consoleOffset,
      peer: {
        address: this.bridgeAddress,
        run: async (script, timeoutMs) => {
          const r = await this.dom0.try(['sh', '-c', script], { timeoutMs });
          return { code: r.code, stdout: r.stdout };
        },
      },
      guestAddress: `${prefix}.${100 + (rec.ref.domid % 150)}`,
      alive: async () => (await this.powerState(rec.ref)) === 'running',
      sleep,
    };
  }

  readonly hotplug: HotplugCapability = {
    attachVbd: async (guest: GuestRef, vbd: VbdShape): Promise<DeviceRef> => {
      const rec = this.rec(guest);
      const { file, loop } = await this.makeDisk(rec.ref.handle, vbd);
      rec.files.push(file);
      rec.loops.push(loop);
      await this.dom0.run(['xl', 'block-attach', rec.ref.handle, diskSpec(vbd, loop)]);
      return `vbd/${requireDevid(vbd.vdev)}`;
    },
    attachVif: async (guest: GuestRef, vif: VifShape): Promise<DeviceRef> => {
      const rec = this.rec(guest);
      await this.dom0.run(['xl', 'network-attach', rec.ref.handle, ...vifSpec(vif, BRIDGE).split(',')]);
      return `vif/${vif.devid}`;
    },
    detach: async (guest: GuestRef, dev: DeviceRef, opts: { surprise: boolean }): Promise<void> => {
      const rec = this.rec(guest);
      const [kind, id] = dev.split('/') as ['vbd' | 'vif', string];
      if (opts.surprise) {
        // No Closing handshake: the backend directory (wherever the frontend's backend key puts it:
        // vbd, vbd3 or qdisk for a disk) goes away under the frontend.
        await this.xenstore.rm(await this.backendOf(rec.ref, dev));
        return;
      }
      await this.dom0.run(['xl', kind === 'vbd' ? 'block-detach' : 'network-detach', rec.ref.handle, id], { timeoutMs: 120_000 });
    },
  };

  readonly saveRestore: SaveRestoreCapability = {
    save: async (guest: GuestRef): Promise<string> => {
      const rec = this.rec(guest);
      const image = `${RUN_DIR}/${rec.ref.handle}.save`;
      rec.expectRunning = false;
      await this.ours(rec, () => this.dom0.run(['xl', 'save', rec.ref.handle, image], { timeoutMs: 300_000 }));
      rec.files.push(image);
      this.emit(rec, 'saved');
      return image;
    },
    restore: async (guest: GuestRef, image: string): Promise<GuestRef> => {
      const rec = this.rec(guest);
      const domid = await this.ours(rec, async () => {
        await this.dom0.run(['xl', 'restore', image], { timeoutMs: 300_000 });
        return this.domid(rec.ref.handle);
      });
      if (domid === undefined) throw hostError('XL_RESTORE', `xl restore of ${rec.ref.handle} returned but the domain is not listed`);
      const old = rec.ref.domid;
      rec.ref.domid = domid;
      rec.expectRunning = true;
      this.emit(rec, 'restored', { from: old, domid });
      return { ...rec.ref };
    },
  };

  readonly backendControl: BackendControlCapability = {
    restartKind: 'rebind',
    /** The backend instance is unbound from its driver (blkback's or netback's remove) and bound
     *  again (a fresh probe), through sysfs, as `echo vbd-<domid>-<devid> > .../unbind` by hand.
     *  Only a kernel backend has a driver to rebind: a disk served by tapdisk3 (backend/vbd3) or
     *  QEMU (backend/qdisk) is refused as unsupported, not "restarted" through a sysfs node that
     *  does not exist. */
    restartBackend: async (guest: GuestRef, dev: DeviceRef): Promise<void> => {
      const rec = this.rec(guest);
      const m = /^(vbd|vif)\/(\d+)$/.exec(dev);
      if (!m) throw hostError('XL_NO_DEVICE', `backend-restart: ${dev} is not a vbd/<devid> or vif/<devid> device`);
      const backend = await this.backendOf(rec.ref, dev);
      const type = /\/backend\/([a-z0-9]+)\//.exec(backend)![1]!;
      if (type !== 'vbd' && type !== 'vif') {
        throw unsupportedError(`backend-restart (rebind) of ${dev}: its backend is ${type} (${backend}), which has no kernel driver in dom0 to unbind and bind`);
      }
      const name = `${type}-${rec.ref.domid}-${m[2]}`;
      const netdev = m[1] === 'vif' ? ((await this.xenstore.read(`${backend}/vifname`)) ?? `vif${rec.ref.domid}.${m[2]}`) : '';
      const out = await this.dom0.run(['sh', '-c', RESTART_BACKEND_SCRIPT, 'sh', name, backend, netdev], { timeoutMs: 60_000 });
      this.trace?.emit({ ev: 'log', inst: rec.inst, level: 'info', msg: `backend ${name} unbound from ${out.trim()} and bound again` });
    },
    forceBackendState: async (guest: GuestRef, dev: DeviceRef, state: number): Promise<void> => {
      await this.xenstore.write(`${await this.backendOf(guest, dev)}/state`, String(state));
    },
  };

  /** Where a device's backend is: the frontend's `backend` key (backend/vbd, vbd3, qdisk or vif). */
  private async backendOf(guest: GuestRef, dev: DeviceRef): Promise<string> {
    const backend = await this.xenstore.read(`/local/domain/${guest.domid}/device/${dev}/backend`);
    if (!backend || !/^\/local\/domain\/\d+\/backend\/[a-z0-9]+\/\d+\/\d+$/.test(backend)) {
      throw hostError('XL_NO_DEVICE', `${guest.name} has no backend for ${dev} (its frontend names ${backend === null ? 'none' : `'${backend}'`})`);
    }
    return backend;
  }

  /** Faults real Xen can really have, injected the way they happen: the guest kernel panics
   *  (sysrq `c` through its console), the backend is forced to Closing, the backend directory is
   *  removed under the frontend. The simulator-only faults (ring and xenstore misbehaviour) are refused. */
  readonly faults: FaultCapability = {
    supported: XL_FAULTS,
    inject: async (fault: FaultConfig, guest?: GuestRef): Promise<() => Promise<void>> => {
      const off = async () => undefined;
      if (!guest) throw hostError('FAULT_NO_GUEST', `fault ${fault.name} needs a guest`);
      const rec = this.rec(guest);
      const dev = fault.device ?? (rec.shape.vbds[0] ? (`vbd/${requireDevid(rec.shape.vbds[0].vdev)}` as DeviceRef) : undefined);
      switch (fault.name) {
        case 'guest-crash':
          await this.crashGuest(rec, fault);
          return off;
        case 'backend-closing':
          if (!dev) throw hostError('FAULT_NO_DEVICE', `fault ${fault.name}: guest ${guest.name} has no device`);
          this.trace?.emit({ ev: 'fault', inst: rec.inst, name: fault.name, on: true, detail: { dev, how: 'xenstore-write state 5' } });
          await this.backendControl.forceBackendState(rec.ref, dev, 5);
          return off;
        case 'surprise-unplug':
          if (!dev) throw hostError('FAULT_NO_DEVICE', `fault ${fault.name}: guest ${guest.name} has no device`);
          this.trace?.emit({ ev: 'fault', inst: rec.inst, name: fault.name, on: true, detail: { dev, how: 'xenstore-rm of the backend directory' } });
          await this.hotplug.detach(rec.ref, dev, { surprise: true });
          return off;
        default:
          throw new WinpvError('host', 'NOT_SUPPORTED', `fault ${fault.name} cannot be injected on an xl host (it injects ${[...XL_FAULTS].join(', ')}); the simulated host injects every fault`);
      }
    },
  };

  /** The guest-crash fault: the guest's own kernel panics and crash detection (the @releaseDomain
   *  sweep) reports it. With the console free the Linux agent writes `c` to /proc/sysrq-trigger;
   *  while a command runs (the console reads the next line only after it) `xl sysrq c` asks the guest
   *  kernel through xenstore's control/sysrq. Only a guest with no agent (a Windows image) is
   *  destroyed instead, and the trace says so. A running guest is waited for until it is seen down. */
  private async crashGuest(rec: GuestRecord, fault: FaultConfig): Promise<void> {
    const say = (how: string) => this.trace?.emit({ ev: 'fault', inst: rec.inst, name: fault.name, on: true, detail: { how } });
    const running = rec.expectRunning;
    if (rec.shape.os !== 'linux') {
      say('xl destroy: the guest has no agent to panic its kernel (fallback)');
      await this.dom0.run(['xl', 'destroy', rec.ref.handle]);
    } else if (await this.linuxAgent(rec).panic()) {
      say('kernel panic: echo c > /proc/sysrq-trigger through the guest agent');
    } else {
      say('kernel panic: xl sysrq c (xenstore control/sysrq; the guest agent is busy or not up yet)');
      await this.dom0.run(['xl', 'sysrq', rec.ref.handle, 'c']);
    }
    if (!running) return; // not started yet: it panics as it boots, and the sweep sees it then
    const limit = this.opts.crashDetectMs ?? CRASH_DETECT_MS;
    const deadline = Date.now() + limit;
    while (!rec.reported) {
      await this.sweep();
      if (rec.reported) break;
      if (Date.now() > deadline) throw guestError('GUEST_NO_CRASH', `guest ${rec.ref.name} was told to panic but was still running ${limit / 1000} s later`);
      await sleep(500);
    }
  }

  /** Domains of this run still listed (for teardown checks). */
  async leftovers(): Promise<string[]> {
    const r = await this.dom0.try(['xl', 'list']);
    return parseXlList(r.stdout).map((e) => e.name).filter((n) => n.startsWith('winpv-'));
  }

}
