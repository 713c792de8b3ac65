// The XenAPI host backend (`xapi://user@pool-master`): Windows guests on a XenServer / XCP-ng pool.
// Lifecycle through XenAPI tasks, waits on event.from (never polling), every object tagged with the
// run so nothing is left behind, dom0 probes over SSH, Windows guests over OpenSSH + PowerShell.
import { randomBytes } from 'node:crypto';
import type { XapiRecord } from 'xen-api';
import type {
  GuestAgent, GuestPowerState, GuestRef, HostBackend, HostClock, HostNeeds, HotplugCapability, MigrateCapability, RebootOptions,
  RingId, RingIndices, RingView, SaveRestoreCapability, SnapshotCapability, SuspendCapability, XenstoreView, BackendControlCapability,
} from '../../model/host';
import type { Capability } from '../../model/catalog';
import { doctor } from './doctor';
import type { Secret } from '../../model/secret';
import type { DeviceRef, GuestShape, VbdShape, VifShape } from '../../model/scenario';
import type { GuestLifecycle, TraceSink } from '../../model/trace';
import { hostError, isWinpvError, WinpvError } from '../../model/errors';
import { SshConnection } from '../../remote/ssh';
import { WindowsAgent } from '../../guests/windows/agent';
import { pendingReason } from '../../guests/windows/devices';
import { guestError } from '../../guests/windows/powershell';
import type { XapiHostConfig } from './config';
import { sshTarget } from './config';
import { NULL_REF, num, XapiSession } from './session';
import { buildGuest, userdeviceOf } from './guest-build';
import { devidToVdev, vdevToDevid } from '../../model/vdev';
import { destroyVm } from './teardown';
import { newRunId, OWNER_KEY, RUN_KEY, tagsFor, vmName } from './tags';
import { Dom0Rings, Dom0Xenstore } from './dom0';
import { shapeKey, SpareGuests, taggedSnapshot } from './spares';
import { collectCrashDump } from './crash-dump';
import { uploadDisc, writableIsoSrs, type IsoDisc } from './iso-disc';
import { DISCOVERY_MEANS, guestMac, leaseAddress, neighbourAddress, type AddressSource } from './guest-address';

interface XGuest {
  ref: GuestRef;
  vm: string;
  inst: string;
  shape: GuestShape;
  owner: string;
  /** Lifecycle operations of ours in flight: power changes then are expected. */
  busy: number;
  last: { power: string; domid: number };
  agent?: WindowsAgent;
  ssh?: Promise<SshConnection>;
  /** The crash dump being collected (destroyGuest waits for it, so the report can hold it), and
   *  how to stop waiting for a guest that will not come back (it halted). */
  collecting?: Promise<void>;
  stopCollecting?: AbortController;
  /** Reusable guests: the snapshot taken before the driver install, and the shape it fits. */
  spare?: { preInstall: string; key: string };
  /** It crashed or halted on its own: never parked for reuse. */
  failed?: boolean;
  destroyed: boolean;
  /** Disks (VDI by userdevice) and VIF networks of devices unplugged, for a replug. */
  detachedDisks: Map<string, string>;
  detachedNetworks: Map<number, string>;
  /** Where the guest was found this boot, and how. */
  address?: { ip: string; source: AddressSource };
  /** The run's data disk for verifying workloads (made once, on first use). */
  dataDisk?: Promise<{ dev: DeviceRef; label: string }>;
}

/** The data disk of verifying workloads: room for diskspd's run and the 64 MiB verify pass. */
const DATA_DISK_MIB = 1024;

const POWER: Record<string, GuestPowerState> = { Running: 'running', Paused: 'paused', Suspended: 'suspended', Halted: 'halted' };

export class XapiHost implements HostBackend {
  readonly kind = 'xapi' as const;
  readonly label: string;
  /** XAPI reboots a VM into a new domain. */
  readonly rebootMakesNewDomain = true;
  readonly capabilities: ReadonlySet<Capability>;
  readonly clock: HostClock;
  readonly xenstore: XenstoreView;
  readonly rings: RingView;
  readonly runId: string;

  private session?: XapiSession;
  private trace?: TraceSink;
  private artifactsDir?: string;
  private readonly guests = new Map<string, XGuest>();
  private readonly dom0Conns = new Map<string, Promise<SshConnection>>();
  private readonly dom0Xs: Dom0Xenstore;
  private readonly dom0Rings: Dom0Rings;
  private readonly t0 = Date.now();
  private onObjects?: () => void;
  private readonly spares: SpareGuests;

