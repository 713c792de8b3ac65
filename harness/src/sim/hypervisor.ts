// The simulated hypervisor: domains with their memory and grant tables, event channels, grant
// operations, the scheduler, and each domain's xenstore connection.
import { EventChannels } from './evtchn';
import { GrantOps, GrantTable } from './grants';
import { GuestMemory } from './memory';
import { Scheduler } from './scheduler';
import { SimReporter } from './events';
import { HypercallError } from './errors';
import type { Xs } from './xs';

export type DomainState = 'running' | 'paused' | 'suspended' | 'shutdown' | 'crashed' | 'dead';

export class Domain {
  state: DomainState = 'paused';
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
  private domains = new Map<number, Domain>();
  private nextDomid = 1;

  constructor(seed: number, readonly xenstore: XenstoreAttach) {
    this.sched = new Scheduler(seed);
    this.evtchn = new EventChannels(this.sched);
    this.grantOps = new GrantOps((d) => this.domains.get(d));
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
  async createDomain(name: string): Promise<Domain> {
    const domid = this.nextDomid++;
    await this.xenstore.introduce(domid);
    const xs = await this.xenstore.connect(domid);
    const d = new Domain(this, domid, name, new GuestMemory(domid), new GrantTable(domid), xs);
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

  /** XEN_DOMCTL_destroydomain: closes ports, drops mappings of its grants held by others stay visible to the audit. */
  async destroyDomain(domid: number): Promise<void> {
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
