// netback: the network backend as Linux's xen-netback behaves (drivers/net/xen-netback/xenbus.c,
// netback.c): the same feature keys, multi-queue, split event channels, the control ring, tx by
// grant copy from the guest into frames for the bridge, rx by grant copy of bridge frames into the
// buffers the guest posted. Per-packet service time follows a link model in virtual time.
import * as net from '../../abi/netif';
import { idxAdd } from '../../abi/ring';
import type { VifShape } from '../../model/scenario';
import { XenbusState } from '../../model/xenbus';
import type { Domain, Hypervisor } from '../hypervisor';
import { HypercallError } from '../errors';
import type { BridgePort, VirtualBridge } from '../bridge';
import { readInt } from '../xs';
import { BackendRing, bindBackendPort } from './ring-queue';
import { XenbusBackend } from './xenbus-backend';

/** Link model: per-packet latency and bytes per microsecond (1250 = 10 Gbit/s), time dilation as for disks. */
export interface LinkModel {
  latencyUs: number;
  bytesPerUs: number;
  dilation: number;
}

/** The next state on set_backend_state's shortest path from `from` to `to` (xen-netback/xenbus.c): from
 *  Initialising to InitWait (or Closed when heading there), from Closed to InitWait (or Closing), from
 *  InitWait to Connected (backend_connect) or Closing, from Connected to Closing (backend_disconnect),
 *  from Closing to Closed. undefined: a state Linux would BUG() on, never reached from these targets. */
export function nextNetbackStep(from: number, to: number): number | undefined {
  const S = XenbusState;
  switch (from) {
    case S.Initialising:
      return to === S.Closed ? S.Closed : S.InitWait;
    case S.Closed:
      return to === S.Closing ? S.Closing : S.InitWait;
    case S.InitWait:
      return to === S.Connected ? S.Connected : S.Closing;
    case S.Connected:
      return S.Closing;
    case S.Closing:
      return S.Closed;
    default:
      return undefined;
  }
}

/** Frames waiting for rx buffers before netback drops them (rx_queue_max). */
const RX_QUEUE_MAX = 512;

/** A consumed tx slot to answer: its request id (-1 for an extra-info slot) and status. */
interface TxSlot {
  id: number;
  status: number;
}

interface NetQueue {
  tx: BackendRing;
  rx: BackendRing;
  ctrl?: BackendRing;
  pendingRx: Buffer[];
  txBusy: boolean;
}

export class Netback extends XenbusBackend implements BridgePort {
  readonly model: LinkModel = { latencyUs: 5, bytesPerUs: 1250, dilation: 1 };
  private queues: NetQueue[] = [];
  private ctrl?: BackendRing;
  private nextQueue = 0;
  private st = { tx_packets: 0, tx_bytes: 0, rx_packets: 0, rx_bytes: 0, rx_dropped: 0, tx_errors: 0, ctrl_requests: 0 };
  private attached = false;

  constructor(hv: Hypervisor, dom0: Domain, frontDomid: number, readonly shape: VifShape, readonly bridge: VirtualBridge) {
    super(hv, dom0, frontDomid, 'vif', shape.devid, shape.backend);
  }

  /** xen-netback/xenbus.c frontend_changed: each frontend state names the state the backend heads for
   *  (Initialising -> InitWait, Connected -> Connected, Closing -> Closing, Closed -> Closed, then
   *  device_unregister when offline; Initialised: nothing) and set_backend_state walks there by the
   *  shortest path of its state diagram, one xenbus_switch_state per step. So a frontend reconnecting
   *  from Initialising brings a Closed netback back to InitWait, and one still Closing (the frontend
   *  did not wait for Closed) to Closed and then InitWait; nothing is re-advertised (the probe's keys
   *  stay) and connect() writes no key, only the state. */
  protected async onFrontendState(fe: number): Promise<void> {
    switch (fe) {
      case XenbusState.Initialising:
        await this.walkTo(XenbusState.InitWait);
        break;
      case XenbusState.Connected:
        await this.walkTo(XenbusState.Connected);
        break;
      case XenbusState.Closing:
        await this.walkTo(XenbusState.Closing);
        break;
      case XenbusState.Closed:
        await this.walkTo(XenbusState.Closed);
        await this.removeIfOffline();
        break;
      case XenbusState.Unknown:
        await this.walkTo(XenbusState.Closed);
        await this.remove();
        break;
      default:
        break;
    }
  }

