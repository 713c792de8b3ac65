// The workloads a simulated guest runs: diskspd on a PV disk (slowed by a planted build property)
// and NTttcp on a PV NIC against a peer guest of the same instance or dom0 across the vif's bridge.
// Each is followed by the backend's counters in the trace.
import type { BlockWorkloadStep, DeviceRef, NetWorkloadStep, VifShape } from '../../model/scenario';
import { guestError } from '../../model/errors';
import { sameVersion } from '../../model/version';
import { parseMac } from '../../sim/bridge';
import { runDiskspd } from '../../sim/windows/diskspd';
import { runNtttcp, type NetEndpoint } from '../../sim/windows/ntttcp';
import { Xenvbd } from '../../sim/frontend/xenvbd';
import { Xenvif } from '../../sim/frontend/xenvif';
import { Blkback } from '../../sim/backend/blkback';
import { Netback } from '../../sim/backend/netback';
import type { SimState } from './host-state';
import type { SimGuest } from './sim-guest';

/** How long a workload waits for its device's frontend to connect (virtual ms). */
const CONNECT_WAIT_MS = 30_000;

export class SimWorkloads {
  constructor(private readonly st: SimState) {}

  /** diskspd on the guest's PV disk; `installed` is the driver build the guest runs (for `builds`). */
  async block(g: SimGuest, w: BlockWorkloadStep, installed: string) {
    const st = this.st;
    const fe = g.win.frontend(w.device);
    const rec = st.ts().record(g.dom.domid, w.device);
    if (!(fe instanceof Xenvbd) || !rec || !(rec.backend instanceof Blkback)) {
      throw guestError('SIM_NO_PV_DISK', `${g.ref.name}: ${w.device} has no PV disk (is xenvbd installed and bound?)`);
    }
    await this.waitConnected(fe);
    const disk = rec.backend.model;
    const slow = this.ioSlowdown(installed);
    const saved = { latencyUs: disk.latencyUs, bytesPerUs: disk.bytesPerUs };
    disk.latencyUs *= slow;
    disk.bytesPerUs /= slow;
    let out: Awaited<ReturnType<typeof runDiskspd>>;
    try {
      out = await runDiskspd(w, { sched: st.hv.sched, rng: g.rng, fe, disk, computerName: g.ref.name });
    } finally {
      Object.assign(disk, saved);
    }
    st.emitStats(g, w.device);
    return out;
  }

  /** The planted slowdown of a build (1: none); builds are named as a person writes the version
   *  (9.1.7 for builtin:9.1.7 = 9.1.7.0). */
  ioSlowdown(installed: string): number {
    const build = Object.entries(this.st.opts.builds ?? {}).find(([v]) => sameVersion(v, installed))?.[1];
    return build?.ioSlowdown ?? 1;
  }

  /** NTttcp from the guest's PV NIC to `peerName`'s first vif (a guest of the same instance), or to dom0. */
  async net(g: SimGuest, w: NetWorkloadStep, peerName: string | undefined) {
    const st = this.st;
    const { ep: local, fe } = this.endpointOf(g, w.device);
    await this.waitConnected(fe);
    local.mac = parseMac((await g.dom.xs.read(`${fe.fePath}/mac`)) ?? '00:16:3e:00:00:02');
    const peerGuest = peerName ? st.guests.get(`${g.inst}/${peerName}`) : undefined;
    const peer = peerGuest ? await this.guestPeer(peerGuest, w.device) : this.dom0Peer(g, w.device, local);
    const gso = (await g.dom.xs.read(`${fe.fePath}/feature-gso-tcpv4`)) === '1';
    const out = await runNtttcp(w, { sched: st.hv.sched, local, peer, computerName: g.ref.name, gso });
    st.emitStats(g, w.device);
    return out;
  }

  /** The peer guest's first vif (or the same device name when it has none), once connected. */
  private async guestPeer(peerGuest: SimGuest, device: DeviceRef): Promise<NetEndpoint> {
    const dev = (peerGuest.shape.vifs[0] ? `vif/${peerGuest.shape.vifs[0].devid}` : device) as DeviceRef;
    const p = this.endpointOf(peerGuest, dev);
    await this.waitConnected(p.fe);
    p.ep.mac = parseMac((await peerGuest.dom.xs.read(`${p.fe.fePath}/mac`)) ?? '00:16:3e:00:00:03');
    return p.ep;
  }

  /** dom0's port on the bridge of the guest's vif. */
  private dom0Peer(g: SimGuest, device: DeviceRef, local: NetEndpoint): NetEndpoint {
    const st = this.st;
    const d0 = st.dom0Endpoint;
    const bridge = st.bridge((st.ts().record(g.dom.domid, device)!.shape as VifShape).bridge ?? 'xenbr0');
    const link = local.links[0];
    return {
      mac: d0.mac,
      links: [],
      send: async (f) => {
        // dom0's stack paces its frames by the link model of the guest's vif.
        await st.hv.sched.sleep(((link.latencyUs + f.length / link.bytesPerUs) * link.dilation) / 1000);
        bridge.transmit(d0, f);
        return 0;
      },
      onReceive: (cb) => d0.onReceive(cb),
    };
  }

  private async waitConnected(fe: { phase: string }, ms = CONNECT_WAIT_MS): Promise<void> {
    const sched = this.st.hv.sched;
    const deadline = sched.now() + ms;
    while (fe.phase !== 'connected' && sched.now() < deadline) await sched.sleep(10);
  }

  private endpointOf(g: SimGuest, dev: DeviceRef): { ep: NetEndpoint; fe: Xenvif } {
    const fe = g.win.frontend(dev);
    const rec = this.st.ts().record(g.dom.domid, dev);
    if (!(fe instanceof Xenvif) || !rec || !(rec.backend instanceof Netback)) {
      throw guestError('SIM_NO_PV_NIC', `${g.ref.name}: ${dev} has no PV network device (is xenvif installed and bound?)`);
    }
    const nb = rec.backend;
    const ep: NetEndpoint = {
      mac: Buffer.alloc(6), // filled from the frontend's mac key by the caller
      send: (f) => fe.send(f),
      onReceive: (cb) => fe.onReceive(cb),
      links: [nb.model],
    };
    return { ep, fe };
  }
}
