// The xenbus side of a Windows PV frontend (xenvbd, xenvif), driven by the driver's spec: it waits
// for the backend state the spec names, writes the keys the spec lists, in the spec's order, with the
// spec's fixed values and the device model's computed ones (spec-model.ts connectWrites) in one
// transaction retried as often as the spec says, then the first state of the spec's connect path
// (inside that transaction only when the spec's device says state-in-connect-transaction), follows
// the spec's path to Connected, and closes along the spec's close path (leaving its keys unless the
// spec says keys-on-close="removed"). Faults bend exactly one rule.
import type { DriverSpec } from '../../model/spec';
import type { DeviceRef, RegistrySetting } from '../../model/scenario';
import { XenbusState } from '../../model/xenbus';
import type { Domain } from '../hypervisor';
import { connectConditionKeys, connectWrites, registryDword, statePath, waitsFor } from '../spec-model';
import { applyKeyFaults, noFrontendFaults, type FrontendFaults } from '../faults';
import { readInt } from '../xs';
import type { FrontendRing } from './front-ring';

/** How long a closing frontend waits for the backend before it closes anyway (the model's bound). */
const CLOSE_TIMEOUT_MS = 10_000;
/** How long the driver waits for one backend state change before it gives up on the step: win-xenvif
 *  frontend.c FrontendWaitForBackendXenbusStateChange (TotalTimeout 120000 ms). */
const BACKEND_STEP_TIMEOUT_MS = 120_000;

/** The real driver's connect fails here (xenvif frontend.c FrontendSetNumQueues: a backend maximum of 0 queues). */
export class ConnectRefused extends Error {}

export type FrontendPhase = 'idle' | 'connecting' | 'connected' | 'closing' | 'closed' | 'gone' | 'failed';

