// Rings as dom0 can see them: netback exposes each queue's TX and RX ring indices in debugfs
// (xen-netback/vif<domid>.<devid>/io_ring_q<N>); blkback exposes no indices, only its counters in
// sysfs (statistics/). Both come back in the shapes the simulator's ring view uses.
import type { DeviceRef } from '../../model/scenario';
import type { GuestRef, RingId, RingIndices, RingView } from '../../model/host';
import type { Dom0 } from './dom0';
import { parseNetbackIoRing, parseStatsGrep } from './parse';

const NETBACK_DEBUGFS = '/sys/kernel/debug/xen-netback';

const netbackDir = (domid: number, devid: number) => `${NETBACK_DEBUGFS}/vif${domid}.${devid}`;
const blkbackStatsDir = (domid: number, devid: number) => `/sys/bus/xen-backend/devices/vbd-${domid}-${devid}/statistics`;

function devid(dev: DeviceRef): number {
  return Number(dev.split('/')[1]);
}

/** Prints every io_ring_q* file of a vif, each preceded by a `==> path <==` line. */
const IO_RINGS_SCRIPT = 'for f in "$1"/io_ring_q*; do [ -r "$f" ] && { echo "==> $f <=="; cat "$f"; }; done; true';

export function splitIoRings(text: string): Map<number, string> {
  const out = new Map<number, string>();
  const parts = text.split(/^==> .*io_ring_q(\d+) <==$/m);
  for (let i = 1; i + 1 < parts.length; i += 2) out.set(Number(parts[i]), parts[i + 1]!);
  return out;
}

export class XlRings implements RingView {
  /** One read of a vif's io_ring files answers every ring sample of the same moment (tx and rx of all queues). */
  private readonly recent = new Map<string, { at: number; rings: Promise<Map<number, string>> }>();
  freshMs = 150;

  constructor(
    private readonly dom0: Dom0,
    private readonly devices: (guest: GuestRef) => Promise<DeviceRef[]>,
  ) {}

  private ioRings(domid: number, dev: DeviceRef): Promise<Map<number, string>> {
    const k = `${domid}/${dev}`;
    const hit = this.recent.get(k);
    if (hit && Date.now() - hit.at < this.freshMs) return hit.rings;
    const rings = this.dom0.try(['sh', '-c', IO_RINGS_SCRIPT, 'sh', netbackDir(domid, devid(dev))]).then((r) => (r.code === 0 ? splitIoRings(r.stdout) : new Map<number, string>()));
    this.recent.set(k, { at: Date.now(), rings });
    return rings;
  }

  async rings(guest: GuestRef): Promise<RingId[]> {
    const out: RingId[] = [];
    for (const dev of await this.devices(guest)) {
      if (!dev.startsWith('vif/')) continue;
      for (const [queue, text] of await this.ioRings(guest.domid, dev)) {
        const q = parseNetbackIoRing(text);
        if (q?.tx) out.push({ dev, queue, ring: 'tx' });
        if (q?.rx) out.push({ dev, queue, ring: 'rx' });
      }
    }
    return out;
  }

  async sample(guest: GuestRef, ring: RingId): Promise<RingIndices | null> {
    if (!ring.dev.startsWith('vif/') || (ring.ring !== 'tx' && ring.ring !== 'rx')) return null;
    const text = (await this.ioRings(guest.domid, ring.dev)).get(ring.queue);
    if (text === undefined) return null;
    const q = parseNetbackIoRing(text);
    return (ring.ring === 'tx' ? q?.tx : q?.rx) ?? null;
  }

  async backendStats(guest: GuestRef, dev: DeviceRef): Promise<Record<string, number> | null> {
    if (dev.startsWith('vbd/')) {
      const r = await this.dom0.try(['grep', '-r', '.', blkbackStatsDir(guest.domid, devid(dev))]);
      return r.code === 0 ? parseStatsGrep(r.stdout) : null;
    }
    // netback: the ring positions of every queue are its counters (requests taken, responses made).
    const stats: Record<string, number> = {};
    for (const [queue, text] of await this.ioRings(guest.domid, dev)) {
      const q = parseNetbackIoRing(text);
      if (q?.tx) Object.assign(stats, { [`q${queue}_tx_req_cons`]: q.tx.req_cons!, [`q${queue}_tx_rsp_prod`]: q.tx.rsp_prod });
      if (q?.rx) Object.assign(stats, { [`q${queue}_rx_req_cons`]: q.rx.req_cons!, [`q${queue}_rx_rsp_prod`]: q.rx.rsp_prod });
    }
    return Object.keys(stats).length ? stats : null;
  }
}
