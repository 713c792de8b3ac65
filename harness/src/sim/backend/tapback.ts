// tapdisk3 behind tapback: the disk backend of XenServer 7+ / XCP-ng 8 pools (`backend/vbd3`), as
// xapi-project/blktap (7977431, 2026) has it. The xenstore side follows tapback/: the keys, values,
// grouping and order are the ones hosts/sim/tapback.ts lists (tapbackKeyEvents, the model the
// fidelity comparison holds this class to); the data side follows drivers/td-req.c:
//  - tapback_backend_create_device (backend.c): max-ring-page-order = 3 as the directory appears;
//  - the hotplug script starts tapdisk and writes physical-device(-path); physical_device_path_changed
//    writes kthread-pid, the tapdisk's pid; hotplug-status = connected;
//  - hotplug_status_changed: nothing happens before it; then frontend_changed for the frontend's state
//    (frontend.c): Initialising -> InitWait; Initialised or Connected -> xenbus_connect;
//  - connect_tap (frontend.c): one ring, ring-ref or ring-ref0..2^order-1 with ring-page-order (no
//    multi-queue: multi-queue-num-queues is never read), event-channel, protocol (native, x86_32-abi
//    or x86_64-abi, anything else EINVAL); a frontend's feature-persistent=1 only draws "front-end
//    supports persistent grants but we don't";
//  - connect_frontend: feature-barrier, sector-size, sectors, info in one transaction, then Connected;
//  - tapdisk_xenblkif_make_vbd_request (td-req.c): READ, WRITE and WRITE_BARRIER are served; any other
//    operation (FLUSH_DISKCACHE, DISCARD, INDIRECT) is "invalid request type" -> EOPNOTSUPP ->
//    BLKIF_RSP_EOPNOTSUPP (tapdisk_xenblkif_complete_request); nr_segments 0 (except a barrier) or
//    above BLKIF_MAX_SEGMENTS_PER_REQUEST is EINVAL -> BLKIF_RSP_ERROR;
//  - a barrier (td-req.c tapdisk_xenblkif_barrier_should_complete) completes only once every request
//    before it has, and the ring is not read past it until then: later requests wait for it.
import * as blk from '../../abi/blkif';
import type { Domain, Hypervisor } from '../hypervisor';
import type { VbdShape } from '../../model/scenario';
import { XenbusState } from '../../model/xenbus';
import { HypercallError } from '../errors';
import type { SparseDisk } from '../disk';
import { readInt } from '../xs';
import { Blkback, type BlkQueue } from './blkback';
import { BackendRing, bindBackendPort } from './ring-queue';

/** tapback's MAX_RING_PAGE_ORDER (blktap include/xen_blkif.h). */
export const TAPBACK_MAX_RING_PAGE_ORDER = 3;
/** The pid tapback writes as kthread-pid (any tapdisk's; the comparison normalizes it). */
const TAPDISK_PID = 4242;

export class Tapback extends Blkback {
  /** Per ring: when the last request answered so far completes, and the barrier fence later requests wait for. */
  private lastDone = new Map<BlkQueue, number>();
  private fence = new Map<BlkQueue, number>();

  constructor(hv: Hypervisor, dom0: Domain, frontDomid: number, devid: number, shape: VbdShape, disk?: SparseDisk) {
    super(hv, dom0, frontDomid, devid, shape, disk);
    this.rewritesSameState = true; // frontend.c xenbus_switch_state writes whatever the state was
  }

  override get backendDir(): string {
    return 'vbd3';
  }

  protected override probeKeys(): Record<string, string> {
    return { 'max-ring-page-order': this.feature('max-ring-page-order', String(TAPBACK_MAX_RING_PAGE_ORDER)) };
  }

  /** connect_frontend's transaction, in its order. */
  protected override connectKeys(): Record<string, string> {
    return {
      'feature-barrier': this.feature('feature-barrier', '1'),
      'sector-size': String(blk.SECTOR_SIZE),
      sectors: String(this.disk.sectors),
      info: String(this.readonly ? 4 : 0), // VDISK_READONLY
    };
  }

  /** Creation, the hotplug script and tapback's reaction to it, then the frontend's current state. */
  override async probe(): Promise<void> {
    const xs = this.dom0.xs;
    await xs.write(`${this.bePath}/max-ring-page-order`, this.probeKeys()['max-ring-page-order']!);
    // the hotplug script (xapi's block / tapdisk attach) hands tapback the tapdisk's minor
    await xs.transaction(async (tx) => {
      await tx.write(`${this.bePath}/physical-device`, 'fe:0');
      await tx.write(`${this.bePath}/physical-device-path`, '/dev/xen/blktap-2/tapdev0');
    });
    await xs.write(`${this.bePath}/kthread-pid`, String(TAPDISK_PID));
    await xs.write(`${this.bePath}/hotplug-status`, 'connected');
    this.state = XenbusState.Initialising;
    // hotplug_status_changed -> frontend_changed(Initialising) -> InitWait; the watch below then acts
    // on the frontend's later states as frontend_changed does.
    if ((await readInt(xs, `${this.fePath}/state`)) === XenbusState.Initialising) await this.switchState(XenbusState.InitWait);
    await this.watchFrontend();
  }

