// The common part of a Linux-style xenbus backend driver (drivers/xen/xenbus/xenbus_probe_backend.c):
// probe writes the feature keys and switches to InitWait, a watch on the frontend's state drives
// connect and close through each driver's own frontend_changed (onFrontendState: blkback, netback and
// tapback differ, most in how they walk back to InitWait when a frontend reconnects), and every state
// change is a write of `state` under the backend directory, as the real drivers do. Watch callbacks
// run one at a time, like Linux's single xenwatch thread.
import { XenbusState } from '../../model/xenbus';
import type { DeviceRef } from '../../model/scenario';
import type { Domain, Hypervisor } from '../hypervisor';
import { readInt } from '../xs';
import type { BackendRing } from './ring-queue';

/** Backend-side faults, switched on and off by the fault injector. */
export interface BackendFaults {
  stall: boolean;
  missedNotify: boolean;
  lostWakeup: boolean;
  unknownResponseIds: number;
  duplicateResponses: number;
  /** Extra latency (µs) on every `spikeEvery`-th request; 0 = off. */
  spikeUs: number;
  spikeEvery: number;
}

const noBackendFaults = (): BackendFaults => ({
  stall: false, missedNotify: false, lostWakeup: false, unknownResponseIds: 0, duplicateResponses: 0, spikeUs: 0, spikeEvery: 0,
});

export abstract class XenbusBackend {
  state: number = XenbusState.Unknown;
  readonly faults = noBackendFaults();
  private unwatch?: () => Promise<void>;
  private chain: Promise<void> = Promise.resolve();
  private removed = false;
  protected connected = false;

  constructor(
    readonly hv: Hypervisor,
    readonly dom0: Domain,
    readonly frontDomid: number,
    readonly type: 'vbd' | 'vif',
    readonly devid: number,
    /** Key overrides from the scenario (e.g. max-ring-page-order=0): the backend writes and honours them. */
    readonly overrides: Record<string, string>,
  ) {}

  get dev(): DeviceRef {
    return `${this.type}/${this.devid}`;
  }
  /** The backend's directory under backend/: the device type for Linux's blkback and netback; tapdisk3
   *  serves a guest's vbd from backend/vbd3 (Tapback). */
  get backendDir(): string {
    return this.type;
  }
  get bePath(): string {
    return `/local/domain/0/backend/${this.backendDir}/${this.frontDomid}/${this.devid}`;
  }
  get fePath(): string {
    return `/local/domain/${this.frontDomid}/device/${this.type}/${this.devid}`;
  }

  /** Feature keys written at probe time (before InitWait). */
  protected abstract probeKeys(): Record<string, string>;
  /** Reads the frontend's ring keys, maps the rings, binds the event channels; throws to refuse. */
  protected abstract connectRing(): Promise<void>;
  /** Keys written in the connect transaction just before switching to Connected. */
  protected abstract connectKeys(): Record<string, string>;
  /** Unmaps rings and closes event channels (idempotent). */
  protected abstract disconnect(): void;

  /** A feature value: the scenario's override or the driver's default. */
  protected feature(name: string, dflt: string): string {
    return this.overrides[name] ?? dflt;
  }

  async probe(): Promise<void> {
    const keys = this.probeKeys();
    await this.dom0.xs.transaction(async (tx) => {
      for (const [k, v] of Object.entries(keys)) await tx.write(`${this.bePath}/${k}`, v);
    });
    await this.switchState(XenbusState.InitWait);
    await this.watchFrontend();
  }

  /** The watch on the frontend's state that drives connect and close. */
  protected async watchFrontend(): Promise<void> {
    this.unwatch = await this.dom0.xs.watch(`${this.fePath}/state`, () => this.serial(() => this.frontendChanged()));
  }

  /** Whether a switch to the state already set writes it again: Linux's xenbus_switch_state does not
   *  (xenbus_client.c __xenbus_switch_state: "if (state == dev->state) return 0", not to fire watches
   *  unnecessarily); tapback's own xenbus_switch_state (frontend.c) does. */
  protected rewritesSameState = false;

  async switchState(s: number): Promise<void> {
    if (s === this.state && !this.rewritesSameState) return;
    await this.writeState(s);
  }

  private async writeState(s: number): Promise<void> {
    if (this.removed) return;
    this.state = s;
    await this.dom0.xs.write(`${this.bePath}/state`, String(s));
  }