  /** set_backend_state: one step at a time towards `target`. A refused connect (Closing with `error`)
   *  ends the walk, as does a forced state or removal in the middle of it. */
  private async walkTo(target: number): Promise<void> {
    for (let steps = 0; this.state !== target && steps < 4 && !this.isRemoved; steps++) {
      const next = nextNetbackStep(this.state, target);
      if (next === undefined) return;
      if (next === XenbusState.Connected) {
        if (!(await this.connectFrontend())) return;
      } else if (this.state === XenbusState.Connected) {
        await this.disconnectTo(next); // backend_disconnect, then Closing
      } else {
        await this.switchState(next);
      }
    }
  }

  get name(): string {
    return `vif${this.frontDomid}.${this.devid}`;
  }

  protected probeKeys(): Record<string, string> {
    return {
      'feature-sg': this.feature('feature-sg', '1'),
      'feature-gso-tcpv4': this.feature('feature-gso-tcpv4', '1'),
      'feature-gso-tcpv6': this.feature('feature-gso-tcpv6', '1'),
      'feature-ipv6-csum-offload': this.feature('feature-ipv6-csum-offload', '1'),
      'feature-rx-copy': '1',
      'feature-rx-flip': '0',
      'feature-multicast-control': '1',
      'feature-dynamic-multicast-control': '1',
      'feature-split-event-channels': this.feature('feature-split-event-channels', '1'),
      'multi-queue-max-queues': this.feature('multi-queue-max-queues', '4'),
      'feature-ctrl-ring': this.feature('feature-ctrl-ring', '1'),
    };
  }

  protected connectKeys(): Record<string, string> {
    return {};
  }

  protected async connectRing(): Promise<void> {
    const xs = this.dom0.xs;
    const fe = this.fePath;
    if ((await xs.read(`${fe}/request-rx-copy`)) !== '1') throw new HypercallError('EINVAL', 'frontend does not support rx-copy');
    const max = Number(this.feature('multi-queue-max-queues', '4'));
    const nq = (await readInt(xs, `${fe}/multi-queue-num-queues`)) ?? 1;
    if (nq < 1 || nq > max) throw new HypercallError('EINVAL', `multi-queue-num-queues ${nq} out of range (max ${max})`);
    for (let q = 0; q < nq; q++) {
      const dir = nq === 1 ? fe : `${fe}/queue-${q}`;
      const txRef = await readInt(xs, `${dir}/tx-ring-ref`);
      const rxRef = await readInt(xs, `${dir}/rx-ring-ref`);
      if (txRef === undefined || rxRef === undefined) throw new HypercallError('EINVAL', `${dir}: tx-ring-ref/rx-ring-ref missing`);
      const shared = await readInt(xs, `${dir}/event-channel`);
      const txPort = await readInt(xs, `${dir}/event-channel-tx`);
      const rxPort = await readInt(xs, `${dir}/event-channel-rx`);
      const queue = { pendingRx: [], txBusy: false } as unknown as NetQueue;
      if (shared !== undefined) {
        const local = bindBackendPort(this.hv, this.frontDomid, shared, () => {
          this.kickTx(queue);
          this.kickRx(queue);
        });
        queue.tx = new BackendRing(this.hv, this.frontDomid, this.dev, q, 'tx', [txRef], net.NETIF_TX_ENTRY_SIZE, local);
        queue.rx = new BackendRing(this.hv, this.frontDomid, this.dev, q, 'rx', [rxRef], net.NETIF_RX_ENTRY_SIZE, local, false);
      } else if (txPort !== undefined && rxPort !== undefined && this.feature('feature-split-event-channels', '1') === '1') {
        const lt = bindBackendPort(this.hv, this.frontDomid, txPort, () => this.kickTx(queue));
        const lr = bindBackendPort(this.hv, this.frontDomid, rxPort, () => this.kickRx(queue));
        queue.tx = new BackendRing(this.hv, this.frontDomid, this.dev, q, 'tx', [txRef], net.NETIF_TX_ENTRY_SIZE, lt);
        queue.rx = new BackendRing(this.hv, this.frontDomid, this.dev, q, 'rx', [rxRef], net.NETIF_RX_ENTRY_SIZE, lr);
      } else {
        throw new HypercallError('EINVAL', `${dir}: no event channel`);
      }
      this.queues.push(queue);
    }
    const ctrlRef = await readInt(xs, `${fe}/ctrl-ring-ref`);
    const ctrlPort = await readInt(xs, `${fe}/event-channel-ctrl`);
    if (ctrlRef !== undefined && ctrlPort !== undefined && this.feature('feature-ctrl-ring', '1') === '1') {
      const lc = bindBackendPort(this.hv, this.frontDomid, ctrlPort, () => this.kickCtrl());
      this.ctrl = new BackendRing(this.hv, this.frontDomid, this.dev, 0, 'ctrl', [ctrlRef], net.NETIF_CTRL_ENTRY_SIZE, lc);
    }
    if (!this.attached) {
      this.bridge.attach(this);
      this.attached = true;
    }
  }

