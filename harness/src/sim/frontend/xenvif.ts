// The xenvif model (with xennet above it): a netif frontend with tx and rx rings per queue, split
// or shared event channels and the control ring, all as the xenvif spec allows and the backend
// offers. Frames larger than the MTU go out as GSO with an extra-info slot, as xenvif does.
import * as net from '../../abi/netif';
import { idxAdd } from '../../abi/ring';
import type { DriverSpec } from '../../model/spec';
import type { VifShape } from '../../model/scenario';
import type { Domain } from '../hypervisor';
import { ringOf } from '../spec-model';
import { allocPort, FrontendRing } from './front-ring';
import { ConnectRefused, XenbusFrontend } from './xenbus-frontend';

const VIF_MTU = 1500;

interface TxSlot {
  gref: number;
  page: { gfn: number; buf: Buffer };
}

interface TxPacket {
  ids: number[];
  done: (status: number) => void;
  status: number;
}

interface NetQueue {
  tx: FrontendRing;
  rx: FrontendRing;
  txFree: number[];
  txSlots: Map<number, TxSlot>;
  txPackets: Map<number, TxPacket>;
  txWaiters: (() => void)[];
  rxBufs: { gfn: number; buf: Buffer; gref: number }[];
  rxPartial: Buffer[];
}

export class Xenvif extends XenbusFrontend {
  private queues: NetQueue[] = [];
  private ctrl?: FrontendRing;
  private rr = 0;
  private receivers = new Set<(frame: Buffer) => void>();
  private gso = false;
  stats = { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, txErrors: 0, unknownIds: 0, ctrlResponses: 0 };
  private parked: (() => void)[] = [];

  constructor(dom: Domain, spec: DriverSpec, devid: number, readonly shape: VifShape, readonly vcpus = 1) {
    super(dom, spec, 'vif', devid);
  }

  /** Frames the backend delivered (the guest's network stack). */
  onReceive(cb: (frame: Buffer) => void): () => void {
    this.receivers.add(cb);
    return () => this.receivers.delete(cb);
  }

  get queueCount(): number {
    return this.queues.length;
  }

  liveRings(): FrontendRing[] {
    return [...this.queues.flatMap((q) => [q.tx, q.rx]), ...(this.ctrl ? [this.ctrl] : [])];
  }

  outstanding(): number {
    // a control request counts until its response is consumed: the real caller waits for it under the
    // controller's lock (win-xenvif controller.c ControllerGetHashFlags -> ControllerGetResponse), so
    // none is ever left in flight when the frontend is suspended or closed
    const f = this.ctrl?.front;
    const ctrlInFlight = f && !this.ctrl!.isEnded ? (f.reqProdPvt - f.rspCons) >>> 0 : 0;
    return this.queues.reduce((n, q) => n + q.txPackets.size, 0) + ctrlInFlight;
  }

  protected async setupRings(feature: (k: string) => Promise<string | null>): Promise<Record<string, string>> {
    const ring = ringOf(this.spec);
    // win-xenvif frontend.c FrontendSetMaxQueues: vCPUs, lowered by the registry FrontendMaxQueues;
    // __FrontendSetNumQueues: min(that, backend's multi-queue-max-queues or 1 when it advertises none).
    // A backend maximum of 0 fails the connect (FrontendSetNumQueues: STATUS_INVALID_PARAMETER).
    const advertised = await feature('multi-queue-max-queues');
    const maxq = advertised === null ? 1 : parseInt(advertised, 10) || 0; // strtoul
    if (maxq === 0) throw new ConnectRefused('backend multi-queue-max-queues is 0');
    const reg = this.shape.queues ?? this.regDword('FrontendMaxQueues');
    const frontMax = Math.max(1, reg !== undefined && reg < this.vcpus ? reg : this.vcpus);
    const nq = ring.multiQueue ? Math.max(1, Math.min(frontMax, ring.maxQueues ?? frontMax, maxq)) : 1;
    const split = ring.splitEventChannels === true && (await feature('feature-split-event-channels')) === '1';
    const ctrl = ring.controlRing === true && (await feature('feature-ctrl-ring')) === '1';
    this.gso = (await feature('feature-gso-tcpv4')) === '1';
    const backendDomid = Number((await this.dom.xs.read(`${this.fePath}/backend-id`)) ?? '0');
    const keys: Record<string, string> = {};
    for (let q = 0; q < nq; q++) {
      const queue = { txFree: [], txSlots: new Map(), txPackets: new Map(), txWaiters: [], rxBufs: [], rxPartial: [] } as unknown as NetQueue;
      let txPort: number;
      let rxPort: number;
      if (split) {
        txPort = allocPort(this.dom, backendDomid, () => this.onTx(queue));
        rxPort = allocPort(this.dom, backendDomid, () => this.onRx(queue));
      } else {
        txPort = rxPort = allocPort(this.dom, backendDomid, () => {
          this.onTx(queue);
          this.onRx(queue);
        });
      }
      queue.tx = new FrontendRing(this.dom, this.dev, q, 'tx', 0, net.NETIF_TX_ENTRY_SIZE, backendDomid, txPort);
      queue.rx = new FrontendRing(this.dom, this.dev, q, 'rx', 0, net.NETIF_RX_ENTRY_SIZE, backendDomid, rxPort);
      for (let i = queue.tx.front.nrEnts - 1; i >= 0; i--) queue.txFree.push(i);
      this.queues.push(queue);
      const p = nq === 1 ? '' : `queue-${q}/`;
      keys[`${p}tx-ring-ref`] = String(queue.tx.refs[0]);
      keys[`${p}rx-ring-ref`] = String(queue.rx.refs[0]);
      if (split) {
        keys[`${p}event-channel-tx`] = String(txPort);
        keys[`${p}event-channel-rx`] = String(rxPort);
      } else keys[`${p}event-channel`] = String(txPort);
    }
    // frontend.c FrontendConnect writes multi-queue-num-queues in its transaction whatever the backend offered.
    keys['multi-queue-num-queues'] = String(nq);
    if (ctrl) {
      const port = allocPort(this.dom, backendDomid, () => this.onCtrl());
      this.ctrl = new FrontendRing(this.dom, this.dev, 0, 'ctrl', 0, net.NETIF_CTRL_ENTRY_SIZE, backendDomid, port);
      keys['ctrl-ring-ref'] = String(this.ctrl.refs[0]);
      keys['event-channel-ctrl'] = String(port);
    }
    // The feature keys (request-rx-copy, feature-sg, GSO and checksum flags, request-multicast-control)
    // and the order are the spec's (XenbusFrontend.connect).
    return keys;
  }

