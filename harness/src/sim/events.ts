// What the simulated host reports as it runs. SimHost turns these into trace events (adding the
// scenario instance and guest name); tests and the bench can listen directly.
import type { DeviceRef } from '../model/scenario';
import type { RingIoEvent, RingName } from '../model/trace';

/** One request produced or response consumed, as the simulator sees it: by domid, before SimHost
 *  names the guest and instance (the trace writer joins a ring's ids of one instant into one ring.io). */
export type RingIoReport = Omit<RingIoEvent, 'seq' | 't' | 'ev' | 'inst' | 'guest' | 'ids' | 'ops' | 'statuses'> & { domid: number; id: number; op?: number; status?: number };

export interface SimListener {
  ringIo?(e: RingIoReport): void;
  /** An event-channel notification on a ring (either direction). */
  ringNotify?(domid: number, dev: DeviceRef, queue: number, ring: RingName): void;
  log?(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void;
  /** A frontend finished closing a device (grants audited here). */
  deviceClosed?(domid: number, dev: DeviceRef): void;
}

/** Fans reports out to every listener. */
export class SimReporter {
  private listeners = new Set<SimListener>();
  add(l: SimListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  ringIo(e: RingIoReport): void {
    for (const l of this.listeners) l.ringIo?.(e);
  }
  ringNotify(domid: number, dev: DeviceRef, queue: number, ring: RingName): void {
    for (const l of this.listeners) l.ringNotify?.(domid, dev, queue, ring);
  }
  deviceClosed(domid: number, dev: DeviceRef): void {
    for (const l of this.listeners) l.deviceClosed?.(domid, dev);
  }
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    for (const l of this.listeners) l.log?.(level, msg);
  }
}
