// xenbus-transitions: every XenbusState change of each device end is one the driver spec allows,
// and a frontend does not leave Initialising before its backend reached the state the spec says
// it waits for (InitWait).
import { xenbusStateName as sn, XenbusState } from '../model/xenbus';
import type { DeviceProtocol, SpecSet } from '../model/spec';
import { findTransition } from '../model/spec-eval';
import type { CheckResult } from '../model/result';
import { Findings } from './findings';
import { specForDeviceType } from './specs';
import { unobservedAt, walkStates, type PeerState, type StateChange } from './devices';
import { devName, type InstanceView } from './view';

export function xenbusTransitions(v: InstanceView, _params: Record<string, string>, specs: SpecSet): CheckResult {
  const f = new Findings('xenbus-transitions');
  let judged = 0;
  const ends = new Set<string>();
  const unknownTypes = new Set<string>();
  walkStates(v, (c) => {
    if (c.to === null) return;
    const at: Where = { f, c, where: `${c.guest} ${c.side} ${devName(c.type, c.devid)}`, diag: { path: c.e.path, at: c.e.t, seq: c.e.seq } };
    if (Number.isNaN(c.to)) {
      f.fail(`${at.where}: state '${c.e.value}' is not a XenbusState`, { ...at.diag, expected: 'a number 0..8', observed: c.e.value });
      return;
    }
    const spec = specForDeviceType(specs, c.type);
    if (!spec?.device) {
      unknownTypes.add(c.type);
      return;
    }
    ends.add(c.dir);
    if (c.from !== undefined) {
      judged++;
      // several writes read late as one: the states between were not seen, only the path can be judged
      if (c.skipped ? !judgeReachable(at, spec.name, spec.device, c.from, c.to) : !judgeTransition(at, spec.name, spec.device, c.from, c.to, stateOf(c.peer))) return;
    }
    // the frontend left Initialising at one of its writes: judged where the backend's state over them is known
    if (c.side === 'frontend' && c.peerThroughout.known) judgeFrontendOrder(at, v, spec.device.waitsForBackendState, c.to, stateOf(c.peerThroughout));
  });
  const extra = unknownTypes.size ? `; no spec for ${[...unknownTypes].join(', ')}` : '';
  return f.result(`${judged} transitions on ${ends.size} device ends, all allowed and in order${extra}`);
}

/** The other end's XenbusState, when known and a number (else no constraint on it is judged). */
const stateOf = (p: PeerState): number | undefined => (p.known && p.value !== undefined && /^\d+$/.test(p.value) ? Number(p.value) : undefined);

/** A change that hides unseen states (several writes read late as one): `to` must be reachable from
 *  `from` by transitions the spec allows for this end, whatever the other end's state. */
function judgeReachable(at: Where, specName: string, device: DeviceProtocol, from: number, to: number): boolean {
  const allowed = at.c.side === 'frontend' ? device.frontendTransitions : device.backendTransitions;
  const seen = new Set<number>();
  const queue = allowed.filter((x) => x.from === from).map((x) => x.to);
  while (queue.length) {
    const s = queue.shift()!;
    if (s === to) return true;
    if (seen.has(s)) continue;
    seen.add(s);
    queue.push(...allowed.filter((x) => x.from === s).map((x) => x.to));
  }
  at.f.fail(`${at.where}: ${sn(from)} -> ${sn(to)} (written more than once, read late as one change) is not reachable by the ${specName} spec`, {
    ...at.diag,
    expected: `a path of allowed transitions from ${sn(from)} to ${sn(to)}`,
    observed: `${sn(from)} -> ... -> ${sn(to)}`,
  });
  return false;
}

/** One state change being judged: the findings, the change, its device end named for messages. */
interface Where {
  f: Findings;
  c: StateChange;
  where: string;
  diag: { path: string; at: number; seq: number };
}

/** The change is one the spec allows for this end, and allows while the other end is at `peer`;
 *  false when it is allowed only with the other end elsewhere (nothing more to judge of it). */
function judgeTransition(at: Where, specName: string, device: DeviceProtocol, from: number, to: number, peer: number | undefined): boolean {
  const { f, c, where, diag } = at;
  const allowed = c.side === 'frontend' ? device.frontendTransitions : device.backendTransitions;
  const other = c.side === 'frontend' ? 'backend' : 'frontend';
  if (!findTransition(allowed, from, to)) {
    const targets = [...new Set(allowed.filter((x) => x.from === from).map((x) => sn(x.to)))];
    f.fail(`${where}: ${sn(from)} -> ${sn(to)} is not allowed by the ${specName} spec`, {
      ...diag,
      expected: targets.length ? `${sn(from)} -> ${targets.join(' | ')}` : `no transition out of ${sn(from)}`,
      observed: `${sn(from)} -> ${sn(to)}`,
    });
  } else if (peer !== undefined && !findTransition(allowed, from, to, peer)) {
    // allowed, but not while the other end is where it is (e.g. Initialised before the backend's InitWait)
    const want = [...new Set(allowed.filter((x) => x.from === from && x.to === to).flatMap((x) => x.peerStates ?? []))].map(sn);
    f.fail(`${where}: ${sn(from)} -> ${sn(to)} while the ${other} was ${sn(peer)}`, {
      ...diag,
      expected: `${other} in ${want.join(' | ')}`,
      observed: `${other} ${sn(peer)}`,
    });
    return false;
  }
  return true;
}

/** Ordering against the other end: the frontend leaves Initialising only once the backend waits for it. */
function judgeFrontendOrder(at: Where, v: InstanceView, want: number, to: number, b: number | undefined): void {
  const { f, c, where, diag } = at;
  const leavesInit = (c.from === XenbusState.Initialising || c.from === undefined) && (to === XenbusState.Initialised || to === XenbusState.Connected);
  if (!leavesInit) return;
  // unknown either because it did not exist yet (the fault) or because the probe attached late
  const absent = b === undefined && !unobservedAt(v, c.backendDir, c.e.seq);
  if (absent || (b !== undefined && (b < want || b >= XenbusState.Closing))) {
    f.fail(`${where}: went ${sn(c.from ?? XenbusState.Initialising)} -> ${sn(to)} while the backend was ${b === undefined ? 'absent' : sn(b)}`, {
      ...diag,
      expected: `backend at ${sn(want)} or later before the frontend leaves Initialising`,
      observed: `backend ${b === undefined ? 'absent' : sn(b)}`,
    });
  }
}