  /** Runs watch work one item at a time. */
  protected serial(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((e) => this.hv.report.log('error', `${this.dev} d${this.frontDomid} backend: ${(e as Error).message}`));
  }

  private async frontendChanged(): Promise<void> {
    if (this.removed) return;
    // the backend's reaction time to its frontend (sim/timings.ts backendReactionMs, from the lab)
    const reactMs = this.hv.domain(this.frontDomid)?.timings.backendReactionMs ?? 0;
    if (reactMs > 0) await this.hv.sched.sleep(reactMs);
    if (this.removed) return;
    // like xenbus_probe.c xenbus_otherend_changed (and tapback's otherend watch): the state read when
    // the watch fires, not the value that fired it
    const fe = await readInt(this.dom0.xs, `${this.fePath}/state`);
    if (fe === undefined) return;
    await this.onFrontendState(fe);
  }

  /** The driver's frontend_changed for the frontend's state `fe`: each backend as its source has it
   *  (blkback.ts, netback.ts, tapback.ts). */
  protected abstract onFrontendState(fe: number): Promise<void>;

  /** Maps the frontend's rings and announces Connected after the connect transaction; a refusal writes
   *  `error` and Closing (xenbus_dev_fatal). Returns whether the backend connected. */
  protected async connectFrontend(): Promise<boolean> {
    const before = this.state;
    this.disconnect(); // blkback's "enforce precondition" (xen_blkif_disconnect is idempotent)
    try {
      await this.connectRing();
    } catch (e) {
      this.hv.report.log('warn', `${this.dev} d${this.frontDomid}: connect failed: ${(e as Error).message}`);
      await this.dom0.xs.write(`${this.bePath}/error`, `connect: ${(e as Error).message}`).catch(() => undefined);
      await this.switchState(XenbusState.Closing);
      return false;
    }
    if (this.state !== before || this.removed) {
      // forced Closing/Closed while it mapped the rings (force(): a restart or the backend-closing
      // fault): the driver being stopped drops the connect it had under way (blkback/netback's
      // remove -> xen_blkif_disconnect / xenvif_disconnect) instead of announcing Connected
      this.disconnect();
      return false;
    }
    this.connected = true;
    await this.dom0.xs.transaction(async (tx) => {
      for (const [k, v] of Object.entries(this.connectKeys())) await tx.write(`${this.bePath}/${k}`, v);
    });
    await this.switchState(XenbusState.Connected);
    return true;
  }

  /** Unmaps the rings and switches to `state` (Closing or Closed). */
  protected async disconnectTo(state: number): Promise<void> {
    this.disconnect();
    this.connected = false;
    await this.switchState(state);
  }

  /** After Closed: a device the toolstack took offline (online = 0) goes away (blkback/netback
   *  frontend_changed: "if not online" -> device_unregister; for tapback, xapi's removal). */
  protected async removeIfOffline(): Promise<void> {
    if ((await this.dom0.xs.read(`${this.bePath}/online`)) === '0') await this.remove();
  }

  /** Forces a state as `xenstore-write state N` would, and acts on it like the driver does. */
  async force(state: number): Promise<void> {
    if (state === XenbusState.Closing || state === XenbusState.Closed) {
      this.disconnect();
      this.connected = false;
    }
    await this.writeState(state); // a write from outside the driver: whatever the state was
  }

  /** Device removal by the toolstack: unwatch, tear down, delete the backend directory. */
  async remove(opts: { surprise?: boolean } = {}): Promise<void> {
    if (this.removed) return;
    this.disconnect();
    this.connected = false;
    this.removed = true;
    await this.unwatch?.().catch(() => undefined);
    void opts; // surprise or not, the toolstack deletes the directory; only the handshake before differs
    await this.dom0.xs.rm(this.bePath).catch(() => undefined);
  }

  /** Stops the driver without touching xenstore (a restart hands the directory to a new instance). */
  async detachDriver(): Promise<void> {
    this.disconnect();
    this.connected = false;
    this.removed = true;
    await this.unwatch?.().catch(() => undefined);
  }

  get isRemoved(): boolean {
    return this.removed;
  }

  /** The mapped rings (for the ring view's req_cons). */
  abstract liveRings(): BackendRing[];

  /** Counters for backend.stats. */
  abstract stats(): Record<string, number>;
}
