// A frontend's shared ring: pages from guest memory granted to the backend, the sring initialised
// as SHARED_RING_INIT does, a FrontRing for the private indices, and an unbound event channel for
// the backend to bind. The keys describing it are what the frontend writes to xenstore.
import { FrontRing, SharedRing } from '../../abi/ring';
import type { DeviceRef } from '../../model/scenario';
import type { RingName } from '../../model/trace';
import type { Domain } from '../hypervisor';

export class FrontendRing {
  readonly front: FrontRing;
  readonly refs: number[];
  readonly gfn: number;
  private ended = false;

  constructor(
    readonly dom: Domain,
    readonly dev: DeviceRef,
    readonly queue: number,
    readonly name: RingName,
    readonly order: number,
    entrySize: number,
    readonly backendDomid: number,
    /** Event channel port (shared between tx and rx when not split). */
    public port: number,
  ) {
    const { gfn, buf } = dom.memory.alloc(1 << order);
    this.gfn = gfn;
    const sring = new SharedRing(buf, entrySize);
    sring.init();
    this.front = new FrontRing(sring);
    this.refs = [];
    for (let i = 0; i < 1 << order; i++) this.refs.push(dom.grants.grantAccess(backendDomid, gfn + i, false, dev));
  }

  get mem(): Buffer {
    return this.front.sring.mem;
  }

  /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY then notify_remote_via_evtchn when asked. */
  push(): void {
    if (this.front.pushRequests()) this.notify();
  }

  notify(): void {
    if (this.ended) return;
    this.dom.hv.evtchn.notify(this.dom.domid, this.port);
    this.dom.hv.report.ringNotify(this.dom.domid, this.dev, this.queue, this.name);
  }

  /**
   * Ends the ring's grants and frees its pages. With `force` a still-mapped grant is ended anyway
   * (the grant-revoke-mapped bug); otherwise a mapped grant is ended once the backend unmaps it,
   * as gnttab_end_foreign_access defers it.
   */
  end(opts: { endGrants: boolean; force: boolean }): void {
    if (this.ended) return;
    this.ended = true;
    if (!opts.endGrants) return;
    // The pages go back to the allocator only once no grant of them is left.
    let left = this.refs.length;
    const ended = () => {
      if (--left === 0) this.dom.memory.free(this.gfn);
    };
    for (const r of this.refs) {
      if (opts.force) {
        if (!this.dom.grants.endAccess(r)) this.dom.grants.forceEnd(r);
        ended();
      } else this.dom.endGrantDeferred(r, ended);
    }
  }

  get isEnded(): boolean {
    return this.ended;
  }
}

/** Allocates an unbound port for the backend and installs the guest's interrupt handler. */
export function allocPort(dom: Domain, backendDomid: number, handler: () => void): number {
  const port = dom.hv.evtchn.allocUnbound(dom.domid, backendDomid);
  dom.hv.evtchn.bind(dom.domid, port, () => dom.onCpu(handler));
  return port;
}