  constructor(
    private readonly cfg: XapiHostConfig,
    opts: { runId?: string } = {},
  ) {
    this.label = cfg.label;
    this.runId = opts.runId ?? newRunId(new Date(), randomBytes(3).toString('hex'));
    this.spares = new SpareGuests(this.runId);
    const caps: Capability[] = ['windows-guest', 'vendor-installer', 'driver-verifier', 'suspend', 'save-restore', 'migrate', 'snapshot', 'hotplug'];
    if (cfg.dom0) caps.push('backend-control');
    this.capabilities = new Set(caps);
    this.clock = {
      now: () => Date.now() - this.t0,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
    this.dom0Xs = new Dom0Xenstore(() => this.dom0());
    this.dom0Rings = new Dom0Rings(() => this.dom0());
    this.xenstore = cfg.dom0 ? this.dom0Xs : noDom0Xenstore();
    const rings = this.dom0Rings;
    this.rings = {
      rings: async (g) => (cfg.dom0 ? rings.rings(g.domid) : []),
      sample: async (g, r: RingId): Promise<RingIndices | null> => (cfg.dom0 ? rings.sample(g.domid, r) : null),
      backendStats: async (g, dev) => (cfg.dom0 ? rings.stats(g.domid, dev) : null),
    };
  }

  // ------------------------------------------------------------------------------------------ session

  private get s(): XapiSession {
    if (!this.session) throw hostError('XAPI_NOT_OPEN', 'the XenAPI host is not open');
    return this.session;
  }

  async open(trace: TraceSink, opts: { seed: number; artifactsDir?: string }): Promise<void> {
    this.trace = trace;
    this.artifactsDir = opts.artifactsDir;
    this.session = await XapiSession.open({ url: this.cfg.url, user: this.cfg.user, password: this.cfg.password, insecure: this.cfg.insecure, transport: this.cfg.transport });
    this.onObjects = () => this.watchGuests();
    this.session.client.objects.on('finish', this.onObjects);
  }

  /** The pool's free memory for new VMs: host.compute_free_memory summed over the enabled hosts
   *  (xapi's own estimate, which counts memory promised to VMs that are starting). */
  async freeMemoryBytes(): Promise<number> {
    let free = 0;
    for (const h of this.s.all('host').filter((x) => x.enabled !== false)) free += num(await this.s.call('host.compute_free_memory', h.$ref));
    return free;
  }

  async healthy(): Promise<boolean> {
    if (!this.session) return false;
    return withTimeout(this.session.call('pool.get_all').then(() => true, () => false), 20_000, 'the pool health check').catch(() => false);
  }

  /** Before the pool gets work: winpv doctor's checks (login, template, network, SR space, a host
   *  with memory, the ISOs the run installs, dom0 SSH and load) for one instance; the failed ones. */
  async preflight(needs: HostNeeds): Promise<string[]> {
    const findings = await doctor(this.cfg, needs);
    return findings.filter((f) => f.verdict === 'fail').map((f) => `${f.check}: ${f.finding}`);
  }

  async close(): Promise<void> {
    // Whatever the runner did not destroy (a crash of the runner itself) goes now, then the spares.
    for (const g of this.guests.values()) await this.destroyGuest(g.ref, { keep: false }).catch(() => undefined);
    if (this.session) {
      for (const e of await this.spares.destroyAll(this.session)) this.trace?.emit({ ev: 'log', level: 'error', msg: `removing a kept guest failed: ${e.message}` });
    }
    this.dom0Xs.close();
    for (const c of this.dom0Conns.values()) await c.then((x) => x.close()).catch(() => undefined);
    this.dom0Conns.clear();
    if (this.session && this.onObjects) this.session.client.objects.removeListener('finish', this.onObjects);
    await this.session?.close();
    this.session = undefined;
  }

  // ------------------------------------------------------------------------------------------ guests

  private g(ref: GuestRef): XGuest {
    const g = this.guests.get(ref.handle);
    if (!g) throw hostError('XAPI_NO_GUEST', `unknown guest ${ref.name}`);
    return g;
  }

  private emit(g: XGuest, what: GuestLifecycle, detail?: Record<string, string | number>) {
    this.trace?.emit({ ev: 'guest', inst: g.inst, guest: g.ref.name, domid: g.ref.domid, what, ...(detail ? { detail } : {}) });
  }

  private vm(g: XGuest): XapiRecord | undefined {
    return this.s.get(g.vm);
  }

  /** Runs a lifecycle operation of ours: power changes during it are expected, not crashes. */
  private async ours<T>(g: XGuest, fn: () => Promise<T>): Promise<T> {
    g.busy++;
    try {
      return await fn();
    } finally {
      g.busy--;
      const vm = this.vm(g);
      if (vm) g.last = { power: vm.power_state as string, domid: num(vm.domid) };
    }
  }

  /** Called after every batch of events: power changes nobody asked for are crashes or unexpected halts. */
  private watchGuests() {
    for (const g of this.guests.values()) {
      if (g.destroyed || g.busy > 0) continue;
      const vm = this.vm(g);
      if (!vm) continue;
      const now = { power: vm.power_state as string, domid: num(vm.domid) };
      const was = g.last;
      if (now.power === was.power && now.domid === was.domid) continue;
      g.last = now;
      if (was.power !== 'Running') continue;
      if (now.power === 'Paused') {
        g.failed = true;
        this.emit(g, 'crashed', { power_state: 'Paused' });
        g.collecting ??= this.collectCrashDump(g);
      } else if (now.power === 'Halted') {
        g.failed = true;
        g.stopCollecting?.abort();
        this.emit(g, 'halted-unexpectedly');
      } else if (now.power === 'Running' && now.domid !== was.domid) {
        g.ref.domid = now.domid;
        this.emit(g, 'rebooted', { unexpected: 1 });
        // Windows restarts by itself after a bugcheck (the default) and writes the dump as it boots
        g.collecting ??= this.collectCrashDump(g, { restart: false });
      }
    }
  }

  /** The crash dump into the report: a preserved crashed domain is restarted by us (an expected
   *  power change); a guest that restarted by itself is only waited for, so that whatever it does
   *  meanwhile (halting, say) is still reported. */
  private collectCrashDump(g: XGuest, opts: { restart: boolean } = { restart: true }): Promise<void> {
    const back = async () => {
      if (opts.restart) {
        await this.ours(g, async () => {
          await this.s.callAsync('VM.hard_reboot', g.vm);
          await this.waitBooted(g);
        });
      } else {
        g.stopCollecting = new AbortController();
        await this.waitBooted(g, g.stopCollecting.signal);
      }
    };
    const secrets = [this.cfg.password, this.cfg.guest.password, this.cfg.dom0?.password].filter((s): s is Secret => s !== undefined);
    return collectCrashDump({ name: g.ref.name, inst: g.inst, back, agent: () => this.agentOf(g) }, this.trace, this.artifactsDir, secrets);
  }

  async createGuest(shape: GuestShape, inst: string): Promise<GuestRef> {
    if (shape.os !== 'windows') throw hostError('XAPI_UNSUPPORTED_SHAPE', `guest ${shape.name}: the XenAPI backend runs Windows guests (asked for ${shape.os})`);
    const template = shape.image ?? this.cfg.template;
    if (!template) throw hostError('XAPI_NO_TEMPLATE', `guest ${shape.name}: no template (set "template" in the host's config entry or the guest's image)`);
    const key = this.cfg.reuseGuests ? shapeKey(shape, template) : undefined;
    const reused = key ? await this.reuseSpare(key, shape, inst) : undefined;
    if (reused) return reused;
    const owner = `${inst}/${shape.name}`;
    let vmRef: string | undefined;
    try {
      await buildGuest(this.s, shape, {
        runId: this.runId, owner, template, network: this.cfg.network, now: new Date(),
        log: (msg) => this.trace?.emit({ ev: 'log', inst, level: 'warn', msg }),
        created: (ref) => {
          vmRef = ref;
          // Registered at once: destroyGuest can remove a half-built guest.
          const g: XGuest = { ref: { name: shape.name, domid: -1, handle: ref }, vm: ref, inst, shape, owner, busy: 0, last: { power: 'Halted', domid: -1 }, destroyed: false, detachedDisks: new Map(), detachedNetworks: new Map() };
          this.guests.set(ref, g);
        },
      });
    } catch (e) {
      if (vmRef) await this.destroyGuest(this.guests.get(vmRef)!.ref).catch(() => undefined);
      else await this.sweepOwner(owner).catch(() => undefined);
      throw e;
    }
    const g = this.guests.get(vmRef!)!;
    if (key) {
      // Halted, before its first boot and any driver install: what the next guest of this shape reverts to.
      try {
        g.spare = { preInstall: await taggedSnapshot(this.s, g.vm, `${vmName(this.runId, owner)}:pre-install`, this.runId, owner), key };
      } catch (e) {
        await this.destroyGuest(g.ref).catch(() => undefined);
        throw e;
      }
    }
    return this.buildPaused(g, {});
  }

  /** A parked VM of the same shape, reverted to its pre-install snapshot, for this scenario's guest. */
  private async reuseSpare(key: string, shape: GuestShape, inst: string): Promise<GuestRef | undefined> {
    const spare = this.spares.take(key);
    if (!spare) return undefined;
    const g: XGuest = {
      ref: { name: shape.name, domid: -1, handle: spare.vm }, vm: spare.vm, inst, shape, owner: spare.owner, busy: 0, last: { power: 'Halted', domid: -1 },
      destroyed: false, detachedDisks: new Map(), detachedNetworks: new Map(), spare: { preInstall: spare.preInstall, key },
    };
    this.guests.set(spare.vm, g);
    try {
      await this.ours(g, () => this.spares.revert(this.s, spare));
      await this.s.call('VM.set_name_label', g.vm, vmName(this.runId, `${inst}/${shape.name}`));
    } catch (e) {
      // a spare that cannot be reverted is not used: it goes, and the guest is built anew
      this.trace?.emit({ ev: 'log', inst, level: 'warn', msg: `reverting a kept guest for ${shape.name} failed (${(e as Error).message}); building a new one` });
      await this.destroyGuest(g.ref, { keep: false }).catch(() => undefined);
      return undefined;
    }
    return this.buildPaused(g, { reverted: 'pre-install snapshot' });
  }

  /** Builds the domain paused and reports the guest created. */
  private async buildPaused(g: XGuest, detail: Record<string, string>): Promise<GuestRef> {
    const shape = g.shape;
    // The domain is built now, paused: its domid and backends exist before the runner attaches its
    // probes, so they see every frontend from Initialising on. startGuest unpauses it.
    try {
      await this.ours(g, async () => {
        await this.s.callAsync('VM.start', g.vm, true, false).catch((e: unknown) => {
          // xapi's HOST_NOT_ENOUGH_FREE_MEMORY(needed, available): which guest, how much, what is free
          if (!isWinpvError(e) || e.code !== 'XAPI_HOST_NOT_ENOUGH_FREE_MEMORY') throw e;
          const [need, have] = (/\(([^,]*), ([^)]*)\)/.exec(e.message) ?? []).slice(1).map((x) => Math.floor(Number(x) / 2 ** 20));
          throw hostError('XAPI_HOST_NOT_ENOUGH_FREE_MEMORY', `guest ${g.owner} needs ${need ?? '?'} MiB and no pool member has that free (at most ${have ?? '?'} MiB): shut down other VMs or give the guest less memory`, e);
        });
        await this.s.waitFor(`${shape.name} to be built (paused)`, this.cfg.timeouts.bootMs, () => (this.vm(g)?.power_state === 'Paused' ? true : undefined));
        g.ref.domid = num(this.vm(g)!.domid);
      });
    } catch (e) {
      await this.destroyGuest(g.ref, { keep: false }).catch(() => undefined);
      throw e;
    }
    this.emit(g, 'created', { vm: String(this.s.get(g.vm)?.uuid ?? ''), ...detail });
    return g.ref;
  }

