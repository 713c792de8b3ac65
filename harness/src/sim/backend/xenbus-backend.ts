// The common part of a Linux-style xenbus backend driver (drivers/xen/xenbus/xenbus_probe_backend.c
// and the frontend_changed handlers of blkback/netback): probe writes the feature keys and switches
// to InitWait, a watch on the frontend's state drives connect/close, and every state change is a
// write of `state` under the backend directory, as the real drivers do. Watch callbacks run one at
// a time, like Linux's single xenwatch thread.
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
  /** Frontend states on which the driver connects: blkback on Initialised or Connected, netback only on Connected. */
  protected connectOn: readonly number[] = [XenbusState.Initialised, XenbusState.Connected];

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

  async switchState(s: number): Promise<void> {
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
    const fe = await readInt(this.dom0.xs, `${this.fePath}/state`);
    if (fe === undefined) return;
    switch (fe) {
      case XenbusState.Initialising:
        // (a backend still Initialising is tapback's, whose hotplug finished before the frontend came back)
        if (this.state === XenbusState.Closed || this.state === XenbusState.Initialising) await this.switchState(XenbusState.InitWait);
        break;
      case XenbusState.Initialised:
      case XenbusState.Connected:
        if (this.state === XenbusState.Connected || !this.connectOn.includes(fe)) break;
        if (this.state !== XenbusState.InitWait) break; // not ready (Closing/Closed): ignored as Linux does
        this.disconnect();
        try {
          await this.connectRing();
        } catch (e) {
          this.hv.report.log('warn', `${this.dev} d${this.frontDomid}: connect failed: ${(e as Error).message}`);
          await this.dom0.xs.write(`${this.bePath}/error`, `connect: ${(e as Error).message}`).catch(() => undefined);
          await this.switchState(XenbusState.Closing);
          return;
        }
        if (this.state !== XenbusState.InitWait) {
          // forced Closing/Closed while it mapped the rings (force(): a restart or the backend-closing
          // fault): the driver being stopped drops the connect it had under way (blkback/netback's
          // remove -> xen_blkif_disconnect / xenvif_disconnect) instead of announcing Connected
          this.disconnect();
          break;
        }
        this.connected = true;
        await this.dom0.xs.transaction(async (tx) => {
          for (const [k, v] of Object.entries(this.connectKeys())) await tx.write(`${this.bePath}/${k}`, v);
        });
        await this.switchState(XenbusState.Connected);
        break;
      case XenbusState.Closing:
        this.disconnect();
        this.connected = false;
        await this.switchState(XenbusState.Closing);
        break;
      case XenbusState.Closed:
        this.disconnect();
        this.connected = false;
        await this.switchState(XenbusState.Closed);
        if ((await this.dom0.xs.read(`${this.bePath}/online`)) === '0') await this.remove();
        break;
      default:
        break;
    }
  }

  /** Forces a state as `xenstore-write state N` would, and acts on it like the driver does. */
  async force(state: number): Promise<void> {
    if (state === XenbusState.Closing || state === XenbusState.Closed) {
      this.disconnect();
      this.connected = false;
    }
    await this.switchState(state);
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
