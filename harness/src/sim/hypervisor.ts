// The simulated hypervisor: domains with their memory and grant tables, event channels, grant
// operations, the scheduler, and each domain's xenstore connection.
import { EventChannels } from './evtchn';
import { GrantOps, GrantTable } from './grants';
import { GuestMemory } from './memory';
import { Scheduler } from './scheduler';
import { SimReporter } from './events';
import { HypercallError } from './errors';
import type { Xs } from './xs';
import type { SparseDisk } from './disk';
import { guestTimings, type SimTimings } from './timings';

export type DomainState = 'running' | 'paused' | 'suspended' | 'shutdown' | 'crashed' | 'dead';

export class Domain {
  state: DomainState = 'paused';
  /** This guest's modelled durations (sim/timings.ts; the scenario's <timings> over the defaults). */
  timings: SimTimings = guestTimings();
  /** Work deferred while the domain is paused or suspended (its vCPUs do not run). */
  private deferred: (() => void)[] = [];

  constructor(
    readonly hv: Hypervisor,
    readonly domid: number,
    readonly name: string,
    readonly memory: GuestMemory,
    readonly grants: GrantTable,
    readonly xs: Xs,
  ) {}

  get home(): string {
    return `/local/domain/${this.domid}`;
  }

  /** Runs fn on this domain's vCPUs: now if it is running, else when it runs again; never if it died. */
  onCpu(fn: () => void): void {
    if (this.state === 'running') fn();
    else if (this.state === 'paused' || this.state === 'suspended') this.deferred.push(fn);
  }

  private deferredGrants = new Map<number, (() => void) | undefined>();

  /**
   * Ends a grant now, or (when the remote domain still has it mapped) later: retried
   * every 10 ms (a deferred revoke as gnttab_end_foreign_access does it), so a grant is never freed while mapped.
   */
  endGrantDeferred(ref: number, onEnded?: () => void): void {
    if (this.grants.endAccess(ref)) {
      onEnded?.();
      return;
    }
    const arm = this.deferredGrants.size === 0;
    this.deferredGrants.set(ref, onEnded);
    if (arm) this.retryDeferred();
  }

  private retryDeferred(): void {
    this.hv.sched.after(10_000, () => {
      for (const [r, done] of [...this.deferredGrants]) {
        if (!this.grants.endAccess(r)) continue;
        this.deferredGrants.delete(r);
        done?.();
      }
      if (this.deferredGrants.size > 0) this.retryDeferred();
    });
  }

  setState(s: DomainState): void {
    this.state = s;
    if (s === 'running') {
      const run = this.deferred;
      this.deferred = [];
      for (const fn of run) this.hv.sched.after(0, fn);
    } else if (s === 'dead' || s === 'crashed' || s === 'shutdown') {
      this.deferred = [];
    }
  }
}

export interface XenstoreAttach {
  /** Opens a connection for a domain (dom0: privileged). */
  connect(domid: number): Promise<Xs>;
  /** XS_INTRODUCE / XS_RELEASE (fire @introduceDomain / @releaseDomain). */
  introduce(domid: number): Promise<void>;
  release(domid: number): Promise<void>;
}

export class Hypervisor {
  readonly sched: Scheduler;
  readonly evtchn: EventChannels;
  readonly grantOps: GrantOps;
  readonly report = new SimReporter();
  /** The disks of this host's backends (their memory goes back to the process when the host closes). */
  readonly disks = new Set<SparseDisk>();
  private domains = new Map<number, Domain>();
  private nextDomid = 1;

  constructor(sched: Scheduler | number, readonly xenstore: XenstoreAttach) {
    this.sched = typeof sched === 'number' ? new Scheduler(sched) : sched;
    this.evtchn = new EventChannels(this.sched);
    this.grantOps = new GrantOps((d) => this.domains.get(d));
  }

  /** The host is closed: its disks' memory goes to the disks of the next host in this process. */
  releaseDisks(): void {
    for (const d of this.disks) d.release();
    this.disks.clear();
  }

  /** Creates dom0 (running, privileged). */
  async boot(): Promise<Domain> {
    const xs = await this.xenstore.connect(0);
    const d = new Domain(this, 0, 'Domain-0', new GuestMemory(0, 0x100000), new GrantTable(0), xs);
    this.domains.set(0, d);
    this.evtchn.addDomain(0);
    d.setState('running');
    return d;
  }

  /** XEN_DOMCTL_createdomain + introduce to xenstore; the domain starts paused. */
  async createDomain(name: string, from?: { memory: GuestMemory; grants: GrantTable }): Promise<Domain> {
    const domid = this.nextDomid++;
    await this.xenstore.introduce(domid);
    const xs = await this.xenstore.connect(domid);
    // A restored domain gets its saved memory and grant table back under the new domid.
    const d = new Domain(this, domid, name, from?.memory ?? new GuestMemory(domid), from?.grants ?? new GrantTable(domid), xs);
    this.domains.set(domid, d);
    this.evtchn.addDomain(domid);
    return d;
  }

  domain(domid: number): Domain | undefined {
    return this.domains.get(domid);
  }

  mustDomain(domid: number): Domain {
    const d = this.domains.get(domid);
    if (!d) throw new HypercallError('ESRCH', `no domain ${domid}`);
    return d;
  }

  /** XEN_DOMCTL_destroydomain: closes its ports and the mappings it holds; its memory object is only dropped by the caller (save keeps it). */
  async destroyDomain(domid: number, _opts: { keepMemory?: boolean } = {}): Promise<void> {
    const d = this.domains.get(domid);
    if (!d || d.state === 'dead') return;
    d.setState('dead');
    this.evtchn.removeDomain(domid);
    for (const h of this.grantOps.handlesHeldBy(domid)) this.grantOps.unmap(h);
    await d.xs.close().catch(() => undefined);
    await this.xenstore.release(domid);
    this.domains.delete(domid);
  }

  domids(): number[] {
    return [...this.domains.keys()];
  }
}