  protected started(): void {
    for (const q of this.queues) this.postRx(q);
    if (this.ctrl) {
      const f = this.ctrl.front;
      net.encodeCtrlRequest(this.ctrl.mem, f.nextRequestOffset(), { id: 0, type: net.XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, data: [0, 0, 0] });
      f.reqProdPvt = idxAdd(f.reqProdPvt, 1);
      this.hv.report.ringIo({ domid: this.dom.domid, dev: this.dev, queue: 0, ring: 'ctrl', dir: 'req', id: 0, op: net.XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS });
      this.ctrl.push();
    }
    for (const fn of this.parked.splice(0)) fn();
  }

  /** Keeps the rx ring full of granted, writable buffers (xenvif's receiver refill). */
  private postRx(q: NetQueue): void {
    const f = q.rx.front;
    const backend = q.rx.backendDomid;
    let posted = false;
    while (!f.full()) {
      const id = f.reqProdPvt & (f.nrEnts - 1);
      let b = q.rxBufs[id];
      if (!b) {
        const { gfn, buf } = this.dom.memory.alloc(1);
        b = q.rxBufs[id] = { gfn, buf, gref: this.dom.grants.grantAccess(backend, gfn, false, this.dev) };
      }
      net.encodeRxRequest(q.rx.mem, f.nextRequestOffset(), { id, gref: b.gref });
      f.reqProdPvt = idxAdd(f.reqProdPvt, 1);
      this.hv.report.ringIo({ domid: this.dom.domid, dev: this.dev, queue: q.rx.queue, ring: 'rx', dir: 'req', id });
      posted = true;
    }
    if (posted) q.rx.push();
  }

  private onRx(q: NetQueue): void {
    if (q.rx.isEnded) return;
    const f = q.rx.front;
    f.consumeResponses((off) => net.decodeRxResponse(q.rx.mem, off), (r) => {
      this.hv.report.ringIo({ domid: this.dom.domid, dev: this.dev, queue: q.rx.queue, ring: 'rx', dir: 'rsp', id: r.id, status: r.status });
      const b = q.rxBufs[r.id];
      if (!b) {
        this.stats.unknownIds++;
        return;
      }
      if (r.status > 0) q.rxPartial.push(Buffer.from(b.buf.subarray(r.offset, r.offset + r.status)));
      if (!(r.flags & net.NETRXF_more_data)) {
        const frame = Buffer.concat(q.rxPartial);
        q.rxPartial = [];
        if (frame.length > 0) {
          this.stats.rxPackets++;
          this.stats.rxBytes += frame.length;
          for (const cb of this.receivers) cb(frame);
        }
      }
    });
    this.postRx(q);
  }

