// The per-device bookkeeping the xenbus checks share: walking the instance's xenstore events in
// order, knowing for each device end its directory, the other end's directory, and its guest.
import { XsReplay, afterCrash, guestName, placeOf, type InstanceView, type Side } from './view';
import type { XenstoreEvent } from '../model/trace';

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
  /** The other end's `state` as the probe saw it with this change: the store as of this event, or,
   *  for a change read late in a batch (XenstoreEvent.batch), as of the batch's end, since the
   *  batch's values hold together and their order within it is not the order they changed in. */
  peerState: string | undefined;
}

const FRONT_DEFAULT = (domid: number, type: string, devid: number) => `/local/domain/${domid}/device/${type}/${devid}`;
const BACK_DEFAULT = (domid: number, type: string, devid: number) => `/local/domain/0/backend/${type}/${domid}/${devid}`;

/**
 * Replays the instance's xenstore events; calls `onState` after each `state` key change has been
 * applied. `replay` is the store as of that event; `settled` is the store at the end of that
 * instant: a transaction's writes reach the probe one watch event at a time, in no particular
 * order, but they happened together, so keys written with a state in one commit count as present.
 */
export function walkStates(
  v: InstanceView,
  onState: (c: StateChange, replay: XsReplay, settled: XsReplay) => void,
  onOther?: (e: XenstoreEvent, replay: XsReplay) => void,
): void {
  const replay = new XsReplay();
  const settled = new XsReplay();
  const asRead = new XsReplay(); // replay, or ahead of it to the end of the event's batch
  const last = new Map<string, number>();
  let ahead = 0; // index of the first event not yet applied to `settled`
  let readAhead = 0; // ... to `asRead`
  for (let i = 0; i < v.xs.length; i++) {
    const e = v.xs[i];
    if (ahead <= i) {
      do settled.apply(v.xs[ahead++]);
      while (ahead < v.xs.length && v.xs[ahead].t === e.t);
    }
    while (readAhead <= i || (e.batch !== undefined && readAhead < v.xs.length && v.xs[readAhead].batch === e.batch)) asRead.apply(v.xs[readAhead++]);
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
    const peerState = (e.batch !== undefined ? asRead : replay).get(`${p.side === 'frontend' ? backendDir : frontendDir}/state`);
    onState({ e, side: p.side, domid: p.domid, type: p.type, devid: p.devid, guest, dir: p.dir, frontendDir, backendDir, from, to, peerState }, replay, settled);
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
