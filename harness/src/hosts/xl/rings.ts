// Rings as dom0 can see them: netback exposes each queue's TX and RX ring indices in debugfs
// (xen-netback/vif<domid>.<devid>/io_ring_q<N>); blkback exposes no indices, only its counters in
// sysfs (statistics/). Both come back in the shapes the simulator's ring view uses.
import type { DeviceRef } from '../../model/scenario';
import type { GuestRef, RingId, RingIndices, RingView } from '../../model/host';
import type { Dom0 } from './dom0';
import { parseNetbackIoRing, parseStatsGrep } from './parse';
import { NetbackRingSampler, netbackIndices, netbackRingIds } from '../netback-rings';

const blkbackStatsDir = (domid: number, devid: number) => `/sys/bus/xen-backend/devices/vbd-${domid}-${devid}/statistics`;

function devid(dev: DeviceRef): number {
  return Number(dev.split('/')[1]);
}

export class XlRings implements RingView {
  /** One long-lived sampling loop per vif in dom0 (netback-rings.ts says why); its one-shot
   *  fallback goes through Dom0's channel limit like every other command. */
  readonly sampler: NetbackRingSampler;

  constructor(
    private readonly dom0: Dom0,
    private readonly devices: (guest: GuestRef) => Promise<DeviceRef[]>,
  ) {
    const link = { exec: (argv: readonly string[]) => dom0.try(argv), stream: (line: string, onLine: (l: string) => void) => dom0.link.stream(line, onLine) };
    this.sampler = new NetbackRingSampler(async () => link);
  }

  private ioRings(guest: GuestRef, dev: DeviceRef): Promise<Map<number, string>> {
    return this.sampler.ioRings(guest.domid, devid(dev), guest.handle);
  }

  /** Stops the sampling streams (the host closing or reconnecting). */
  close(): void {
    this.sampler.close();
  }

  async rings(guest: GuestRef): Promise<RingId[]> {
    const out: RingId[] = [];
    for (const dev of await this.devices(guest)) {
      if (dev.startsWith('vif/')) out.push(...netbackRingIds(dev, await this.ioRings(guest, dev)));
    }
    return out;
  }

  async sample(guest: GuestRef, ring: RingId): Promise<RingIndices | null> {
    if (!ring.dev.startsWith('vif/') || (ring.ring !== 'tx' && ring.ring !== 'rx')) return null;
    return netbackIndices(await this.ioRings(guest, ring.dev), ring);
  }

  async backendStats(guest: GuestRef, dev: DeviceRef): Promise<Record<string, number> | null> {
    if (dev.startsWith('vbd/')) {
      const r = await this.dom0.try(['grep', '-r', '.', blkbackStatsDir(guest.domid, devid(dev))]);
      return r.code === 0 ? parseStatsGrep(r.stdout) : null;
    }
    // netback: the ring positions of every queue are its counters (requests taken, responses made).
    const stats: Record<string, number> = {};
    for (const [queue, text] of await this.ioRings(guest, dev)) {
      const q = parseNetbackIoRing(text);
      if (q?.tx) Object.assign(stats, { [`q${queue}_tx_req_cons`]: q.tx.req_cons!, [`q${queue}_tx_rsp_prod`]: q.tx.rsp_prod });
      if (q?.rx) Object.assign(stats, { [`q${queue}_rx_req_cons`]: q.rx.req_cons!, [`q${queue}_rx_rsp_prod`]: q.rx.rsp_prod });
    }
    return Object.keys(stats).length ? stats : null;
  }
}
