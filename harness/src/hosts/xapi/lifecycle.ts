// The lifecycle of a XenAPI host's guests: building one from a scenario shape (or reverting a kept
// one of the same shape), starting, rebooting (with the extra restarts a driver install asks for),
// shutting down and destroying, and noticing power changes nobody asked for (crashes, halts,
// reboots) with the crash dump they leave.
import type { GuestPowerState, GuestRef, RebootOptions } from '../../model/host';
import type { GuestShape } from '../../model/scenario';
import { hostError, isWinpvError } from '../../model/errors';
import { pendingReason } from '../../guests/windows/devices';
import { guestError } from '../../guests/windows/powershell';
import { num } from './session';
import { buildGuest } from './guest-build';
import { destroyVm } from './teardown';
import { OWNER_KEY, RUN_KEY, vmName } from './tags';
import { shapeKey, SpareGuests, taggedSnapshot } from './spares';
import { collectCrashDump } from './crash-dump';
import { newGuest, withTimeout, type XapiState, type XGuest } from './host-state';
import type { GuestTransport } from './guest-transport';

const POWER: Record<string, GuestPowerState> = { Running: 'running', Paused: 'paused', Suspended: 'suspended', Halted: 'halted' };

export class XapiLifecycle {
  private readonly spares: SpareGuests;

  constructor(
    private readonly st: XapiState,
    private readonly transport: GuestTransport,
  ) {
    this.spares = new SpareGuests(st.runId);
  }

  async createGuest(shape: GuestShape, inst: string): Promise<GuestRef> {
    const cfg = this.st.cfg;
    if (shape.os !== 'windows') throw hostError('XAPI_UNSUPPORTED_SHAPE', `guest ${shape.name}: the XenAPI backend runs Windows guests (asked for ${shape.os})`);
    const template = shape.image ?? cfg.template;
    if (!template) throw hostError('XAPI_NO_TEMPLATE', `guest ${shape.name}: no template (set "template" in the host's config entry or the guest's image)`);
    const key = cfg.reuseGuests ? shapeKey(shape, template) : undefined;
    const reused = key ? await this.reuseSpare(key, shape, inst) : undefined;
    if (reused) return reused;
    const g = await this.buildVm(shape, inst, template);
    if (key) await this.keepPreInstall(g, key);
    return this.buildPaused(g, {});
  }

  /** A new VM of the shape, registered as soon as it exists: a half-built one is removed again. */
  private async buildVm(shape: GuestShape, inst: string, template: string): Promise<XGuest> {
    const owner = `${inst}/${shape.name}`;
    let vmRef: string | undefined;
    try {
      await buildGuest(this.st.s, shape, {
        runId: this.st.runId, owner, template, network: this.st.cfg.network, now: new Date(),
        log: (msg) => this.st.log(inst, 'warn', msg),
        created: (ref) => {
          vmRef = ref;
          // Registered at once: destroyGuest can remove a half-built guest.
          this.st.guests.set(ref, newGuest({ name: shape.name, domid: -1, handle: ref }, ref, inst, shape, owner));
        },
      });
    } catch (e) {
      if (vmRef) await this.destroyGuest(this.st.guests.get(vmRef)!.ref).catch(() => undefined);
      else await this.sweepOwner(owner).catch(() => undefined);
      throw e;
    }
    return this.st.guests.get(vmRef!)!;
  }

  /** Halted, before its first boot and any driver install: what the next guest of this shape reverts to. */
  private async keepPreInstall(g: XGuest, key: string): Promise<void> {
    try {
      g.spare = { preInstall: await taggedSnapshot(this.st.s, g.vm, `${vmName(this.st.runId, g.owner)}:pre-install`, this.st.runId, g.owner), key };
    } catch (e) {
      await this.destroyGuest(g.ref).catch(() => undefined);
      throw e;
    }
  }

  /** A parked VM of the same shape, reverted to its pre-install snapshot, for this scenario's guest. */
  private async reuseSpare(key: string, shape: GuestShape, inst: string): Promise<GuestRef | undefined> {
    const spare = this.spares.take(key);
    if (!spare) return undefined;
    const g = newGuest({ name: shape.name, domid: -1, handle: spare.vm }, spare.vm, inst, shape, spare.owner);
    g.spare = { preInstall: spare.preInstall, key };
    this.st.guests.set(spare.vm, g);
    try {
      await this.st.ours(g, () => this.spares.revert(this.st.s, spare));
      await this.st.s.call('VM.set_name_label', g.vm, vmName(this.st.runId, `${inst}/${shape.name}`));
    } catch (e) {
      // a spare that cannot be reverted is not used: it goes, and the guest is built anew
      this.st.log(inst, 'warn', `reverting a kept guest for ${shape.name} failed (${(e as Error).message}); building a new one`);
      await this.destroyGuest(g.ref, { keep: false }).catch(() => undefined);
      return undefined;
    }
    return this.buildPaused(g, { reverted: 'pre-install snapshot' });
  }