  protected disconnect(): void {
    for (const q of this.queues) {
      q.tx.close();
      q.rx.close();
    }
    this.queues = [];
    this.ctrl?.close();
    this.ctrl = undefined;
    if (this.attached) {
      this.bridge.detach(this);
      this.attached = false;
    }
  }

  /** xenvif_tx_action: consume tx requests packet by packet, grant-copy them out, answer each slot. */
  private kickTx(q: NetQueue): void {
    if (this.faults.stall || q.tx.closed || q.txBusy) return;
    const back = q.tx.back;
    const rp = back.sring.reqProd;
    if (back.requestProdOverflow(rp)) {
      this.hv.report.log('error', `${this.dev} d${this.frontDomid}: bogus tx ring (req_prod ${rp})`);
      this.faults.stall = true; // netback marks the vif broken and stops
      return;
    }
    if (back.reqCons === rp) {
      if (!this.faults.lostWakeup && back.finalCheckForRequests()) this.hv.sched.after(0, () => this.kickTx(q));
      return;
    }
    const slots: TxSlot[] = [];
    const frame = this.gatherTxPacket(q, rp, slots);
    q.txBusy = true;
    // The packet occupies the link for its service time; its slots are answered when it has left.
    const us = (this.model.latencyUs + frame.length / this.model.bytesPerUs) * this.model.dilation;
    this.hv.sched.after(us, () => this.completeTx(q, slots, frame));
  }

  /** Gathers one packet: the first slot, its extra-info slots, then more_data fragments, each
   *  grant-copied out of the guest; every slot consumed is recorded in `slots` to be answered. */
  private gatherTxPacket(q: NetQueue, rp: number, slots: TxSlot[]): Buffer {
    const back = q.tx.back;
    const mem = q.tx.mem;
    const parts: Buffer[] = [];
    let first = true;
    let more = true;
    let expectExtra = false;
    let total = 0;
    while (more && back.reqCons !== rp) {
      const off = back.sring.slotOffset(back.reqCons);
      back.reqCons = idxAdd(back.reqCons, 1);
      if (expectExtra) {
        const ex = net.decodeExtraInfo(mem, off);
        slots.push({ id: -1, status: net.NETIF_RSP_NULL }); // extra slots carry no id of their own
        expectExtra = (ex.flags & net.XEN_NETIF_EXTRA_FLAG_MORE) !== 0;
        continue;
      }
      const r = net.decodeTxRequest(mem, off);
      if (first) total = r.size;
      const len = first ? Math.min(r.size, 4096 - r.offset) : r.size;
      let status = net.NETIF_RSP_OKAY;
      try {
        const b = Buffer.allocUnsafe(len);
        this.hv.grantOps.copyFrom(0, this.frontDomid, r.gref, r.offset, b, 0, len);
        parts.push(b);
      } catch {
        status = net.NETIF_RSP_ERROR;
        this.st.tx_errors++;
      }
      slots.push({ id: r.id, status });
      expectExtra = first && (r.flags & net.NETTXF_extra_info) !== 0;
      more = (r.flags & net.NETTXF_more_data) !== 0 || expectExtra;
      first = false;
    }
    return Buffer.concat(parts).subarray(0, total);
  }

  /** The packet has left: answer its slots, hand a whole frame to the bridge, take the next packet. */
  private completeTx(q: NetQueue, slots: TxSlot[], frame: Buffer): void {
    q.txBusy = false;
    if (q.tx.closed) return;
    // Extra-info slots are answered with NETIF_RSP_NULL using the id of the slot before them.
    let lastId = 0;
    for (const s of slots) {
      const id = s.id >= 0 ? s.id : lastId;
      lastId = id;
      this.txRespond(q, { id, status: s.status });
    }
    const notify = q.tx.back.pushResponses();
    if (notify && !this.faults.missedNotify) q.tx.notify();
    if (frame.length >= 14 && slots.every((s) => s.status !== net.NETIF_RSP_ERROR)) {
      this.st.tx_packets++;
      this.st.tx_bytes += frame.length;
      this.bridge.transmit(this, frame);
    }
    this.kickTx(q);
  }

