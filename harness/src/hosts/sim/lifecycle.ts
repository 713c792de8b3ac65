// The simulated guests' lifecycle: create (a domain, its xenstore keys and devices, a Windows guest),
// start, reboot, shut down, keep, destroy, crash and the bug check on purpose. Each change is a
// `guest` event in the trace.
import type { BugcheckCapability, GuestPowerState, GuestRef, RebootOptions } from '../../model/host';
import type { GuestShape } from '../../model/scenario';
import { stopCode } from '../../model/trace';
import { hostError, WinpvError } from '../../model/errors';
import { WindowsGuest } from '../../sim/windows/guest';
import { defaultMac } from '../../sim/toolstack';
import { STOP_NAMES } from '../../sim/windows/crashdump';
import { collectSimDump, STOP_PARAMS } from './crash-dump';
import type { SimState } from './host-state';
import type { SimGuest } from './sim-guest';

export class SimLifecycle {
  readonly bugcheck: BugcheckCapability;

  /** `applyPending` switches on, in a new guest, the host-wide faults injected before it existed. */
  constructor(
    private readonly st: SimState,
    private readonly applyPending: (g: SimGuest) => void,
  ) {
    this.bugcheck = { bugcheck: (g, o) => this.bugcheckGuest(g, o.code) };
  }

  /** The simulated drivers honour only the parameters their specs list (the INF's AddReg and the values the
   *  driver source reads); any other would be silently ignored, so it is refused. */
  private checkRegistry(shape: GuestShape): void {
    for (const r of shape.registry ?? []) {
      if (this.st.opts.specs.get(r.driver)?.registry.some((p) => p.value === r.value && p.type === 'REG_DWORD')) continue;
      throw new WinpvError('input', 'SIM_UNKNOWN_REGISTRY_VALUE', `guest '${shape.name}': registry value ${r.driver} ${r.value} is not a REG_DWORD parameter the ${r.driver} spec lists`);
    }
  }

  async createGuest(shape: GuestShape, inst: string): Promise<GuestRef> {
    const st = this.st;
    if (shape.os !== 'windows') throw hostError('SIM_UNSUPPORTED_OS', `the simulated host runs Windows guests only (guest '${shape.name}' is ${shape.os})`);
    const handle = `${inst}/${shape.name}`;
    if (st.guests.has(handle)) throw hostError('SIM_GUEST_EXISTS', `guest '${shape.name}' of ${inst} already exists`);
    this.checkRegistry(shape);
    const dom = await st.buildDomain(shape);
    // The MACs are chosen once, as the VM is created, and kept in its configuration (libxl's stored
    // domain configuration, which a restart reloads; xapi's VIF.MAC): a reboot, restore or migration
    // brings the same NICs back.
    const kept: GuestShape = { ...shape, vifs: shape.vifs.map((v) => ({ ...v, mac: v.mac ?? defaultMac(dom.domid, v.devid) })) };
    const ref: GuestRef = { name: shape.name, domid: dom.domid, handle };
    const g: SimGuest = { ref, shape: kept, inst, dom, win: new WindowsGuest(dom, st.opts.specs, st.ts(), kept), rng: st.hv.sched.rng.fork(), power: 'paused' };
    st.guests.set(handle, g);
    this.applyPending(g);
    st.lifecycle(g, 'created');
    g.win.onReservation = () => st.emitMemory(g);
    // what dom0 reads in xenstored's log when it stops serving a domain's connection
    g.win.onXenstoreLost = (reason) => st.lifecycle(g, 'xenstore-lost', { reason });
    g.win.onBugcheck = (reason) => this.crash(g, reason);
    st.emitMemory(g);
    return { ...ref };
  }

  /** Windows boots to its PV frontends in the guest's bootToFrontendMs (sim/timings.ts). */
  private async bootWindows(g: SimGuest): Promise<void> {
    if (g.dom.timings.bootToFrontendMs > 0) await this.st.hv.sched.sleep(g.dom.timings.bootToFrontendMs);
    await g.win.boot();
  }

  async startGuest(ref: GuestRef): Promise<void> {
    const g = this.st.guest(ref);
    g.dom.setState('running');
    g.power = 'running';
    this.st.lifecycle(g, 'started');
    await this.bootWindows(g);
  }

  async rebootGuest(ref: GuestRef, opts: RebootOptions = {}): Promise<void> {
    const st = this.st;
    const g = st.guest(ref);
    if (g.power !== 'running') throw hostError('SIM_NOT_RUNNING', `${ref.name} is ${g.power}`);
    await g.win.shutdown();
    // The drivers closed every device: what they still hold is judged before the domain goes.
    st.audit(g, 'teardown');
    const from = await this.rebuild(g, ref, opts);
    st.lifecycle(g, 'rebooted', { from });
    await this.restart(g);
  }

