// One backend ring: a shared ring mapped from the frontend's grants, and the event channel it
// notifies on (its own, or one shared with a sibling ring when the frontend did not split them).
import { BackRing, SharedRing } from '../../abi/ring';
import type { RingName } from '../../model/trace';
import type { DeviceRef } from '../../model/scenario';
import type { Hypervisor } from '../hypervisor';

/** Binds dom0's end of an interdomain event channel and installs the upcall. */
export function bindBackendPort(hv: Hypervisor, frontDomid: number, remotePort: number, onEvent: () => void): number {
  const port = hv.evtchn.bindInterdomain(0, frontDomid, remotePort);
  hv.evtchn.bind(0, port, onEvent);
  return port;
}

export class BackendRing {
  readonly back: BackRing;
  private handles: number[];
  closed = false;

  constructor(
    readonly hv: Hypervisor,
    readonly frontDomid: number,
    readonly dev: DeviceRef,
    readonly queue: number,
    readonly name: RingName,
    refs: number[],
    entrySize: number,
    readonly port: number,
    /** Whether closing this ring closes the port (false for the second ring on a shared channel). */
    private readonly ownsPort = true,
  ) {
    const { handles, mem } = hv.grantOps.mapRing(0, frontDomid, refs);
    this.handles = handles;
    this.back = new BackRing(new SharedRing(mem, entrySize));
  }

  get mem(): Buffer {
    return this.back.sring.mem;
  }

  notify(): void {
    if (this.closed) return;
    this.hv.evtchn.notify(0, this.port);
    this.hv.report.ringNotify(this.frontDomid, this.dev, this.queue, this.name);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsPort) this.hv.evtchn.close(0, this.port);
    for (const h of this.handles) this.hv.grantOps.unmap(h);
    this.handles = [];
  }
}