  /** Waits (on events) until the guest runs, then finds its address (findGuest). */
  private async waitBooted(g: XGuest, signal?: AbortSignal): Promise<void> {
    const t = this.cfg.timeouts.bootMs;
    await this.s.waitFor(`${g.ref.name} to run`, t, () => (this.vm(g)?.power_state === 'Running' ? true : undefined), signal);
    g.ref.domid = num(this.vm(g)!.domid);
    g.address = undefined;
    g.ssh = undefined;
    g.address = await this.findGuest(g, signal);
    const by = g.address.source === 'guest-metrics' ? DISCOVERY_MEANS[g.address.source] : `${DISCOVERY_MEANS[g.address.source]} (MAC ${this.macOf(g) ?? '?'})`;
    this.trace?.emit({ ev: 'log', inst: g.inst, level: 'info', msg: `${g.ref.name} found at ${g.address.ip} by ${by}` });
  }

  /** Where and how the guest was found this boot, for its lifecycle event (the report shows it). */
  private found(g: XGuest): Record<string, string> {
    return g.address ? { address: g.address.ip, foundBy: g.address.source } : {};
  }

  /** The guest's address, by the ways the host entry names, in its order (guest-address.ts says
   *  what each needs). Guest metrics are waited for on events, dom0 is asked again and again, all
   *  until the boot timeout; none answering is a host error naming every way tried. */
  private async findGuest(g: XGuest, signal?: AbortSignal): Promise<{ ip: string; source: AddressSource }> {
    const deadline = Date.now() + this.cfg.timeouts.bootMs;
    const mac = this.macOf(g);
    const ways = this.cfg.discovery;
    // dom0 is asked after 0.25 s, then ever less often, up to every 2 s
    for (let pause = 250; ; pause = Math.min(2 * pause, 2_000)) {
      for (const way of ways) {
        const ip = await this.askWay(way, g, mac);
        if (ip) return { ip, source: way };
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const tried = ways.map((w) => (w === 'guest-metrics' ? `${DISCOVERY_MEANS[w]}: no address (no PV drivers or guest agent yet?)` : `${DISCOVERY_MEANS[w]}: no entry for MAC ${mac ?? 'none (the VM has no VIF 0)'}${w === 'dhcp-leases' ? ` in ${this.cfg.dhcpLeaseFile}` : ''}`));
        throw hostError('XAPI_GUEST_NOT_FOUND', `${g.ref.name} did not show up on the network within ${Math.round(this.cfg.timeouts.bootMs / 1000)} s; tried, in order: ${tried.join('; ')}. The template must take a DHCP address on its emulated NIC and talk to dom0 (docs/real-pool.md, "Finding a guest")`);
      }
      if (ways.includes('guest-metrics')) {
        try {
          await this.s.waitFor(`${g.ref.name} to report its IP address (VM_guest_metrics.networks)`, Math.min(pause, left), () => this.ipOf(g), signal);
        } catch (e) {
          if (!isWinpvError(e) || e.code !== 'XAPI_TIMEOUT') throw e;
        }
      } else {
        if (signal?.aborted) throw signal.reason;
        await this.clock.sleep(Math.min(pause, left));
      }
    }
  }

  /** One way's answer, or undefined (a dom0 that does not answer now is asked again next round). */
  private async askWay(way: AddressSource, g: XGuest, mac: string | undefined): Promise<string | undefined> {
    if (way === 'guest-metrics') return this.ipOf(g);
    if (!mac || !this.cfg.dom0) return undefined;
    const dom0 = await this.dom0().catch(() => undefined);
    if (!dom0) return undefined;
    if (way === 'dom0-neighbour') return neighbourAddress(dom0, mac).catch(() => undefined);
    return this.cfg.dhcpLeaseFile ? leaseAddress(dom0, this.cfg.dhcpLeaseFile, mac).catch(() => undefined) : undefined;
  }

  private macOf(g: XGuest): string | undefined {
    const vifs = ((this.vm(g)?.VIFs as string[]) ?? []).map((v) => this.s.get(v)).filter((v) => v !== undefined);
    const first = vifs.find((v) => String(v.device) === '0') ?? vifs[0];
    return first ? String(first.MAC) : undefined;
  }