  /** Builds the domain paused and reports the guest created. */
  private async buildPaused(g: XGuest, detail: Record<string, string>): Promise<GuestRef> {
    // The domain is built now, paused: its domid and backends exist before the runner attaches its
    // probes, so they see every frontend from Initialising on. startGuest unpauses it.
    try {
      await this.st.ours(g, async () => {
        await this.st.s.callAsync('VM.start', g.vm, true, false).catch((e: unknown) => {
          throw this.placementRefused(g, e);
        });
        await this.st.waitPower(g, 'Paused', `${g.shape.name} to be built (paused)`);
      });
    } catch (e) {
      await this.destroyGuest(g.ref, { keep: false }).catch(() => undefined);
      throw e;
    }
    this.st.emit(g, 'created', { vm: String(this.st.s.get(g.vm)?.uuid ?? ''), ...detail });
    return g.ref;
  }

  /** xapi's placement refusals said as which guest and what to do: HOST_NOT_ENOUGH_FREE_MEMORY(needed,
   *  available); NO_HOSTS_AVAILABLE, which VM.start answers when no host qualifies (xapi_vm_helpers.ml
   *  choose_host_for_vm_no_wlb skips every disabled host: maintenance mode, host.disable). */
  private placementRefused(g: XGuest, e: unknown): unknown {
    if (isWinpvError(e) && e.code === 'XAPI_NO_HOSTS_AVAILABLE') {
      return hostError('XAPI_NO_HOSTS_AVAILABLE', `no pool member can start guest ${g.owner} (NO_HOSTS_AVAILABLE): every host is disabled (maintenance mode or host.disable) or cannot boot it; see \`xe host-list params=name-label,enabled\` and \`xe host-enable\``, e);
    }
    if (!isWinpvError(e) || e.code !== 'XAPI_HOST_NOT_ENOUGH_FREE_MEMORY') return e;
    const [need, have] = (/\(([^,]*), ([^)]*)\)/.exec(e.message) ?? []).slice(1).map((x) => Math.floor(Number(x) / 2 ** 20));
    return hostError('XAPI_HOST_NOT_ENOUGH_FREE_MEMORY', `guest ${g.owner} needs ${need ?? '?'} MiB and no pool member has that free (at most ${have ?? '?'} MiB): shut down other VMs or give the guest less memory`, e);
  }

  async startGuest(ref: GuestRef): Promise<void> {
    const g = this.st.g(ref);
    await this.st.ours(g, async () => {
      if (this.st.vm(g)?.power_state === 'Paused') await this.st.s.callAsync('VM.unpause', g.vm);
      else await this.st.s.callAsync('VM.start', g.vm, false, false);
      await this.transport.waitBooted(g);
    });
    this.st.emit(g, 'started', this.transport.found(g));
  }

  async rebootGuest(ref: GuestRef, opts: RebootOptions = {}): Promise<void> {
    const g = this.st.g(ref);
    // a reboot that finishes a driver install: why the install asked for it
    const install = g.agent?.rebootPendingFor !== undefined ? g.agent.rebootReasons : undefined;
    await this.transport.dropGuestSsh(g);
    await this.st.ours(g, async () => {
      const t0 = Date.now();
      if (opts.beforeUnpause) await this.rebootPaused(g, opts.beforeUnpause);
      else await this.restartVm(g);
      await this.transport.waitBooted(g);
      if (install && g.agent) await this.finishInstall(g, install, Date.now() - t0);
    });
    this.st.emit(g, 'rebooted', this.transport.found(g));
  }

  /** Shut down, build the new domain paused, let the caller attach to it, then run it. */
  private async rebootPaused(g: XGuest, beforeUnpause: NonNullable<RebootOptions['beforeUnpause']>): Promise<void> {
    await this.haltForReboot(g);
    await this.st.s.callAsync('VM.start', g.vm, true, false);
    await this.st.waitPower(g, 'Paused', `${g.ref.name} to be rebuilt (paused)`);
    await beforeUnpause(g.ref);
    await this.st.s.callAsync('VM.unpause', g.vm);
  }

  /** The rest of a driver install after its first reboot: as many restarts as Windows asks for (the
   *  unplug xenvif/xenvbd request at install is only read by xen.sys at the next boot, issue 14
   *  point 2), then until the PV drivers run. */
  private async finishInstall(g: XGuest, firstReasons: readonly string[], firstMs: number): Promise<void> {
    const agent = g.agent!;
    const max = this.st.cfg.maxInstallReboots;
    this.installReboot(g, 1, firstReasons, firstMs);
    for (let n = 2; ; n++) {
      const p = await agent.rebootPending();
      if (!p.pending) break;
      const why = p.reasons.map(pendingReason);
      if (n > max) {
        throw guestError('GUEST_REBOOT_LOOP', `${g.ref.name}: Windows still asks for a restart after ${max} reboots of the driver install (${why.join('; ')}); a driver that asks at every boot never settles (the limit is maxInstallReboots in the host entry)`);
      }
      const t = Date.now();
      await this.transport.dropGuestSsh(g);
      await this.restartVm(g);
      await this.transport.waitBooted(g);
      this.installReboot(g, n, why, Date.now() - t);
    }
    const seen = await this.transport.waitPvDrivers(g.ref);
    this.st.log(g.inst, 'info', `${g.ref.name}: driver install finished: ${seen}`);
    agent.rebootPendingFor = undefined;
  }

  /** One reboot of a driver install, its own event: which one, why Windows wanted it, how long it
   *  took from the restart until the guest was found again (the results store sums them). */
  private installReboot(g: XGuest, n: number, reasons: readonly string[], ms: number): void {
    const reason = reasons.join('; ') || 'the install asked for a restart';
    this.st.emit(g, 'install-reboot', { n, reason, ms, domid: g.ref.domid, ...this.transport.found(g) });
    this.st.log(g.inst, 'info', `${g.ref.name}: install reboot ${n} (${reason}) took ${ms} ms`);
  }

  /** VM.clean_reboot, or VM.hard_reboot where xapi refuses a clean one: a guest whose PV drivers
   * are not connected yet lacks feature-shutdown (VM_LACKS_FEATURE_SHUTDOWN, api_errors.ml), which
   * is every reboot of a driver install before the last. */
  private async restartVm(g: XGuest): Promise<void> {
    try {
      await this.st.s.callAsync('VM.clean_reboot', g.vm);
    } catch (e) {
      if (!isWinpvError(e) || !/LACKS_FEATURE|MISSING_PV|TIMEOUT/.test(e.code)) throw e;
      await this.st.s.callAsync('VM.hard_reboot', g.vm);
    }
  }

  /** Clean shutdown (Windows shuts down as for a restart), hard if the guest cannot or does not. */
  private async haltForReboot(g: XGuest) {
    try {
      await withTimeout(this.st.s.callAsync('VM.clean_shutdown', g.vm), this.st.cfg.timeouts.shutdownMs, `clean shutdown of ${g.ref.name}`);
    } catch {
      if (this.st.vm(g)?.power_state !== 'Halted') await this.st.s.callAsync('VM.hard_shutdown', g.vm);
    }
  }

  async shutdownGuest(ref: GuestRef, how: 'clean' | 'hard'): Promise<void> {
    const g = this.st.g(ref);
    await this.transport.dropGuestSsh(g);
    await this.st.ours(g, async () => {
      if (how === 'clean') {
        try {
          await withTimeout(this.st.s.callAsync('VM.clean_shutdown', g.vm), this.st.cfg.timeouts.shutdownMs, `clean shutdown of ${ref.name}`);
          return;
        } catch (e) {
          this.st.log(g.inst, 'warn', `clean shutdown of ${ref.name} failed (${(e as Error).message}); hard shutdown`);
        }
      }
      if (this.st.vm(g)?.power_state !== 'Halted') await this.st.s.callAsync('VM.hard_shutdown', g.vm);
    });
    this.st.emit(g, 'shutdown', { how });
  }

  /** Destroys the guest's VM, or with `reuseGuests` parks it for the next guest of its shape
   *  (`keep: false`, as close() does, always destroys). */
  async destroyGuest(ref: GuestRef, opts: { keep?: boolean } = {}): Promise<void> {
    const g = this.st.guests.get(ref.handle);
    if (!g || g.destroyed) return;
    // a crash dump on its way into the report first (bounded by the boot and copy timeouts)
    await g.collecting?.catch(() => undefined);
    g.destroyed = true;
    await this.transport.dropGuestSsh(g);
    if (g.spare && !g.failed && opts.keep !== false && (await this.park(g))) return;
    g.busy++;
    try {
      await destroyVm(this.st.s, g.vm);
      await this.sweepOwner(g.owner);
    } finally {
      g.busy--;
    }
    this.st.guests.delete(ref.handle);
    this.st.emit(g, 'destroyed');
  }

  /** Keeps a guest's VM for reuse; false when it cannot be halted (then it is destroyed). */
  private async park(g: XGuest): Promise<boolean> {
    g.busy++;
    try {
      await this.spares.park(this.st.s, { vm: g.vm, preInstall: g.spare!.preInstall, owner: g.owner, key: g.spare!.key });
    } catch (e) {
      this.st.log(g.inst, 'warn', `keeping ${g.ref.name} for reuse failed (${(e as Error).message}); destroying it`);
      return false;
    } finally {
      g.busy--;
    }
    this.st.guests.delete(g.vm);
    this.st.emit(g, 'destroyed', { kept: 'for reuse' });
    return true;
  }

  /** Whatever the runner did not destroy (a crash of the runner itself), then the kept spares. */
  async destroyAll(): Promise<void> {
    for (const g of this.st.guests.values()) await this.destroyGuest(g.ref, { keep: false }).catch(() => undefined);
    if (!this.st.isOpen) return;
    for (const e of await this.spares.destroyAll(this.st.s)) this.st.log(undefined, 'error', `removing a kept guest failed: ${e.message}`);
  }

  /** Removes loose VDIs of one guest (created before their VBD existed, or left by a failed step). */
  private async sweepOwner(owner: string) {
    for (const vdi of this.st.s.all('VDI')) {
      const oc = (vdi.other_config ?? {}) as Record<string, string>;
      if (oc[RUN_KEY] !== this.st.runId || oc[OWNER_KEY] !== owner) continue;
      try {
        await this.st.s.callAsync('VDI.destroy', vdi.$ref);
      } catch (e) {
        if (!isWinpvError(e) || e.code !== 'XAPI_HANDLE_INVALID') throw e;
      }
    }
  }

  async powerState(ref: GuestRef): Promise<GuestPowerState> {
    const g = this.st.guests.get(ref.handle);
    const vm = g ? this.st.vm(g) : this.st.s.get(ref.handle);
    if (!vm) return 'gone';
    return POWER[vm.power_state as string] ?? 'crashed';
  }

  /** Called after every batch of events: power changes nobody asked for are crashes or unexpected halts. */
  watchGuests(): void {
    for (const g of this.st.guests.values()) {
      if (g.destroyed || g.busy > 0) continue;
      const vm = this.st.vm(g);
      if (!vm) continue;
      const now = { power: vm.power_state as string, domid: num(vm.domid) };
      const was = g.last;
      if (now.power === was.power && now.domid === was.domid) continue;
      g.last = now;
      if (was.power === 'Running') this.unexpected(g, was, now);
    }
  }

  /** A running guest changed power state on its own. */
  private unexpected(g: XGuest, was: { domid: number }, now: { power: string; domid: number }): void {
    if (now.power === 'Paused') {
      g.failed = true;
      this.st.emit(g, 'crashed', { power_state: 'Paused' });
      g.collecting ??= this.collectCrashDump(g);
    } else if (now.power === 'Halted') {
      g.failed = true;
      g.stopCollecting?.abort();
      this.st.emit(g, 'halted-unexpectedly');
    } else if (now.power === 'Running' && now.domid !== was.domid) {
      g.ref.domid = now.domid;
      this.st.emit(g, 'rebooted', { unexpected: 1 });
      // Windows restarts by itself after a bugcheck (the default) and writes the dump as it boots
      g.collecting ??= this.collectCrashDump(g, { restart: false });
    }
  }

  /** The crash dump into the report: a preserved crashed domain is restarted by us (an expected
   *  power change); a guest that restarted by itself is only waited for, so that whatever it does
   *  meanwhile (halting, say) is still reported. */
  collectCrashDump(g: XGuest, opts: { restart: boolean } = { restart: true }): Promise<void> {
    const back = async () => {
      if (opts.restart) {
        await this.st.ours(g, async () => {
          await this.st.s.callAsync('VM.hard_reboot', g.vm);
          await this.transport.waitBooted(g);
        });
      } else {
        g.stopCollecting = new AbortController();
        await this.transport.waitBooted(g, g.stopCollecting.signal);
      }
    };
    return collectCrashDump({ name: g.ref.name, inst: g.inst, back, agent: () => this.transport.agentOf(g) }, this.st.trace, this.st.artifactsDir, this.st.secrets());
  }
}