  /** Sends one frame: fragments of up to a page, a GSO extra-info slot when larger than the MTU. */
  async send(frame: Buffer): Promise<number> {
    if (this.phase !== 'connected') {
      if (this.phase !== 'connecting' && this.phase !== 'idle') return net.NETIF_RSP_ERROR;
      await new Promise<void>((r) => this.parked.push(r));
      if ((this.phase as string) !== 'connected') return net.NETIF_RSP_ERROR;
    }
    const q = this.queues[this.rr++ % this.queues.length];
    const frags = Math.ceil(frame.length / 4096);
    const gso = frame.length > VIF_MTU + 14 && this.gso;
    const need = frags + (gso ? 1 : 0);
    while (q.txFree.length < frags || q.tx.front.freeRequests() < need) {
      await new Promise<void>((r) => q.txWaiters.push(r));
      if (this.phase !== 'connected' || q.tx.isEnded) return net.NETIF_RSP_ERROR;
    }
    return new Promise<number>((done) => {
      const f = q.tx.front;
      const backend = q.tx.backendDomid;
      const pkt: TxPacket = { ids: [], done, status: net.NETIF_RSP_OKAY };
      for (let i = 0; i < frags; i++) {
        const id = q.txFree.pop()!;
        const { gfn, buf } = this.dom.memory.alloc(1);
        const chunk = frame.subarray(i * 4096, (i + 1) * 4096);
        chunk.copy(buf, 0);
        const gref = this.dom.grants.grantAccess(backend, gfn, true, this.dev);
        q.txSlots.set(id, { gref, page: { gfn, buf } });
        let flags = i < frags - 1 ? net.NETTXF_more_data : 0;
        if (i === 0) flags |= net.NETTXF_csum_blank | net.NETTXF_data_validated | (gso ? net.NETTXF_extra_info : 0);
        net.encodeTxRequest(q.tx.mem, f.nextRequestOffset(), { gref, offset: 0, flags, id, size: i === 0 ? frame.length : chunk.length });
        f.reqProdPvt = idxAdd(f.reqProdPvt, 1);
        this.hv.report.ringIo({ domid: this.dom.domid, dev: this.dev, queue: q.tx.queue, ring: 'tx', dir: 'req', id, op: flags });
        if (i === 0 && gso) {
          net.encodeExtraInfo(q.tx.mem, f.nextRequestOffset(), net.gsoExtra(VIF_MTU - 40, net.XEN_NETIF_GSO_TYPE_TCPV4));
          f.reqProdPvt = idxAdd(f.reqProdPvt, 1);
        }
        pkt.ids.push(id);
        q.txPackets.set(id, pkt);
      }
      this.stats.txPackets++;
      this.stats.txBytes += frame.length;
      q.tx.push();
    });
  }

  private onTx(q: NetQueue): void {
    if (q.tx.isEnded) return;
    const f = q.tx.front;
    f.consumeResponses((off) => net.decodeTxResponse(q.tx.mem, off), (r) => {
      if (r.status === net.NETIF_RSP_NULL) return; // the answer to an extra-info slot
      this.hv.report.ringIo({ domid: this.dom.domid, dev: this.dev, queue: q.tx.queue, ring: 'tx', dir: 'rsp', id: r.id, status: r.status });
      const slot = q.txSlots.get(r.id);
      const pkt = q.txPackets.get(r.id);
      if (!slot || !pkt) {
        this.stats.unknownIds++;
        return;
      }
      q.txSlots.delete(r.id);
      q.txPackets.delete(r.id);
      if (!this.dom.grants.endAccess(slot.gref)) this.dom.grants.forceEnd(slot.gref);
      this.dom.memory.free(slot.page.gfn);
      q.txFree.push(r.id);
      if (r.status !== net.NETIF_RSP_OKAY) pkt.status = r.status;
      pkt.ids.splice(pkt.ids.indexOf(r.id), 1);
      if (pkt.ids.length === 0) {
        if (pkt.status !== net.NETIF_RSP_OKAY) this.stats.txErrors++;
        pkt.done(pkt.status);
      }
    });
    for (const w of q.txWaiters.splice(0)) w();
  }

  private onCtrl(): void {
    const c = this.ctrl;
    if (!c || c.isEnded) return;
    const f = c.front;
    while (f.rspCons !== f.sring.rspProd) {
      const r = net.decodeCtrlResponse(c.mem, f.sring.slotOffset(f.rspCons));
      f.rspCons = idxAdd(f.rspCons, 1);
      this.stats.ctrlResponses++;
      this.hv.report.ringIo({ domid: this.dom.domid, dev: this.dev, queue: 0, ring: 'ctrl', dir: 'rsp', id: r.id, op: r.type, status: r.status });
    }
  }

  protected teardownRings(opts: { endGrants: boolean; force: boolean }): void {
    for (const q of this.queues) {
      for (const [id, slot] of q.txSlots) {
        if (opts.endGrants && !this.dom.grants.endAccess(slot.gref) && opts.force) this.dom.grants.forceEnd(slot.gref);
        q.txPackets.get(id)?.done(net.NETIF_RSP_ERROR);
      }
      q.txSlots.clear();
      q.txPackets.clear();
      for (const b of q.rxBufs) {
        if (!b || !opts.endGrants) continue;
        if (opts.force) {
          if (!this.dom.grants.endAccess(b.gref)) this.dom.grants.forceEnd(b.gref);
          this.dom.memory.free(b.gfn);
        } else this.dom.endGrantDeferred(b.gref, () => this.dom.memory.free(b.gfn));
      }
      q.rxBufs = [];
      q.tx.end(opts);
      q.rx.end(opts);
      for (const w of q.txWaiters.splice(0)) w();
    }
    this.queues = [];
    this.ctrl?.end(opts);
    this.ctrl = undefined;
  }

  override async suspend(): Promise<void> {
    if (!this.faults.suspendInflight) while (this.outstanding() > 0 && this.phase === 'connected') await this.hv.sched.sleep(1);
    await super.suspend();
  }
}
