// The simulated guests' lifecycle: create (a domain, its xenstore keys and devices, a Windows guest),
// start, reboot, shut down, keep, destroy, crash and the bug check on purpose. Each change is a
// `guest` event in the trace.
import type { BugcheckCapability, GuestPowerState, GuestRef } from '../../model/host';
import type { GuestShape } from '../../model/scenario';
import { stopCode } from '../../model/trace';
import { hostError, WinpvError } from '../../model/errors';
import { WindowsGuest } from '../../sim/windows/guest';
import { STOP_NAMES } from '../../sim/windows/crashdump';
import { collectSimDump, STOP_PARAMS } from './crash-dump';
import type { SimState } from './host-state';
import type { SimGuest } from './sim-guest';
import { guestTimings } from '../../sim/timings';

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
    const hv = st.hv;
    const dom = await hv.createDomain(shape.name);
    dom.timings = guestTimings(shape.timings);
    await st.ts().createDomainKeys(dom, shape.name, shape.memoryMiB * 1024, (shape.memoryTargetMiB ?? shape.memoryMiB) * 1024);
    for (const vbd of shape.vbds) await st.ts().addVbd(dom, vbd);
    for (const vif of shape.vifs) await st.ts().addVif(dom, vif);
    const ref: GuestRef = { name: shape.name, domid: dom.domid, handle };
    const g: SimGuest = { ref, shape, inst, dom, win: new WindowsGuest(dom, st.opts.specs, st.ts(), shape), rng: hv.sched.rng.fork(), power: 'paused' };
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

  async rebootGuest(ref: GuestRef): Promise<void> {
    const st = this.st;
    const g = st.guest(ref);
    if (g.power !== 'running') throw hostError('SIM_NOT_RUNNING', `${ref.name} is ${g.power}`);
    const frontends = [...g.win.frontends.values()];
    await g.win.shutdown();
    // xl and xapi rebuild the domain on reboot, so its device directories start fresh: the keys the
    // drivers left behind when they closed (they remove none) do not survive into the next boot.
    for (const fe of frontends) for (const p of fe.keysLeftBehind()) await st.dom0.xs.rm(p).catch(() => undefined);
    g.win.platform.reset();
    // the rebuilt domain has its whole memory again; the balloon starts empty at the next boot
    g.win.balloon?.reset();
    st.lifecycle(g, 'rebooted');
    st.emitMemory(g);
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
   * and restarts (AutoReboot, Windows' default); like xl and xapi, which build a rebooted domain's devices
   * afresh, the toolstack gives every device a new backend. Windows finds the dump in its page file as it
   * boots and keeps it as MEMORY.DMP, which is collected into the run's artifacts (./crash-dump.ts).
   */
  private async bugcheckGuest(ref: GuestRef, code: number): Promise<void> {
    const st = this.st;
    const g = st.guest(ref);
    if (g.power !== 'running' || !g.win.booted) throw hostError('SIM_NOT_RUNNING', `${ref.name} is ${g.power}${g.win.booted ? '' : ' (Windows is not up)'}`);
    st.lifecycle(g, 'bugcheck', { code: stopCode(code), ...(STOP_NAMES[code] ? { name: STOP_NAMES[code] } : {}) });
    const { outcome, leftBehind, release } = await g.win.bugcheck(code, STOP_PARAMS);
    for (const p of leftBehind) await st.dom0.xs.rm(p).catch(() => undefined);
    for (const rec of st.ts().devicesOf(g.dom.domid)) await st.ts().resetBackend(g.dom, rec.dev);
    await release();
    g.win.platform.reset();
    g.win.balloon?.reset();
    st.lifecycle(g, 'rebooted', { reason: `bugcheck ${stopCode(code)}` });
    st.emitMemory(g);
    await this.bootWindows(g);
    await collectSimDump({ host: st, g, outcome, artifactsDir: st.artifactsDir });
  }
}