  private txRespond(q: NetQueue, r: net.NetifTxResponse): void {
    const back = q.tx.back;
    if (this.faults.unknownResponseIds > 0) {
      this.faults.unknownResponseIds--;
      r = { ...r, id: (r.id + 0x4000) & 0xffff };
    }
    net.encodeTxResponse(q.tx.mem, back.nextResponseOffset(), r);
    back.rspProdPvt = idxAdd(back.rspProdPvt, 1);
  }

  /** BridgePort: a frame for this vif; queued until the guest posts rx buffers. */
  deliver(frame: Buffer): void {
    if (this.queues.length === 0) return;
    // Queue selection by a hash of the frame's addresses (as the guest's toeplitz hash would spread flows).
    const q = this.queues[this.nextQueue++ % this.queues.length];
    if (q.pendingRx.length >= RX_QUEUE_MAX) {
      this.st.rx_dropped++;
      return;
    }
    q.pendingRx.push(frame);
    this.kickRx(q);
  }

  /** xenvif_rx_action: copy queued frames into posted rx buffers, one 4 KiB slot per fragment. */
  private kickRx(q: NetQueue): void {
    if (this.faults.stall || q.rx.closed) return;
    const back = q.rx.back;
    const mem = q.rx.mem;
    let pushed = false;
    while (q.pendingRx.length > 0) {
      const frame = q.pendingRx[0];
      const need = Math.max(1, Math.ceil(frame.length / 4096));
      if (net.idxAvail(back.sring.reqProd, back.reqCons) < need) {
        // Not enough buffers: ask to be told when more are posted.
        back.sring.reqEvent = idxAdd(back.reqCons, need);
        if (net.idxAvail(back.sring.reqProd, back.reqCons) < need) break;
        continue;
      }
      q.pendingRx.shift();
      for (let i = 0; i < need; i++) {
        const req = net.decodeRxRequest(mem, back.sring.slotOffset(back.reqCons));
        back.reqCons = idxAdd(back.reqCons, 1);
        const chunk = frame.subarray(i * 4096, Math.min(frame.length, (i + 1) * 4096));
        let status: number = chunk.length;
        try {
          this.hv.grantOps.copyTo(0, this.frontDomid, req.gref, 0, chunk, 0, chunk.length);
        } catch {
          status = net.NETIF_RSP_ERROR;
        }
        const flags = (i < need - 1 ? net.NETRXF_more_data : 0) | net.NETRXF_data_validated;
        net.encodeRxResponse(mem, back.nextResponseOffset(), { id: req.id, offset: 0, flags, status });
        back.rspProdPvt = idxAdd(back.rspProdPvt, 1);
      }
      this.st.rx_packets++;
      this.st.rx_bytes += frame.length;
      pushed = true;
    }
    if (pushed) {
      const notify = back.pushResponses();
      if (notify && !this.faults.missedNotify) q.rx.notify();
    }
  }

  /** The control ring: answers hash requests (netback supports toeplitz hashing; others NOT_SUPPORTED). */
  private kickCtrl(): void {
    const c = this.ctrl;
    if (!c || c.closed || this.faults.stall) return;
    const back = c.back;
    while (back.reqCons !== back.sring.reqProd) {
      const req = net.decodeCtrlRequest(c.mem, back.sring.slotOffset(back.reqCons));
      back.reqCons = idxAdd(back.reqCons, 1);
      this.st.ctrl_requests++;
      const ok = req.type === net.XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS || req.type === net.XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM;
      net.encodeCtrlResponse(c.mem, back.nextResponseOffset(), {
        id: req.id, type: req.type, status: ok ? net.XEN_NETIF_CTRL_STATUS_SUCCESS : net.XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED, data: 0,
      });
      back.rspProdPvt = idxAdd(back.rspProdPvt, 1);
    }
    if (back.pushResponses()) c.notify();
    if (back.finalCheckForRequests()) this.kickCtrl();
  }

  liveRings(): BackendRing[] {
    return [...this.queues.flatMap((q) => [q.tx, q.rx]), ...(this.ctrl ? [this.ctrl] : [])];
  }

  stats(): Record<string, number> {
    return { ...this.st, queues: this.queues.length, state: this.state };
  }
}
