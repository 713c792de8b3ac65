// Event channels (xen/include/public/event_channel.h semantics): per-domain ports, allocated
// unbound for a remote domain and bound by that domain; notify sets the remote port pending and,
// unless masked, delivers an upcall through the scheduler; unmask delivers a pending event; close
// returns the peer to unbound.
import { HypercallError } from './errors';
import type { Scheduler } from './scheduler';
import { HOST_TIMINGS } from './timings';

type PortState = 'free' | 'unbound' | 'interdomain';

interface Port {
  state: PortState;
  remoteDom: number;
  remotePort: number;
  pending: boolean;
  masked: boolean;
  handler?: () => void;
  /** Upcall already queued (an event channel coalesces notifications until handled). */
  queued: boolean;
  notified: number;
}

/** Virtual latency of an upcall after a notify, microseconds. */
const EVTCHN_UPCALL_US = HOST_TIMINGS.evtchnUpcallUs;

export class EventChannels {
  private ports = new Map<number, Port[]>();
  /** Observers of every notify (the ring view's onNotify hangs off this). */
  private observers = new Set<(dom: number, port: number) => void>();

  constructor(private readonly sched: Scheduler) {}

  addDomain(domid: number): void {
    this.ports.set(domid, [this.freePort()]); // port 0 is never allocated (as in Xen)
  }

  /** Closes every port of a dying domain. */
  removeDomain(domid: number): void {
    const list = this.ports.get(domid);
    if (!list) return;
    list.forEach((p, i) => p.state !== 'free' && this.close(domid, i));
    this.ports.delete(domid);
  }

  /** EVTCHNOP_alloc_unbound */
  allocUnbound(dom: number, remoteDom: number): number {
    const port = this.alloc(dom);
    const p = this.port(dom, port);
    p.state = 'unbound';
    p.remoteDom = remoteDom;
    return port;
  }

  /** EVTCHNOP_bind_interdomain: binds a new local port to the remote domain's unbound port. */
  bindInterdomain(dom: number, remoteDom: number, remotePort: number): number {
    const rp = this.ports.get(remoteDom)?.[remotePort];
    if (!rp || rp.state !== 'unbound' || rp.remoteDom !== dom) {
      throw new HypercallError('EINVAL', `d${dom}: port ${remotePort} of d${remoteDom} is not unbound for it`);
    }
    const port = this.alloc(dom);
    const p = this.port(dom, port);
    p.state = 'interdomain';
    p.remoteDom = remoteDom;
    p.remotePort = remotePort;
    rp.state = 'interdomain';
    rp.remotePort = port;
    return port;
  }

  /** Registers the upcall handler of a local port (the guest's interrupt service routine). */
  bind(dom: number, port: number, handler: () => void): void {
    const p = this.port(dom, port);
    p.handler = handler;
    if (p.pending && !p.masked) this.queueUpcall(p);
  }

  /** EVTCHNOP_send */
  notify(dom: number, port: number): void {
    const p = this.port(dom, port);
    if (p.state !== 'interdomain') return; // sending on an unbound port is a no-op in Xen
    for (const o of this.observers) o(dom, port);
    const rp = this.ports.get(p.remoteDom)?.[p.remotePort];
    if (!rp || rp.state !== 'interdomain') return;
    rp.notified++;
    rp.pending = true;
    if (!rp.masked) this.queueUpcall(rp);
  }

  mask(dom: number, port: number): void {
    this.port(dom, port).masked = true;
  }

  unmask(dom: number, port: number): void {
    const p = this.port(dom, port);
    p.masked = false;
    if (p.pending) this.queueUpcall(p);
  }

  isPending(dom: number, port: number): boolean {
    return this.port(dom, port).pending;
  }

  /** EVTCHNOP_close: the peer (if bound) goes back to unbound, as in Xen. */
  close(dom: number, port: number): void {
    const p = this.ports.get(dom)?.[port];
    if (!p || p.state === 'free') return;
    if (p.state === 'interdomain') {
      const rp = this.ports.get(p.remoteDom)?.[p.remotePort];
      if (rp && rp.state === 'interdomain') {
        rp.state = 'unbound';
        rp.remoteDom = dom;
      }
    }
    Object.assign(p, this.freePort());
  }

  /** Delivered notifications on a local port so far (backend statistics). */
  notifications(dom: number, port: number): number {
    return this.ports.get(dom)?.[port]?.notified ?? 0;
  }

  /** The remote end (domain, port) of a bound port. */
  peer(dom: number, port: number): { dom: number; port: number } | undefined {
    const p = this.ports.get(dom)?.[port];
    return p && p.state === 'interdomain' ? { dom: p.remoteDom, port: p.remotePort } : undefined;
  }

  observe(cb: (dom: number, port: number) => void): () => void {
    this.observers.add(cb);
    return () => this.observers.delete(cb);
  }

  private queueUpcall(p: Port): void {
    if (p.queued || !p.handler) return;
    p.queued = true;
    this.sched.after(EVTCHN_UPCALL_US, () => {
      p.queued = false;
      if (!p.pending || p.masked || !p.handler || p.state === 'free') return;
      p.pending = false; // the guest's upcall clears the pending bit before running the handler
      p.handler();
    });
  }

  private alloc(dom: number): number {
    const list = this.ports.get(dom);
    if (!list) throw new HypercallError('ESRCH', `no domain ${dom}`);
    const free = list.findIndex((p, i) => i > 0 && p.state === 'free');
    if (free > 0) return free;
    if (list.length >= 4096) throw new HypercallError('ENOSPC', `d${dom}: out of event channels`);
    list.push(this.freePort());
    return list.length - 1;
  }

  private port(dom: number, port: number): Port {
    const p = this.ports.get(dom)?.[port];
    if (!p || port === 0) throw new HypercallError('EINVAL', `d${dom}: no event channel port ${port}`);
    return p;
  }

  private freePort(): Port {
    return { state: 'free', remoteDom: -1, remotePort: -1, pending: false, masked: false, queued: false, notified: 0, handler: undefined };
  }
}
