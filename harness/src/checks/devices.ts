// The per-device bookkeeping the xenbus checks share: walking the instance's xenstore events in
// order, knowing for each device end its directory, the other end's directory, and its guest.
import { XsReplay, afterCrash, guestName, placeOf, type InstanceView, type Side } from './view';
import type { ReadBatch, XenstoreEvent } from '../model/trace';

export interface StateChange {
  e: XenstoreEvent;
  side: Side;
  domid: number;
  type: string;
  devid: number;
  guest: string;
  /** Directory of this end and of the other end. */
  dir: string;
  frontendDir: string;
  backendDir: string;
  /** Previous state of this end (undefined: first seen or re-created). */
  from?: number;
  /** New state; null when the node was removed; NaN when not a number. */
  to: number | null;
  /** The other end's `state` when this end's new state was written (PeerState). */
  peer: PeerState;
  /** ... throughout this end's writes in its batch, from its first to its last (the same as `peer`
   *  for a change read at once, or written once): where the other end was whichever of them left
   *  `from`; unknown when the other end was written in between. */
  peerThroughout: PeerState;
  /** Written more than once in one late read (ReadBatch first < last): the states between `from`
   *  and `to` were not seen. */
  skipped: boolean;
}

/**
 * The other end's `state` at a moment of this end's change. Read at once, it is the store as of the
 * change. Read late in a batch (model/trace.ts ReadBatch), it is known from the order of the writes:
 * the other end's value after the batch when all its writes came before, its value before the batch
 * when all came after or it was not written in the batch; unknown (`known: false`) when it was
 * written both before and after. (A frontend created in the batch, Initialising written by the
 * toolstack, then Initialised by the driver, with the backend's InitWait between: where it left
 * Initialising is not known, so that order is not judged; seen on the lab.)
 */
export type PeerState = { known: true; value: string | undefined } | { known: false };

const FRONT_DEFAULT = (domid: number, type: string, devid: number) => `/local/domain/${domid}/device/${type}/${devid}`;
const BACK_DEFAULT = (domid: number, type: string, devid: number) => `/local/domain/0/backend/${type}/${domid}/${devid}`;

/**
 * Replays the instance's xenstore events; calls `onState` after each `state` key change has been
 * applied. `replay` is the store as of that event; `settled` is the store at the end of that
 * instant (or of the late read's batch the event is in): a transaction's writes reach the probe one
 * watch event at a time, in no particular order, but they happened together, so keys written with
 * a state in one commit count as present.
 */
export function walkStates(
  v: InstanceView,
  onState: (c: StateChange, replay: XsReplay, settled: XsReplay) => void,
  onOther?: (e: XenstoreEvent, replay: XsReplay) => void,
): void {
  const replay = new XsReplay();
  const settled = new XsReplay();
  const last = new Map<string, number>();
  let ahead = 0; // index of the first event not yet applied to `settled`
  const batch = new BatchPlaces();
  for (let i = 0; i < v.xs.length; i++) {
    const e = v.xs[i];
    if (ahead <= i) {
      // a late read's batch is one instant too: its events may straddle a millisecond
      do settled.apply(v.xs[ahead++]);
      while (ahead < v.xs.length && (v.xs[ahead].t === e.t || (v.xs[ahead].batch !== undefined && v.xs[ahead].batch!.id === v.xs[ahead - 1].batch?.id)));
    }
    batch.enter(v.xs, i, replay);
    const p = placeOf(e.path);
    replay.apply(e);
    if (!p || p.kind !== 'device') {
      onOther?.(e, replay);
      continue;
    }
    const guest = e.guest ?? guestName(v, p.domid);
    const isState = p.key === 'state';
    const dirRemoved = p.key === '' && e.value === null;
    if (!isState && !dirRemoved) {
      onOther?.(e, replay);
      continue;
    }
    if (afterCrash(v, guest, e)) continue;
    const frontendDir =
      p.side === 'frontend' ? p.dir : (replay.get(`${p.dir}/frontend`) ?? FRONT_DEFAULT(p.domid, p.type, p.devid));
    const backendDir =
      p.side === 'backend' ? p.dir : (replay.get(`${p.dir}/backend`) ?? BACK_DEFAULT(p.domid, p.type, p.devid));
    const key = p.dir;
    const from = last.get(key);
    const to = e.value === null ? null : /^\d+$/.test(e.value) ? Number(e.value) : NaN;
    if (to === null) last.delete(key);
    else if (!Number.isNaN(to)) last.set(key, to);
    if (to !== null && from === to) continue; // rewritten with the same value: no transition
    if (to === null && from === undefined) continue;
    const peers = batch.peerOf(e, `${p.side === 'frontend' ? backendDir : frontendDir}/state`, replay);
    onState({ e, side: p.side, domid: p.domid, type: p.type, devid: p.devid, guest, dir: p.dir, frontendDir, backendDir, from, to, ...peers }, replay, settled);
  }
}

/** The late read's batch being replayed (model/trace.ts ReadBatch): each of its paths' places in
 *  it, and their values before and after it. */
class BatchPlaces {
  private id: number | undefined;
  private readonly paths = new Map<string, { order: ReadBatch; after: string | null; before: string | undefined }>();

  /** At event i, before it is applied: where a new batch starts, its paths are noted. */
  enter(xs: readonly XenstoreEvent[], i: number, replay: XsReplay): void {
    if (xs[i].batch?.id === this.id) return;
    this.id = xs[i].batch?.id;
    this.paths.clear();
    for (let j = i; this.id !== undefined && j < xs.length && xs[j].batch?.id === this.id; j++) {
      this.paths.set(xs[j].path, { order: xs[j].batch!, after: xs[j].value, before: replay.get(xs[j].path) });
    }
  }

  /** The other end's state (at `peerPath`) for the change `e` (StateChange's peer, peerThroughout, skipped). */
  peerOf(e: XenstoreEvent, peerPath: string, replay: XsReplay): Pick<StateChange, 'peer' | 'peerThroughout' | 'skipped'> {
    const b = e.batch;
    if (!b) {
      const now: PeerState = { known: true, value: replay.get(peerPath) };
      return { peer: now, peerThroughout: now, skipped: false };
    }
    const peer = this.over(peerPath, b.last, b.last, replay);
    const skipped = b.first < b.last;
    return { peer, peerThroughout: skipped ? this.over(peerPath, b.first, b.last, replay) : peer, skipped };
  }

  /** The other end over a span of the batch's writes: known when all its own writes fall outside. */
  private over(peerPath: string, from: number, until: number, replay: XsReplay): PeerState {
    const pb = this.paths.get(peerPath);
    if (!pb) return { known: true, value: replay.get(peerPath) };
    if (pb.order.last < from) return { known: true, value: pb.after ?? undefined };
    if (pb.order.first > until) return { known: true, value: pb.before };
    return { known: false };
  }
}

/**
 * True when the probe had not yet looked at `dir` by event `seq` although it existed: nothing under
 * it was recorded before, and what was recorded later includes a snapshot read (the probe attached
 * after the toolstack wrote it, as after a migration). An end the probe did look at, or one that
 * appeared later by a live change, really was absent.
 */
export function unobservedAt(v: InstanceView, dir: string, seq: number): boolean {
  let snapshot = false;
  for (const x of v.xs) {
    if (x.path !== dir && !x.path.startsWith(dir + '/')) continue;
    if (x.seq < seq) return false;
    if (x.snapshot) snapshot = true;
  }
  return snapshot;
}