export abstract class XenbusFrontend {
  state: number = XenbusState.Initialising;
  phase: FrontendPhase = 'idle';
  backendState = XenbusState.Unknown as number;
  backendPath = '';
  faults: FrontendFaults = noFrontendFaults();
  /** The guest's registry settings (scenario `<registry>`), read by the driver at load as its Parameters. */
  registry: readonly RegistrySetting[] = [];
  private unwatch?: () => Promise<void>;
  private waiters: { pred: (s: number) => boolean; resolve: (s: number) => void }[] = [];
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly dom: Domain,
    readonly spec: DriverSpec,
    readonly type: 'vbd' | 'vif',
    readonly devid: number,
  ) {}

  get dev(): DeviceRef {
    return `${this.type}/${this.devid}`;
  }
  get fePath(): string {
    return `${this.dom.home}/device/${this.type}/${this.devid}`;
  }
  protected get hv() {
    return this.dom.hv;
  }
  protected log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.hv.report.log(level, `d${this.dom.domid} ${this.dev} ${this.spec.name}: ${msg}`);
  }

  /** The driver's REG_DWORD parameter: the guest's setting, else the INF's AddReg default from the spec. */
  protected regDword(value: string): number | undefined {
    return registryDword(this.spec, value, this.registry);
  }

  /** Allocates rings, grants and event channels from the backend's features; returns the values it computed
   *  (ring refs, ports, queue count, order, ids) by path; which keys are written, and in what order, is the
   *  spec's. Throws ConnectRefused where the real driver's connect fails. */
  protected abstract setupRings(backendFeature: (k: string) => Promise<string | null>): Promise<Record<string, string>>;
  /** Reads what the backend publishes at Connected (disk size, ...) before the data plane starts. */
  protected async backendConnected(): Promise<void> {}
  /** Starts the data plane once both ends are Connected. */
  protected abstract started(): void;
  /** Fails or (on suspend) parks outstanding requests; ends grants unless told not to; frees rings. */
  protected abstract teardownRings(opts: { endGrants: boolean; force: boolean }): void;
  /** Outstanding requests on all rings (close waits for them to drain). */
  abstract outstanding(): number;
  /** The rings in use right now (for the ring view). */
  abstract liveRings(): FrontendRing[];

  /** Attach to the device directory and connect as the spec says. */
  async start(): Promise<void> {
    this.backendPath = (await this.dom.xs.read(`${this.fePath}/backend`)) ?? '';
    if (!this.backendPath) {
      this.phase = 'failed';
      this.log('warn', 'no backend path in the device directory');
      return;
    }
    this.unwatch = await this.dom.xs.watch(`${this.backendPath}/state`, () =>
      this.dom.onCpu(() => this.serial(() => this.backendChanged())),
    );
    const current = await readInt(this.dom.xs, `${this.fePath}/state`);
    if (current !== undefined && current !== XenbusState.Initialising) {
      // A frontend that finds its previous state (a driver reloaded, a rebooted guest whose devices
      // were kept) walks back to Initialising one backend step at a time: win-xenvif frontend.c
      // FrontendPrepare writes Closing while the backend is Connected, Closed once it is Closing and
      // Initialising once it is Closed, each after FrontendWaitForBackendXenbusStateChange saw the
      // backend's new state; win-xenvbd frontend.c FrontendClose does the same before FrontendPrepare.
      // Writing them back to back would leave a Linux backend, which reads the frontend's current
      // state when its watch fires (xenbus_probe.c xenbus_otherend_changed), behind at Connected.
      this.backendState = (await readInt(this.dom.xs, `${this.backendPath}/state`)) ?? this.backendState;
      this.state = current;
      await this.followPath(statePath(this.spec, current, XenbusState.Initialising, 'reconnect'), 'reconnect', BACKEND_STEP_TIMEOUT_MS);
    }
    await this.announceEarly();
    await this.prepare();
    await this.connect();
  }

  /** What the driver writes before it waits for the backend's InitWait (xenvbd FrontendPrepare). */
  protected async prepare(): Promise<void> {}

  protected serial(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((e) => this.log('error', (e as Error).message));
  }

  private async backendChanged(): Promise<void> {
    const v = await this.dom.xs.read(`${this.backendPath}/state`);
    if (v === null) {
      if (this.phase !== 'gone' && this.phase !== 'idle') await this.surpriseRemoved();
      // a driver waiting for the backend stops waiting once it is gone (win-xenvif frontend.c
      // FrontendWaitForBackendXenbusStateChange: "disappeared", XenbusStateUnknown)
      for (const w of this.waiters.splice(0)) w.resolve(XenbusState.Unknown);
      return;
    }
    this.backendState = Number(v);
    for (const w of [...this.waiters]) if (w.pred(this.backendState)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(this.backendState);
    }
    if ((this.backendState === XenbusState.Closing || this.backendState === XenbusState.Closed) && (this.phase === 'connected' || this.phase === 'connecting')) {
      void this.close();
    } else if (this.backendState === XenbusState.InitWait && this.phase === 'closed') {
      void this.reconnect();
    }
  }

  /** Resolves once the backend's state satisfies pred (as seen through the watch). */
  protected waitBackend(pred: (s: number) => boolean, timeoutMs?: number): Promise<number> {
    if (pred(this.backendState)) return Promise.resolve(this.backendState);
    return new Promise((resolve) => {
      const w = { pred, resolve };
      this.waiters.push(w);
      if (timeoutMs !== undefined) {
        this.hv.sched.after(timeoutMs * 1000, () => {
          const i = this.waiters.indexOf(w);
          if (i < 0) return;
          this.waiters.splice(i, 1);
          this.log('warn', `backend did not answer within ${timeoutMs} ms (state ${this.backendState})`);
          resolve(this.backendState);
        });
      }
    });
  }

  async switchState(s: number): Promise<void> {
    this.state = s;
    await this.dom.xs.write(`${this.fePath}/state`, String(s));
  }

  /** The backend states in which the spec's driver takes the hop from -> to in `phase` (its peer-states;
   *  the hop of any phase when `phase` has none); undefined: the driver does not wait for the backend. */
  private hopPeerStates(from: number, to: number, phase: string): number[] | undefined {
    const all = this.spec.device?.frontendTransitions ?? [];
    const hop = all.find((t) => t.phase === phase && t.from === from && t.to === to) ?? all.find((t) => t.from === from && t.to === to);
    return hop?.peerStates?.length ? hop.peerStates : undefined;
  }

  /** Writes each state of `path` once the backend is in a state the spec says the driver takes that hop
   *  in (the drivers wait for each backend change between their writes: win-xenvif frontend.c
   *  FrontendClose and FrontendPrepare, win-xenvbd frontend.c FrontendClose and __WaitState). A backend
   *  that does not get there within `timeoutMs` is logged and the driver goes on, as after xenvif's
   *  FrontendWaitForBackendXenbusStateChange timeout. */
  private async followPath(path: number[], phase: string, timeoutMs: number): Promise<void> {
    for (const s of path) {
      const peers = this.hopPeerStates(this.state, s, phase);
      if (peers && !this.faults.closeNoWait) await this.waitBackend((b) => peers.includes(b), timeoutMs);
      if (this.phase === 'gone') return;
      await this.switchState(s);
    }
  }

  private announced = false;
  /** The early-connect bug: the frontend announces its first connect state as soon as it starts,
   *  before its prepare work (xenvbd's data/scsi keys) and before the backend's InitWait. */
  private async announceEarly(): Promise<void> {
    if (!this.faults.earlyConnect || this.announced) return;
    this.announced = true;
    const path = statePath(this.spec, XenbusState.Initialising, XenbusState.Connected, 'connect');
    await this.switchState(this.faults.skipState ? XenbusState.Connected : path[0]);
  }

  private connectRun?: Promise<void>;
  /** The device went away (surprise removal, detach) while an await was pending. */
  private isGone(): boolean {
    return this.phase === 'gone';
  }

  async connect(): Promise<void> {
    const run = this.runConnect();
    this.connectRun = run;
    return run;
  }

  private async runConnect(): Promise<void> {
    this.phase = 'connecting';
    let path = statePath(this.spec, XenbusState.Initialising, XenbusState.Connected, 'connect');
    if (this.faults.skipState) path = [XenbusState.Connected];
    // The early-connect bug: announce the next state before the backend has reached InitWait.
    if (this.faults.earlyConnect) await this.announceEarly();
    else await this.waitBackend((s) => s >= waitsFor(this.spec) && s <= XenbusState.Connected);
    if (this.phase !== 'connecting') return;
    this.negotiated = new Map();
    this.teardownRings({ endGrants: true, force: false }); // nothing of an interrupted connect survives
    let proposed: Record<string, string>;
    try {
      proposed = await this.setupRings((k) => this.backendFeature(k));
    } catch (e) {
      if (!(e instanceof ConnectRefused)) throw e;
      this.log('warn', `connect refused: ${e.message}`);
      this.teardownRings({ endGrants: true, force: false });
      this.phase = 'failed';
      return;
    }
    if (this.phase !== 'connecting') {
      // Suspended, closed or removed while setting up: drop what was just built.
      this.teardownRings({ endGrants: true, force: false });
      return;
    }
    const backendKeys = await this.readConnectConditions();
    const keys = applyKeyFaults(this.faults, connectWrites(this.spec, proposed, (k) => backendKeys.get(k), this.registry));
    if (!(await this.writeConnectKeys(keys, path[0]))) return;
    this.state = path[0];
    for (const s of path.slice(1)) {
      await this.waitBackend((b) => b === XenbusState.Connected || b >= XenbusState.Closing);
      if (this.backendState !== XenbusState.Connected) return;
      await this.switchState(s);
    }
    await this.waitBackend((b) => b === XenbusState.Connected || b >= XenbusState.Closing);
    if (this.backendState !== XenbusState.Connected || this.phase !== 'connecting') return;
    await this.backendConnected();
    this.phase = 'connected';
    this.started();
  }

  /** The backend keys the spec's connect writes depend on (those it has written). */
  private async readConnectConditions(): Promise<Map<string, string>> {
    const backendKeys = new Map<string, string>();
    for (const k of connectConditionKeys(this.spec)) {
      const v = await this.backendFeature(k);
      if (v !== null) backendKeys.set(k, v);
    }
    return backendKeys;
  }

  /** Writes the connect keys in one transaction, and the first state of the connect path inside it or
   *  after it as the spec says; false (the device failed) when the transaction gives up. */
  private async writeConnectKeys(keys: [string, string][], firstState: number): Promise<boolean> {
    const stateInTx = this.spec.device?.stateInConnectTransaction === true;
    try {
      await this.dom.xs.transaction(
        async (tx) => {
          for (const [k, v] of keys) await tx.write(`${this.fePath}/${k}`, v);
          if (stateInTx) await tx.write(`${this.fePath}/state`, String(firstState));
          this.writtenKeys = keys.map(([k]) => k);
        },
        { maxRetries: Math.min(this.faults.maxTxRetries, this.spec.device?.connectTransactionRetries ?? Infinity) },
      );
      if (!stateInTx) await this.dom.xs.write(`${this.fePath}/state`, String(firstState));
      return true;
    } catch (e) {
      // A frontend that gives up on its transaction stays in Initialising: the device never connects.
      this.log('warn', `connect transaction failed: ${(e as Error).message}`);
      this.teardownRings({ endGrants: true, force: false });
      this.phase = 'failed';
      return false;
    }
  }

  /** Orderly close along the spec's close path: quiesce, Closing, wait for the backend, end grants, Closed. */
  async close(): Promise<void> {
    if (this.phase === 'closing' || this.phase === 'closed' || this.phase === 'gone') return;
    this.phase = 'closing';
    const path = statePath(this.spec, this.state, XenbusState.Closed, 'close', this.backendState);
    const endEarly = this.faults.revokeMapped;
    if (endEarly) this.teardownRings({ endGrants: true, force: true });
    // Closing, then Closed once the backend is Closing or Closed (the spec's peer-states of each hop)
    await this.followPath(path, 'close', CLOSE_TIMEOUT_MS);
    // ... and both drivers wait on until the backend is Closed too before the device counts as closed:
    // win-xenvif frontend.c FrontendClose loops until the backend reads Closed; win-xenvbd frontend.c
    // FrontendClose's last loop ("Backend : -> CLOSED"). A guest that reboots or unloads the driver
    // meanwhile would otherwise leave a Linux backend Closing, which ignores the next Initialising.
    // A backend being removed (online 0) is not waited for: xenvif's FrontendSetXenbusState(Closed) takes
    // the frontend offline then, which ends FrontendClose's loop.
    const online = await this.dom.xs.read(`${this.backendPath}/online`).catch(() => null);
    if (!this.isGone() && online !== '0' && !this.faults.closeNoWait) await this.waitBackend((b) => b === XenbusState.Closed, CLOSE_TIMEOUT_MS);
    if (this.isGone()) return; // the backend vanished meanwhile: surpriseRemoved tore down
    if (!endEarly) this.teardownRings({ endGrants: !this.faults.grantLeak, force: false });
    await this.removeKeys();
    await this.grantsSettled();
    this.phase = 'closed';
    this.hv.report.deviceClosed(this.dom.domid, this.dev);
  }

  /** Windows stops the device (shutdown, reboot): a connect in flight finishes first, as the drivers'
   *  FrontendSetState runs one transition at a time under the frontend's lock (win-xenvif frontend.c
   *  FrontendSetState: FrontendConnect returns once the backend is Connected, or fails after its
   *  timeouts and closes), then the device closes. */
  async stop(): Promise<void> {
    // (a frontend still in Initialising, its backend never seen at InitWait, is dropped as it is: the
    // model does not let a guest's shutdown hang on a backend that never came)
    if (this.phase === 'connecting' && this.state === XenbusState.Initialising) return;
    await this.settleConnect();
    if (this.phase === 'connected' || this.phase === 'connecting') await this.close();
  }

  /** Lets a connect in flight finish (bounded by the model's CLOSE_TIMEOUT_MS) before Windows acts on
   *  the device again: FrontendConnect runs under the frontend's spin lock at DISPATCH_LEVEL (win-xenvif
   *  frontend.c FrontendSetState), so neither a PnP stop nor xenbus's suspend, which first captures
   *  every CPU with a DPC (win-xenbus sync.c SyncCapture), gets in before it returns. */
  async settleConnect(): Promise<void> {
    if (this.phase !== 'connecting' || !this.connectRun || this.state === XenbusState.Initialising) return;
    let timedOut = false;
    await Promise.race([this.connectRun.catch(() => undefined), this.hv.sched.sleep(CLOSE_TIMEOUT_MS).then(() => (timedOut = true))]);
    if (timedOut) this.log('warn', `connect still waiting for the backend (state ${this.backendState}) after ${CLOSE_TIMEOUT_MS} ms`);
  }

  /** Waits (briefly) for deferred grant revokes of this device to complete before it reports closed. */
  private async grantsSettled(limitMs = 200): Promise<void> {
    const deadline = this.hv.sched.now() + limitMs;
    while (this.dom.grants.activeRefs(this.dev).length > 0 && this.hv.sched.now() < deadline) await this.hv.sched.sleep(10);
  }

  private writtenKeys: string[] = [];

  /** The backend's features as this frontend read them at its last connect (null: not offered). */
  negotiated = new Map<string, string | null>();
  /** What was negotiated before the last resume, restore or migration (read only by the stale-backend-features fault). */
  private before?: ReadonlyMap<string, string | null>;

  /** The features a frontend negotiated before the guest moved (a restore rebuilds the simulated frontends). */
  inheritNegotiated(before: ReadonlyMap<string, string | null>): void {
    this.before = before;
  }

  /**
   * A backend feature, read at every connect: win-xenvbd frontend.c FrontendPrepare (feature-persistent,
   * feature-max-indirect-segments) and FrontendConnect (feature-barrier, feature-flush-cache,
   * feature-discard), and win-xenvif's ring connects (multi-queue-max-queues, feature-split-event-channels,
   * feature-ctrl-ring) run again after a resume (xenvbd FrontendSuspendLateCallback takes the frontend
   * to CLOSED and back to its state), so a guest that lands on a poorer backend renegotiates. The
   * stale-backend-features fault answers from what was negotiated before the move.
   */
  protected async backendFeature(k: string): Promise<string | null> {
    const v = this.faults.staleBackendFeatures && this.before?.has(k) ? this.before.get(k)! : await this.dom.xs.read(`${this.backendPath}/${k}`);
    this.negotiated.set(k, v);
    return v;
  }

  /** Removes the keys this frontend wrote only when its spec says the driver does (keys-on-close);
   *  the win-pv drivers leave them, and a backend must not read stale ones before the next Initialised. */
  private async removeKeys(): Promise<void> {
    if (this.spec.device?.keysOnClose !== 'removed') return;
    const keys = this.writtenKeys;
    this.writtenKeys = [];
    if (keys.length === 0) return;
    await this.dom.xs
      .transaction(async (tx) => {
        for (const k of keys) await tx.rm(`${this.fePath}/${k}`);
      })
      .catch((e) => this.log('warn', `removing ring keys: ${(e as Error).message}`));
  }

  private async reconnect(): Promise<void> {
    const path = statePath(this.spec, XenbusState.Closed, XenbusState.Initialising, 'reconnect');
    for (const s of path) await this.switchState(s);
    await this.connect();
  }

  /** Whether a frontend going away now ends its grants. win-xenvif frontend.c __FrontendConnect: when the
   *  backend does not reach Connected (its fail10/fail11 path) the connect is unwound (NotifierDisconnect,
   *  TransmitterDisconnect, ReceiverDisconnect, GranterDisconnect), so a device removed in the middle of a
   *  (re)negotiation leaves no grant; the connect-unwind-leak fault is a frontend without that unwind. */
  private endsGrantsOnRemoval(): boolean {
    if (this.faults.grantLeak) return false;
    return !(this.faults.connectUnwindLeak && this.phase === 'connecting');
  }

  /** The backend directory vanished (surprise removal): fail everything, clean up, stop. */
  private async surpriseRemoved(): Promise<void> {
    const endGrants = this.endsGrantsOnRemoval();
    this.phase = 'gone';
    this.teardownRings({ endGrants, force: false });
    this.hv.report.deviceClosed(this.dom.domid, this.dev);
    await this.unwatch?.().catch(() => undefined);
  }

  /** Windows stopped (a bugcheck): the driver no longer runs, so it no longer follows its backend.
   *  Its rings stay as they were until the device is detached once the guest restarts. */
  async freeze(): Promise<void> {
    const u = this.unwatch;
    this.unwatch = undefined;
    await u?.().catch(() => undefined);
  }

  /** The guest removes the device (PnP remove after the toolstack deleted it) or shuts down. */
  async detach(): Promise<void> {
    if (this.phase !== 'gone' && this.phase !== 'closed') {
      const wasIdle = this.phase === 'idle';
      this.teardownRings({ endGrants: this.endsGrantsOnRemoval(), force: false });
      this.phase = 'gone';
      // as close(): the audit comes once the deferred revokes of the rings went through
      if (!wasIdle) {
        await this.grantsSettled();
        this.hv.report.deviceClosed(this.dom.domid, this.dev);
      }
    }
    this.phase = 'gone';
    await this.unwatch?.().catch(() => undefined);
  }

  /** Suspend: drain (unless the suspend-inflight fault), then drop rings; resume reconnects. */
  async suspend(): Promise<void> {
    this.teardownRings({ endGrants: true, force: false });
    this.phase = 'idle';
  }

  async resumeReconnect(): Promise<void> {
    this.before = new Map(this.negotiated);
    this.backendPath = (await this.dom.xs.read(`${this.fePath}/backend`)) ?? this.backendPath;
    await this.unwatch?.().catch(() => undefined);
    this.backendState = XenbusState.Unknown;
    this.unwatch = await this.dom.xs.watch(`${this.backendPath}/state`, () =>
      this.dom.onCpu(() => this.serial(() => this.backendChanged())),
    );
    await this.switchState(XenbusState.Initialising);
    await this.connect();
  }

  protected async readBackendInt(k: string): Promise<number | undefined> {
    return readInt(this.dom.xs, `${this.backendPath}/${k}`);
  }
}