  /** frontend.c frontend_changed (hotplug-status is connected once probe() has run): Initialising ->
   *  InitWait from any state, so a frontend reconnecting after Closed, or after Closing without Closed,
   *  finds tapback in InitWait again, nothing re-advertised; tapback's own xenbus_switch_state writes the
   *  state even when it is unchanged. The other states as blkback's: Initialised or Connected ->
   *  xenbus_connect (connect_tap, then connect_frontend's transaction and Connected) unless already
   *  Connected; Closing -> Closing (tapdisk stays on the ring); Closed -> backend_close (it leaves the
   *  ring) and Closed (the directory of a device xapi unplugs then goes:
   *  the toolstack's part). */
  protected override async frontendInitialising(): Promise<void> {
    await this.switchState(XenbusState.InitWait);
  }

  protected override async connectRing(): Promise<void> {
    const xs = this.dom0.xs;
    const fe = this.fePath;
    const proto = (await xs.read(`${fe}/protocol`)) ?? 'x86_32-abi';
    if (!['x86_32-abi', 'x86_64-abi'].includes(proto)) throw new HypercallError('EINVAL', `unsupported protocol ${proto}`);
    if (proto !== 'x86_64-abi') this.hv.report.log('warn', `${this.dev} d${this.frontDomid}: frontend protocol '${proto}' on a 64-bit guest`);
    const order = (await readInt(xs, `${fe}/ring-page-order`)) ?? 0;
    if (order > this.int('max-ring-page-order')) throw new HypercallError('EINVAL', `ring-page-order ${order} > max ${this.int('max-ring-page-order')}`);
    if ((await xs.read(`${fe}/feature-persistent`)) === '1') this.hv.report.log('debug', `${this.dev}: front-end supports persistent grants but we don't`);
    const refs: number[] = [];
    for (let i = 0; i < 1 << order; i++) {
      const r = await readInt(xs, order === 0 ? `${fe}/ring-ref` : `${fe}/ring-ref${i}`);
      if (r === undefined) throw new HypercallError('EINVAL', `failed to read grant ref ${i}`);
      refs.push(r);
    }
    const port = await readInt(xs, `${fe}/event-channel`);
    if (port === undefined) throw new HypercallError('EINVAL', 'failed to read event channel');
    const queue = { persistent: new Map(), inflight: 0, broken: false } as unknown as BlkQueue;
    const local = bindBackendPort(this.hv, this.frontDomid, port, () => this.kick(queue));
    queue.ring = new BackendRing(this.hv, this.frontDomid, this.dev, 0, 'blk', refs, blk.BLKIF_ENTRY_SIZE, local);
    this.queues.push(queue);
  }

  /** tapdisk_xenblkif_make_vbd_request: the operations tapdisk serves, and the answers to the others. */
  protected override operate(q: BlkQueue, req: blk.BlkifRequest, mem: Buffer, off: number): { status: number; bytes: number } {
    switch (req.operation) {
      case blk.BLKIF_OP_READ:
      case blk.BLKIF_OP_WRITE:
      case blk.BLKIF_OP_WRITE_BARRIER: {
        const n = blk.blkifRequestNrSegments(mem, off);
        if ((n === 0 && req.operation !== blk.BLKIF_OP_WRITE_BARRIER) || n > blk.BLKIF_MAX_SEGMENTS_PER_REQUEST) throw new Error(`bad number of segments in request (${n})`);
        if (req.operation === blk.BLKIF_OP_WRITE_BARRIER && this.feature('feature-barrier', '1') !== '1') return { status: blk.BLKIF_RSP_EOPNOTSUPP, bytes: 0 }; // tapback --nobarrier
        if (req.operation === blk.BLKIF_OP_WRITE_BARRIER) this.st.f_req++;
        return { status: blk.BLKIF_RSP_OKAY, bytes: n === 0 ? 0 : this.rw(q, req.operation !== blk.BLKIF_OP_READ, req.sector, req.segments) };
      }
      default:
        // "invalid request type": flush, discard and indirect requests are not tapdisk's
        return { status: blk.BLKIF_RSP_EOPNOTSUPP, bytes: 0 };
    }
  }

  /** A barrier completes after every request before it; requests after it wait for it. */
  protected override schedule(q: BlkQueue, rsp: blk.BlkifResponse, us: number, answer: () => void): void {
    const now = this.hv.sched.nowMicros();
    let at = Math.max(now + us, this.fence.get(q) ?? 0);
    if (rsp.operation === blk.BLKIF_OP_WRITE_BARRIER) {
      at = Math.max(at, this.lastDone.get(q) ?? 0);
      this.fence.set(q, at);
    }
    this.lastDone.set(q, Math.max(at, this.lastDone.get(q) ?? 0));
    this.hv.sched.after(at - now, answer);
  }

  protected override disconnect(): void {
    super.disconnect();
    this.lastDone.clear();
    this.fence.clear();
  }
}