  private ipOf(g: XGuest): string | undefined {
    const vm = this.vm(g);
    const gm = vm && vm.guest_metrics !== NULL_REF ? this.s.get(vm.guest_metrics as string) : undefined;
    const nets = (gm?.networks ?? {}) as Record<string, string>;
    return nets['0/ip'] ?? nets['0/ipv4/0'] ?? Object.entries(nets).find(([k]) => /\/ip(v4\/0)?$/.test(k))?.[1];
  }

  /** The address to reach the guest at: where it was found this boot (its agent's report wins once it has one). */
  private addressOf(g: XGuest): string | undefined {
    return this.ipOf(g) ?? g.address?.ip;
  }

  /** Waits until the guest's PV drivers run: xapi says so (VM_guest_metrics.PV_drivers_detected)
   *  only once the guest agent runs too, which a driver set without xeniface, or a template without
   *  the agent, never has; so a frontend of the guest Connected in dom0's xenstore counts as well
   *  (xenbus and a child driver bound and talking to their backend). Returns how it was seen. */
  async waitPvDrivers(ref: GuestRef): Promise<string> {
    const g = this.g(ref);
    const deadline = Date.now() + this.cfg.timeouts.bootMs;
    for (;;) {
      const gm = this.metricsOf(g);
      if (gm?.PV_drivers_detected === true) {
        const v = gm.PV_drivers_version as Record<string, string>;
        return `PV drivers ${v.major}.${v.minor}.${v.micro}.${v.build} reported by the guest agent`;
      }
      if (this.cfg.dom0) {
        const home = `${this.homePath(g.ref)}/device`;
        for (const type of (await this.dom0Xs.directory(home).catch(() => [] as string[]))) {
          for (const id of await this.dom0Xs.directory(`${home}/${type}`).catch(() => [] as string[])) {
            if ((await this.dom0Xs.read(`${home}/${type}/${id}/state`).catch(() => null)) === '4') return `frontend ${type}/${id} Connected (dom0's xenstore)`;
          }
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw hostError('XAPI_TIMEOUT', `${ref.name}: no sign of PV drivers within ${Math.round(this.cfg.timeouts.bootMs / 1000)} s after the driver install (${this.cfg.dom0 ? 'no frontend Connected in dom0\'s xenstore, and ' : ''}VM_guest_metrics.PV_drivers_detected false: no guest agent reporting)`);
      }
      try {
        await this.s.waitFor(`${ref.name} to report PV drivers`, Math.min(1_000, left), () => (this.metricsOf(g)?.PV_drivers_detected === true ? true : undefined));
      } catch (e) {
        if (!isWinpvError(e) || e.code !== 'XAPI_TIMEOUT') throw e;
      }
    }
  }

  private metricsOf(g: XGuest): XapiRecord | undefined {
    const vm = this.vm(g);
    return vm && vm.guest_metrics !== NULL_REF ? this.s.get(vm.guest_metrics as string) : undefined;
  }

  async startGuest(ref: GuestRef): Promise<void> {
    const g = this.g(ref);
    await this.ours(g, async () => {
      if (this.vm(g)?.power_state === 'Paused') await this.s.callAsync('VM.unpause', g.vm);
      else await this.s.callAsync('VM.start', g.vm, false, false);
      await this.waitBooted(g);
    });
    this.emit(g, 'started', this.found(g));
  }

  async rebootGuest(ref: GuestRef, opts: RebootOptions = {}): Promise<void> {
    const g = this.g(ref);
    // a reboot that finishes a driver install: why the install asked for it
    const install = g.agent?.rebootPendingFor !== undefined ? g.agent.rebootReasons : undefined;
    await this.dropGuestSsh(g);
    await this.ours(g, async () => {
      const t0 = Date.now();
      if (opts.beforeUnpause) {
        // Shut down, build the new domain paused, let the caller attach to it, then run it.
        await this.haltForReboot(g);
        await this.s.callAsync('VM.start', g.vm, true, false);
        await this.s.waitFor(`${ref.name} to be rebuilt (paused)`, this.cfg.timeouts.bootMs, () => (this.vm(g)?.power_state === 'Paused' ? true : undefined));
        g.ref.domid = num(this.vm(g)!.domid);
        await opts.beforeUnpause(g.ref);
        await this.s.callAsync('VM.unpause', g.vm);
      } else {
        await this.restartVm(g);
      }
      await this.waitBooted(g);
      if (!install || !g.agent) return;
      this.installReboot(g, 1, install, Date.now() - t0);
      // The install takes as many restarts as Windows asks for: the unplug xenvif/xenvbd request
      // at install is only read by xen.sys at the next boot (issue 14, point 2).
      for (let n = 2; ; n++) {
        const p = await g.agent.rebootPending();
        if (!p.pending) break;
        const why = p.reasons.map(pendingReason);
        if (n > this.cfg.maxInstallReboots) {
          throw guestError('GUEST_REBOOT_LOOP', `${ref.name}: Windows still asks for a restart after ${this.cfg.maxInstallReboots} reboots of the driver install (${why.join('; ')}); a driver that asks at every boot never settles (the limit is maxInstallReboots in the host entry)`);
        }
        const t = Date.now();
        await this.dropGuestSsh(g);
        await this.restartVm(g);
        await this.waitBooted(g);
        this.installReboot(g, n, why, Date.now() - t);
      }
      const seen = await this.waitPvDrivers(g.ref);
      this.trace?.emit({ ev: 'log', inst: g.inst, level: 'info', msg: `${ref.name}: driver install finished: ${seen}` });
      g.agent.rebootPendingFor = undefined;
    });
    this.emit(g, 'rebooted', this.found(g));
  }

  /** One reboot of a driver install, its own event: which one, why Windows wanted it, how long it
   *  took from the restart until the guest was found again (the results store sums them). */
  private installReboot(g: XGuest, n: number, reasons: readonly string[], ms: number): void {
    const reason = reasons.join('; ') || 'the install asked for a restart';
    this.emit(g, 'install-reboot', { n, reason, ms, domid: g.ref.domid, ...this.found(g) });
    this.trace?.emit({ ev: 'log', inst: g.inst, level: 'info', msg: `${g.ref.name}: install reboot ${n} (${reason}) took ${ms} ms` });
  }

  /** VM.clean_reboot, or VM.hard_reboot where xapi refuses a clean one: a guest whose PV drivers
   * are not connected yet lacks feature-shutdown (VM_LACKS_FEATURE_SHUTDOWN, api_errors.ml), which
   * is every reboot of a driver install before the last. */
  private async restartVm(g: XGuest): Promise<void> {
    try {
      await this.s.callAsync('VM.clean_reboot', g.vm);
    } catch (e) {
      if (!isWinpvError(e) || !/LACKS_FEATURE|MISSING_PV|TIMEOUT/.test(e.code)) throw e;
      await this.s.callAsync('VM.hard_reboot', g.vm);
    }
  }

  /** Clean shutdown (Windows shuts down as for a restart), hard if the guest cannot or does not. */
  private async haltForReboot(g: XGuest) {
    try {
      await withTimeout(this.s.callAsync('VM.clean_shutdown', g.vm), this.cfg.timeouts.shutdownMs, `clean shutdown of ${g.ref.name}`);
    } catch {
      if (this.vm(g)?.power_state !== 'Halted') await this.s.callAsync('VM.hard_shutdown', g.vm);
    }
  }

  async shutdownGuest(ref: GuestRef, how: 'clean' | 'hard'): Promise<void> {
    const g = this.g(ref);
    await this.dropGuestSsh(g);
    await this.ours(g, async () => {
      if (how === 'clean') {
        try {
          await withTimeout(this.s.callAsync('VM.clean_shutdown', g.vm), this.cfg.timeouts.shutdownMs, `clean shutdown of ${ref.name}`);
          return;
        } catch (e) {
          this.trace?.emit({ ev: 'log', inst: g.inst, level: 'warn', msg: `clean shutdown of ${ref.name} failed (${(e as Error).message}); hard shutdown` });
        }
      }
      if (this.vm(g)?.power_state !== 'Halted') await this.s.callAsync('VM.hard_shutdown', g.vm);
    });
    this.emit(g, 'shutdown', { how });
  }

  /** Destroys the guest's VM, or with `reuseGuests` parks it for the next guest of its shape
   *  (`keep: false`, as close() does, always destroys). */
  async destroyGuest(ref: GuestRef, opts: { keep?: boolean } = {}): Promise<void> {
    const g = this.guests.get(ref.handle);
    if (!g || g.destroyed) return;
    // a crash dump on its way into the report first (bounded by the boot and copy timeouts)
    await g.collecting?.catch(() => undefined);
    g.destroyed = true;
    await this.dropGuestSsh(g);
    if (g.spare && !g.failed && opts.keep !== false && (await this.park(g))) return;
    g.busy++;
    try {
      await destroyVm(this.s, g.vm);
      await this.sweepOwner(g.owner);
    } finally {
      g.busy--;
    }
    this.guests.delete(ref.handle);
    this.emit(g, 'destroyed');
  }

  /** Keeps a guest's VM for reuse; false when it cannot be halted (then it is destroyed). */
  private async park(g: XGuest): Promise<boolean> {
    g.busy++;
    try {
      await this.spares.park(this.s, { vm: g.vm, preInstall: g.spare!.preInstall, owner: g.owner, key: g.spare!.key });
    } catch (e) {
      this.trace?.emit({ ev: 'log', inst: g.inst, level: 'warn', msg: `keeping ${g.ref.name} for reuse failed (${(e as Error).message}); destroying it` });
      return false;
    } finally {
      g.busy--;
    }
    this.guests.delete(g.vm);
    this.emit(g, 'destroyed', { kept: 'for reuse' });
    return true;
  }

  /** Removes loose VDIs of one guest (created before their VBD existed, or left by a failed step). */
  private async sweepOwner(owner: string) {
    for (const vdi of this.s.all('VDI')) {
      const oc = (vdi.other_config ?? {}) as Record<string, string>;
      if (oc[RUN_KEY] !== this.runId || oc[OWNER_KEY] !== owner) continue;
      try {
        await this.s.callAsync('VDI.destroy', vdi.$ref);
      } catch (e) {
        if (!isWinpvError(e) || e.code !== 'XAPI_HANDLE_INVALID') throw e;
      }
    }
  }

  async powerState(ref: GuestRef): Promise<GuestPowerState> {
    const g = this.guests.get(ref.handle);
    const vm = g ? this.vm(g) : this.s.get(ref.handle);
    if (!vm) return 'gone';
    return POWER[vm.power_state as string] ?? 'crashed';
  }

  homePath(ref: GuestRef): string {
    return `/local/domain/${ref.domid}`;
  }

  agent(ref: GuestRef): GuestAgent {
    return this.agentOf(this.g(ref));
  }

  private agentOf(g: XGuest): WindowsAgent {
    g.agent ??= new WindowsAgent({
      name: g.ref.name,
      connect: () => this.guestSsh(g),
      address: async () => this.addressOf(g) ?? (await this.findGuest(g)).ip,
      vbdTarget: (dev) => this.vbdTarget(g, dev),
      dataDisk: () => (g.dataDisk ??= this.addDataDisk(g).catch((e: unknown) => {
        g.dataDisk = undefined;
        throw e;
      })),
      insertIso: (name) => this.insertIso(g.ref, name),
      deliverIso: (iso, version) => this.deliverDisc(g, iso, version),
      dom0Ntttcp: this.cfg.dom0 ? { address: async () => this.dom0Address(), run: (role, o) => this.dom0Ntttcp(role, o) } : undefined,
      log: (level, msg) => this.trace?.emit({ ev: 'log', inst: g.inst, level, msg }),
      // xapi sees the PV drivers (PV_drivers_detected, which suspend, migrate and hot-plug need)
      // and the guest's addresses only through the guest agent, which reaches xenstore through xeniface
      companions: ['xeniface'],
    });
    return g.agent;
  }

  /**
   * The data disk a verifying workload runs on instead of the system disk: a new VDI in the default
   * SR and a VBD at the first userdevice from 4 up that neither the VM nor the scenario uses (so on
   * xvd, not the emulated IDE of userdevices 0-3), tagged with the run and hot-plugged like any
   * scenario disk. It goes with the guest (destroyVm takes the VM's disks; a kept guest's revert
   * removes the run's loose disks), so nothing is left on the pool.
   */
  private async addDataDisk(g: XGuest): Promise<{ dev: DeviceRef; label: string }> {
    const used = new Set(((this.vm(g)?.VBDs as string[]) ?? []).map((b) => String(this.s.get(b)?.userdevice)));
    for (const v of g.shape.vbds) used.add(userdeviceOf(v.vdev));
    const ud = [...Array(12).keys()].map((i) => i + 4).find((n) => !used.has(String(n)));
    if (ud === undefined) throw hostError('XAPI_NO_DEVICE', `${g.ref.name} has no free userdevice (4-15) for the data disk of a verifying workload`);
    const vdev = `xvd${String.fromCharCode(97 + ud)}`;
    const dev = await this.hotplug.attachVbd(g.ref, { vdev, sizeMiB: DATA_DISK_MIB, mode: 'w', backend: {} });
    if (this.cfg.dom0) await this.waitConnected(g, dev);
    const label = `${vdev} (the run's data disk, ${DATA_DISK_MIB} MiB, userdevice ${ud})`;
    this.trace?.emit({ ev: 'log', inst: g.inst, level: 'info', msg: `${g.ref.name}: data disk ${label} created and plugged for verifying workloads` });
    return { dev, label };
  }

  /** Until the guest's frontend of a new disk is Connected (xenvbd then reports the disk to Windows). */
  private async waitConnected(g: XGuest, dev: DeviceRef): Promise<void> {
    const path = `${this.homePath(g.ref)}/device/${dev}/state`;
    const until = Date.now() + this.cfg.timeouts.bootMs;
    while ((await this.dom0Xs.read(path).catch(() => null)) !== '4') {
      if (Date.now() > until) throw hostError('XAPI_TIMEOUT', `${g.ref.name}'s data disk ${dev} did not connect within ${Math.round(this.cfg.timeouts.bootMs / 1000)} s`);
      await this.clock.sleep(200);
    }
  }

  /** XENVBD's target id of a disk: read from the frontend (device/vbd/<id>/target-id) or the userdevice. */
  private async vbdTarget(g: XGuest, dev: DeviceRef): Promise<number | undefined> {
    const devid = dev.split('/')[1];
    if (this.cfg.dom0) {
      const v = await this.dom0Xs.read(`${this.homePath(g.ref)}/device/vbd/${devid}/target-id`).catch(() => null);
      if (v !== null && /^\d+$/.test(v)) return Number(v);
    }
    return undefined;
  }

  private async guestSsh(g: XGuest): Promise<SshConnection> {
    g.ssh ??= (async () => {
      const ip = this.addressOf(g) ?? (await this.findGuest(g)).ip;
      const deadline = Date.now() + this.cfg.timeouts.bootMs;
      // sshd starts a little after the guest agent reports the IP.
      for (;;) {
        try {
          const c = await SshConnection.connect(sshTarget(this.cfg.guest, ip), { timeoutMs: 20_000 });
          c.onClose(() => {
            if (g.ssh) g.ssh = undefined;
          });
          return c;
        } catch (e) {
          const retry = isWinpvError(e) && (e.code === 'SSH_CONNECT' || e.code === 'SSH_TIMEOUT');
          if (!retry || Date.now() > deadline) throw e;
          await this.clock.sleep(2_000);
        }
      }
    })();
    try {
      return await g.ssh;
    } catch (e) {
      g.ssh = undefined;
      throw e;
    }
  }

  private async dropGuestSsh(g: XGuest) {
    const c = g.ssh;
    g.ssh = undefined;
    if (c) await c.then((x) => x.close()).catch(() => undefined);
  }

  // ------------------------------------------------------------------------------------------ dom0

  /** Address of the pool member running the guests (the pool master when none runs). */
  private dom0Address(): string {
    const running = [...this.guests.values()].map((g) => this.vm(g)).find((vm) => vm && vm.resident_on !== NULL_REF);
    const hostRef = (running?.resident_on as string | undefined) ?? (this.s.all('pool')[0]?.master as string);
    return (this.s.get(hostRef)?.address as string | undefined) ?? new URL(this.cfg.url).hostname;
  }

  /** ntttcp-for-linux in dom0 as the far end of a guest's NTttcp (-N: no sync port handshake). */
  private async dom0Ntttcp(role: 'r' | 's', o: { threads: number; ip: string; seconds: number }): Promise<void> {
    const r = await (await this.dom0()).exec(['ntttcp', `-${role}`, '-N', '-m', `${o.threads},*,${o.ip}`, '-t', String(o.seconds)], { timeoutMs: (o.seconds + 120) * 1000 });
    if (r.code === 127) throw new WinpvError('input', 'DOM0_NTTTCP_MISSING', `ntttcp (ntttcp-for-linux) is not installed in dom0 of ${this.dom0Address()}: install it there, or give the network workload a peer guest`);
    if (r.code !== 0) throw new WinpvError('input', 'DOM0_NTTTCP_FAILED', `ntttcp in dom0 failed (exit ${r.code}): ${r.stderr.trim().split('\n')[0] ?? ''}`);
  }

  /** dom0 of the host running the guests (the pool master when none runs). */
  private dom0(): Promise<SshConnection> {
    const cred = this.cfg.dom0;
    if (!cred) return Promise.reject(hostError('XAPI_NO_DOM0', 'dom0 SSH is switched off for this host (dom0Ssh: false)'));
    const address = this.dom0Address();
    let c = this.dom0Conns.get(address);
    if (!c) {
      c = SshConnection.connect(sshTarget(cred, address), { timeoutMs: 20_000 });
      c.catch(() => this.dom0Conns.delete(address));
      this.dom0Conns.set(address, c);
    }
    return c;
  }

  // ------------------------------------------------------------------------------------------ capabilities

  // XenAPI has one way to stop a guest with its memory: VM.suspend (xenopsd's VM_save into a
  // suspend VDI, then the domain is destroyed) and VM.resume (a new domain restored from that VDI).
  // VM.checkpoint is no in-place alternative: it is the same suspend, a clone and a resume into a
  // new domain. So `suspend` (suspend-resume) and `save-restore` both drive these two calls; the
  // guest's PV drivers see exactly what a XenCenter suspend/resume does to them.
  readonly suspend: SuspendCapability = {
    suspend: async (ref) => {
      await this.suspendVm(this.g(ref), 'suspended');
    },
    resume: async (ref, opts: RebootOptions = {}) => {
      const g = this.g(ref);
      await this.resumeVm(g, opts);
      this.emit(g, 'resumed', { domid: g.ref.domid });
      return g.ref;
    },
  };

  readonly saveRestore: SaveRestoreCapability = {
    save: async (ref) => {
      const g = this.g(ref);
      await this.suspendVm(g, 'saved');
      return String(this.vm(g)?.suspend_VDI ?? NULL_REF);
    },
    restore: async (ref, image) => {
      const g = this.g(ref);
      const have = this.vm(g)?.suspend_VDI;
      if (this.vm(g)?.power_state !== 'Suspended' || have !== image) {
        throw hostError('XAPI_NO_IMAGE', `${ref.name} has no saved image ${image} to restore (power state ${String(this.vm(g)?.power_state)}, suspend VDI ${String(have)})`);
      }
      const from = g.ref.domid;
      await this.resumeVm(g, {});
      this.emit(g, 'restored', { from, domid: g.ref.domid });
      return g.ref;
    },
  };

  /** VM.suspend: the domain and its xenstore tree are destroyed before XAPI reports the VM Suspended,
   *  so `suspending` marks where the guest's old home stops being judged. */
  private async suspendVm(g: XGuest, done: 'suspended' | 'saved') {
    // The guest's SSH connection stays: its TCP session lives in the guest's memory and carries on
    // after the resume, so a workload running in a parallel branch comes back (a connection that
    // does die is replaced at the next command).
    this.emit(g, 'suspending');
    try {
      await this.ours(g, () => this.s.callAsync('VM.suspend', g.vm));
    } catch (e) {
      // refused or cancelled with the domain still running: the guest goes on where it was
      const vm = this.vm(g);
      if (vm?.power_state === 'Running' && num(vm.domid) === g.ref.domid) this.emit(g, 'resumed', { domid: g.ref.domid, cancelled: 1 });
      throw e;
    }
    const vdi = this.vm(g)?.suspend_VDI as string | undefined;
    this.emit(g, done, done === 'saved' && vdi ? { image: String(this.s.get(vdi)?.uuid ?? vdi) } : undefined);
  }

  /** VM.resume into a new domain; built paused when the caller wants to attach to it first. */
  private async resumeVm(g: XGuest, opts: RebootOptions) {
    await this.ours(g, async () => {
      const paused = opts.beforeUnpause !== undefined;
      await this.s.callAsync('VM.resume', g.vm, paused, false);
      const want = paused ? 'Paused' : 'Running';
      await this.s.waitFor(`${g.ref.name} to be resumed (${want.toLowerCase()})`, this.cfg.timeouts.bootMs, () => (this.vm(g)?.power_state === want ? true : undefined));
      g.ref.domid = num(this.vm(g)!.domid);
      if (opts.beforeUnpause) {
        await opts.beforeUnpause(g.ref);
        await this.s.callAsync('VM.unpause', g.vm);
        await this.s.waitFor(`${g.ref.name} to run after resume`, this.cfg.timeouts.bootMs, () => (this.vm(g)?.power_state === 'Running' ? true : undefined));
      }
    });
  }

  readonly migrate: MigrateCapability = {
    migrate: async (ref, target) => {
      const g = this.g(ref);
      const vm = this.vm(g);
      const hosts = this.s.all('host');
      const dest = target ? hosts.find((h) => h.name_label === target || h.uuid === target || h.address === target) : hosts.find((h) => h.$ref !== vm?.resident_on) ?? hosts[0];
      if (!dest) throw hostError('XAPI_NO_HOST', `no pool member '${target}' to migrate ${ref.name} to`);
      // a live migration keeps the guest's TCP sessions: its SSH connection (and a workload on it) stays
      await this.ours(g, async () => {
        await this.s.callAsync('VM.pool_migrate', g.vm, dest.$ref, { live: 'true' });
        await this.s.waitFor(`${ref.name} to run on ${dest.name_label}`, this.cfg.timeouts.bootMs, () => {
          const v = this.vm(g);
          return v && v.power_state === 'Running' && v.resident_on === dest.$ref ? true : undefined;
        });
        g.ref.domid = num(this.vm(g)!.domid);
      });
      this.emit(g, 'migrated', { domid: g.ref.domid, host: String(dest.name_label) });
      return g.ref;
    },
  };

  readonly snapshot: SnapshotCapability = {
    snapshot: async (ref, label) => {
      const g = this.g(ref);
      const snap = await taggedSnapshot(this.s, g.vm, `${g.owner}:${label}`, this.runId, g.owner);
      this.emit(g, 'snapshot', { label });
      return snap;
    },
    revert: async (ref, snap) => {
      const g = this.g(ref);
      await this.dropGuestSsh(g);
      await this.ours(g, () => this.s.callAsync('VM.revert', snap));
      this.emit(g, 'reverted');
    },
    deleteSnapshot: async (snap) => {
      await destroyVm(this.s, snap);
    },
  };

  readonly hotplug: HotplugCapability = {
    attachVbd: async (ref, vbd: VbdShape) => {
      const g = this.g(ref);
      const ud = userdeviceOf(vbd.vdev);
      const tags = tagsFor(this.runId, g.owner, new Date());
      // A disk unplugged earlier comes back with its data: the same VDI in a new VBD.
      let vdi = g.detachedDisks.get(ud);
      g.detachedDisks.delete(ud);
      vdi ??= await this.s.call<string>('VDI.create', {
        name_label: `${vmName(this.runId, g.owner)}:${vbd.vdev}`, name_description: 'winpv hot-plugged disk', SR: this.s.all('pool')[0]?.default_SR, virtual_size: vbd.sizeMiB * 2 ** 20,
        type: 'user', sharable: false, read_only: false, other_config: tags, xenstore_data: {}, sm_config: {}, tags: [],
      });
      const vbdRef = await this.s.call<string>('VBD.create', {
        VM: g.vm, VDI: vdi, userdevice: ud, bootable: false, mode: vbd.mode === 'r' ? 'RO' : 'RW', type: 'Disk', empty: false,
        other_config: tags, qos_algorithm_type: '', qos_algorithm_params: {},
      });
      await this.s.callAsync('VBD.plug', vbdRef);
      const name = await this.s.waitFor(`${ref.name}'s new disk to attach`, this.cfg.timeouts.bootMs, () => {
        const v = this.s.get(vbdRef);
        return v?.currently_attached === true && v.device ? String(v.device) : undefined;
      });
      return `vbd/${vdevToDevid(name) ?? name}` as DeviceRef;
    },
    attachVif: async (ref, vif: VifShape) => {
      const g = this.g(ref);
      const vm = this.vm(g)!;
      const first = ((vm.VIFs as string[]) ?? []).map((v) => this.s.get(v)).find(Boolean);
      const network = g.detachedNetworks.get(vif.devid) ?? (first?.network as string | undefined) ?? this.s.all('network')[0]!.$ref;
      const vifRef = await this.s.call<string>('VIF.create', {
        device: String(vif.devid), network, VM: g.vm, MAC: guestMac(this.runId, g.owner, vif.devid), MTU: 1500, other_config: tagsFor(this.runId, g.owner, new Date()),
        qos_algorithm_type: '', qos_algorithm_params: {}, locking_mode: 'network_default', ipv4_allowed: [], ipv6_allowed: [],
      });
      await this.s.callAsync('VIF.plug', vifRef);
      return `vif/${vif.devid}` as DeviceRef;
    },
    detach: async (ref, dev, opts) => {
      const g = this.g(ref);
      const devRef = this.findDevice(g, dev);
      const rec = this.s.get(devRef);
      const cls = dev.startsWith('vbd/') ? 'VBD' : 'VIF';
      await this.s.callAsync(`${cls}.${opts.surprise ? 'unplug_force' : 'unplug'}`, devRef).catch((e: unknown) => {
        throw this.detachRefused(g, dev, e);
      });
      await this.s.call(`${cls}.destroy`, devRef);
      if (cls === 'VBD' && rec && rec.VDI !== NULL_REF) g.detachedDisks.set(String(rec.userdevice), String(rec.VDI));
      if (cls === 'VIF' && rec) g.detachedNetworks.set(Number(rec.device), String(rec.network));
    },
  };

  /** A scenario's disk n (xvd<n>) is the VM's userdevice n; XAPI's device model puts userdevice 0-3 of
   *  an HVM guest on IDE (hda..hdd) and the rest, and every disk of a PV guest, on xvd. The VBD's
   *  `device` field says where it went once the VM runs; before that the same rule predicts it. */
  resolveDevice(ref: GuestRef, dev: DeviceRef): DeviceRef {
    if (!dev.startsWith('vbd/')) return dev;
    const vdev = devidToVdev(Number(dev.slice(4)));
    const ud = vdev && /^(?:xvd|hd|sd)[a-z]$/.test(vdev) ? userdeviceOf(vdev) : undefined;
    const g = this.guests.get(ref.handle);
    const vm = g && this.vm(g);
    if (ud === undefined || !vm) return dev;
    const vbd = ((vm.VBDs as string[]) ?? []).map((b) => this.s.get(b)).find((b) => b && String(b.userdevice) === ud && b.type !== 'CD');
    const placed = vbd?.device ? vdevToDevid(String(vbd.device)) : undefined;
    if (placed !== undefined) return `vbd/${placed}`;
    // domain_type (XAPI >= 1.13) is 'unspecified' on VMs made before it; HVM_boot_policy decided then
    const type = String(vm.domain_type ?? 'unspecified');
    const hvm = type === 'hvm' || (type === 'unspecified' && String(vm.HVM_boot_policy ?? '') !== '');
    const n = Number(ud);
    return `vbd/${hvm && n < 4 ? vdevToDevid(`hd${String.fromCharCode(97 + n)}`)! : vdevToDevid(`xvd${String.fromCharCode(97 + n)}`)!}`;
  }

  /** xapi's DEVICE_DETACH_REJECTED (the guest refused a clean unplug) said as what it means. */
  private detachRefused(g: XGuest, dev: DeviceRef, e: unknown): unknown {
    if (!isWinpvError(e) || e.code !== 'XAPI_DEVICE_DETACH_REJECTED') return e;
    return hostError('XAPI_DEVICE_DETACH_REJECTED', `${g.ref.name} refused to give up ${dev} (Windows holds it: the system disk, the pagefile or an open volume); a clean unplug needs a disk the guest does not use, a surprise removal does not ask`, e);
  }

  private findDevice(g: XGuest, dev: DeviceRef): string {
    const vm = this.vm(g)!;
    const [kind, id] = dev.split('/') as ['vbd' | 'vif', string];
    if (kind === 'vif') {
      const hit = ((vm.VIFs as string[]) ?? []).find((v) => String(this.s.get(v)?.device) === id);
      if (hit) return hit;
    } else {
      const hit = ((vm.VBDs as string[]) ?? []).find((b) => String(vdevToDevid(String(this.s.get(b)?.device ?? ''))) === id);
      if (hit) return hit;
    }
    throw hostError('XAPI_NO_DEVICE', `${g.ref.name} has no ${dev}`);
  }

  readonly backendControl: BackendControlCapability = {
    restartKind: 'replug',
    // backend-restart on XenAPI is a toolstack unplug and plug of the device (VBD/VIF.unplug then
    // .plug): the backend goes Closing, the frontend must let go (a clean unplug asks the guest),
    // both xenstore directories are removed, and a new backend for the same devid and the same
    // disk or network is created, which the frontend connects to again. It is NOT the xl backend's
    // driver unbind/bind in dom0 (no consent asked, directories kept); see docs/real-pool.md.
    restartBackend: async (ref, dev) => {
      const g = this.g(ref);
      const devRef = this.findDevice(g, dev);
      const cls = dev.startsWith('vbd/') ? 'VBD' : 'VIF';
      await this.s.callAsync(`${cls}.unplug`, devRef).catch((e: unknown) => {
        throw this.detachRefused(g, dev, e);
      });
      await this.s.callAsync(`${cls}.plug`, devRef);
    },
    // Written where the device's backend really is (the frontend's `backend` key: backend/vbd3 for a
    // pool's tapdisk3 disks, backend/vbd or qdisk elsewhere), never at a path guessed from the device
    // type, which on a vbd3 pool would be a stray node nobody reads and the step reported as done.
    forceBackendState: async (ref, dev, state) => {
      const backend = await this.dom0Xs.read(`${this.homePath(ref)}/device/${dev}/backend`);
      if (!backend || !/^\/local\/domain\/\d+\/backend\/[a-z0-9]+\/\d+\/\d+$/.test(backend) || (await this.dom0Xs.read(`${backend}/state`)) === null) {
        throw hostError('XAPI_NO_DEVICE', `${ref.name} has no backend for ${dev} (its frontend names ${backend === null ? 'none' : `'${backend}'`})`);
      }
      await this.dom0Xs.write(`${backend}/state`, String(state));
    },
  };

  /** A local bundle's ISO as a VDI of a writable ISO SR in the guest's CD drive (iso-disc.ts says
   *  why that way); undefined when the pool has no such SR (the agent then copies the bundle over SFTP). */
  private async deliverDisc(g: XGuest, isoPath: string, version: string): Promise<IsoDisc | undefined> {
    const vm = this.vm(g)!;
    const [sr] = writableIsoSrs(this.s, { named: this.cfg.isoSr, host: vm.resident_on as string });
    if (!sr) {
      if (this.cfg.isoSr) throw hostError('XAPI_NO_ISO_SR', `no ISO SR '${this.cfg.isoSr}' on the pool for the bundle ISO`);
      return undefined;
    }
    const cd = ((vm.VBDs as string[]) ?? []).map((b) => this.s.get(b)).find((b) => b?.type === 'CD');
    if (!cd) throw hostError('XAPI_NO_CD', `${g.ref.name} has no CD drive for the bundle ISO`);
    const disc = await uploadDisc(this.s, { sr, cd, isoPath, runId: this.runId, owner: g.owner, version });
    this.trace?.emit({ ev: 'log', inst: g.inst, level: 'info', msg: `bundle ${version} uploaded as ISO VDI ${disc.name} into SR '${String(sr.name_label)}' and inserted into ${g.ref.name}'s CD drive` });
    return disc;
  }

  /** For `winpv run`'s install step on this host: insert a bundle ISO from the ISO SR into the guest's CD drive. */
  async insertIso(ref: GuestRef, isoName: string): Promise<void> {
    const g = this.g(ref);
    const sr = this.cfg.isoSr;
    // a CD drive takes only ISO SR VDIs (xapi refuses others with VDI_IS_NOT_ISO)
    const vdi = this.s.all('VDI').find((v) => {
      const vsr = this.s.get(v.SR as string);
      return v.name_label === isoName && vsr?.content_type === 'iso' && (!sr || vsr.name_label === sr || vsr.uuid === sr);
    });
    if (!vdi) throw hostError('XAPI_NO_ISO', `no ISO '${isoName}' in ${sr ? `SR '${sr}'` : 'any ISO SR'}`);
    const vm = this.vm(g)!;
    const cd = ((vm.VBDs as string[]) ?? []).map((b) => this.s.get(b)).find((b) => b?.type === 'CD');
    if (!cd) throw hostError('XAPI_NO_CD', `${ref.name} has no CD drive for the bundle ISO`);
    if (cd.empty !== true) await this.s.callAsync('VBD.eject', cd.$ref);
    await this.s.callAsync('VBD.insert', cd.$ref, vdi.$ref);
  }
}


function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(hostError('XAPI_TIMEOUT', `${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

function noDom0Xenstore(): XenstoreView {
  const no = (): never => {
    throw new WinpvError('host', 'XAPI_NO_DOM0', 'this XenAPI host has dom0 SSH switched off (dom0Ssh: false): no xenstore view');
  };
  return { read: async () => no(), directory: async () => no(), watch: async () => no(), write: async () => no(), rm: async () => no() };
}