  /**
   * A guest that went down for a restart gets its next domain as xl and xapi give it: the old domain
   * is destroyed with its devices and a new one is built from the same configuration, under a new
   * domid, with fresh backends and device directories. xl: on a SHUTDOWN_reboot with on_reboot="restart"
   * (xl's default) handle_domain_death (tools/xl/xl_vmcontrol.c) destroys the domain and returns
   * DOMAIN_RESTART_NORMAL, and the domain is created again from its config; the lab's reboots show the
   * new domid (hosts/xl/lifecycle.ts). xapi: xenopsd's reboot destroys the domain and builds a new one.
   * So nothing the drivers wrote survives into the next boot; the disks, which hold Windows' registry
   * and driver store, keep their contents. The caller's ref gets the new domid; `beforeUnpause` runs
   * before the new domain runs, as the real hosts offer, so the probes attach to it first.
   * `devicesGone` runs once the backends have let go of the old domain's rings. Returns the old domid.
   */
  private async rebuild(g: SimGuest, ref: GuestRef, opts: RebootOptions, devicesGone?: () => Promise<void>): Promise<number> {
    const st = this.st;
    const old = g.dom.domid;
    const disks = st.disksOf(g);
    await st.ts().destroyDevices(g.dom);
    await devicesGone?.();
    await st.hv.destroyDomain(old);
    const dom = await st.buildDomain(g.shape, { disks });
    g.dom = dom;
    g.win.dom = dom;
    g.ref = { ...g.ref, domid: dom.domid };
    ref.domid = dom.domid;
    await opts.beforeUnpause?.(ref);
    dom.setState('running');
    return old;
  }

  /** The platform device and the balloon start over (the new domain has its whole memory again), and
   *  Windows boots in its new domain. */
  private async restart(g: SimGuest): Promise<void> {
    g.win.platform.reset();
    g.win.balloon?.reset();
    this.st.emitMemory(g);
    await this.bootWindows(g);
  }

  async shutdownGuest(ref: GuestRef, how: 'clean' | 'hard'): Promise<void> {
    const g = this.st.guest(ref);
    if (g.power === 'halted' || g.power === 'gone') return;
    if (how === 'clean' && g.power === 'running') await g.win.shutdown();
    g.dom.setState('shutdown');
    g.power = 'halted';
    this.st.lifecycle(g, 'shutdown', { how });
  }

  async keepGuest(ref: GuestRef): Promise<void> {
    const g = this.st.find(ref);
    if (!g) return;
    this.st.guests.delete(g.ref.handle);
    this.st.kept.set(g.dom.domid, g);
  }

  async destroyGuest(ref: GuestRef): Promise<void> {
    const st = this.st;
    const kept = st.kept.get(ref.domid);
    const g = kept ?? st.find(ref);
    if (!g || g.power === 'gone') return;
    // An orderly close first when the guest still runs, so the teardown audit judges the drivers,
    // not the act of pulling the plug.
    if (g.power === 'running' && g.dom.state === 'running') await g.win.shutdown().catch(() => undefined);
    st.audit(g, 'teardown');
    for (const rec of st.ts().devicesOf(g.dom.domid)) st.emitStats(g, rec.dev);
    await st.ts().destroyDevices(g.dom);
    await st.hv.destroyDomain(g.dom.domid);
    g.power = 'gone';
    st.lifecycle(g, 'destroyed');
    if (kept) st.kept.delete(ref.domid);
    else st.guests.delete(g.ref.handle);
  }

  /** Every guest of the run, kept ones included, destroyed (closing the host). */
  async destroyAll(): Promise<void> {
    for (const g of [...this.st.guests.values(), ...this.st.kept.values()]) await this.destroyGuest(g.ref).catch(() => undefined);
  }

  async powerState(ref: GuestRef): Promise<GuestPowerState> {
    return this.st.find(ref)?.power ?? 'gone';
  }

  /** Crashes a guest now (the guest-crash fault, or Windows stopping at boot). */
  crash(g: SimGuest, reason = 'injected'): void {
    g.dom.setState('crashed');
    g.win.crashed();
    g.power = 'crashed';
    this.st.lifecycle(g, 'crashed', { reason });
  }

  /**
   * A BSOD on purpose: Windows writes its crash dump through xenvbd's dump path (sim/windows/crashdump.ts)
   * and restarts (AutoReboot, Windows' default) into a new domain, as any reboot (rebuild below). Windows finds the dump in its page file as it
   * boots and keeps it as MEMORY.DMP, which is collected into the run's artifacts (./crash-dump.ts).
   */
  private async bugcheckGuest(ref: GuestRef, code: number): Promise<void> {
    const st = this.st;
    const g = st.guest(ref);
    if (g.power !== 'running' || !g.win.booted) throw hostError('SIM_NOT_RUNNING', `${ref.name} is ${g.power}${g.win.booted ? '' : ' (Windows is not up)'}`);
    st.lifecycle(g, 'bugcheck', { code: stopCode(code), ...(STOP_NAMES[code] ? { name: STOP_NAMES[code] } : {}) });
    const { outcome, release } = await g.win.bugcheck(code, STOP_PARAMS);
    // The crashed system closed no device, so no close gave the backends' counters: read before they go.
    // (A reboot's orderly close gives each device's counters as it closes.)
    for (const rec of st.ts().devicesOf(g.dom.domid)) st.emitStats(g, rec.dev);
    // Windows' restart after the dump is a reset of the domain, a SHUTDOWN_reboot to the toolstack:
    // the next domain is built as for any reboot. The dead system's rings and the dump's are released
    // once the backends have let go of them. No teardown audit: the crashed system closed nothing.
    const from = await this.rebuild(g, ref, {}, release);
    st.lifecycle(g, 'rebooted', { reason: `bugcheck ${stopCode(code)}`, from });
    await this.restart(g);
    await collectSimDump({ host: st, g, outcome, artifactsDir: st.artifactsDir });
  }
}
