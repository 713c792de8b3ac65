// xenbus-transitions: every XenbusState change of each device end is one the driver spec allows,
// and a frontend does not leave Initialising before its backend reached the state the spec says
// it waits for (InitWait).
import { xenbusStateName as sn, XenbusState } from '../model/xenbus';
import type { SpecSet } from '../model/spec';
import { findTransition } from '../model/spec-eval';
import type { CheckResult } from '../model/result';
import { Findings } from './findings';
import { specForDeviceType } from './specs';
import { unobservedAt, walkStates } from './devices';
import { devName, type InstanceView } from './view';

export function xenbusTransitions(v: InstanceView, _params: Record<string, string>, specs: SpecSet): CheckResult {
  const f = new Findings('xenbus-transitions');
  let judged = 0;
  const ends = new Set<string>();
  const unknownTypes = new Set<string>();
  walkStates(v, (c, replay) => {
    if (c.to === null) return;
    const where = `${c.guest} ${c.side} ${devName(c.type, c.devid)}`;
    const diag = { path: c.e.path, at: c.e.t, seq: c.e.seq };
    if (Number.isNaN(c.to)) {
      f.fail(`${where}: state '${c.e.value}' is not a XenbusState`, { ...diag, expected: 'a number 0..8', observed: c.e.value });
      return;
    }
    const spec = specForDeviceType(specs, c.type);
    if (!spec?.device) {
      unknownTypes.add(c.type);
      return;
    }
    ends.add(c.dir);
    const otherDir = c.side === 'frontend' ? c.backendDir : c.frontendDir;
    const ps = replay.get(`${otherDir}/state`);
    const peer = ps !== undefined && /^\d+$/.test(ps) ? Number(ps) : undefined;
    const other = c.side === 'frontend' ? 'backend' : 'frontend';
    if (c.from !== undefined) {
      judged++;
      const allowed = c.side === 'frontend' ? spec.device.frontendTransitions : spec.device.backendTransitions;
      const t = findTransition(allowed, c.from, c.to);
      if (!t) {
        const targets = [...new Set(allowed.filter((x) => x.from === c.from).map((x) => sn(x.to)))];
        f.fail(`${where}: ${sn(c.from)} -> ${sn(c.to)} is not allowed by the ${spec.name} spec`, {
          ...diag,
          expected: targets.length ? `${sn(c.from)} -> ${targets.join(' | ')}` : `no transition out of ${sn(c.from)}`,
          observed: `${sn(c.from)} -> ${sn(c.to)}`,
        });
      } else if (peer !== undefined && !findTransition(allowed, c.from, c.to, peer)) {
        // allowed, but not while the other end is where it is (e.g. Initialised before the backend's InitWait)
        const want = [...new Set(allowed.filter((x) => x.from === c.from && x.to === c.to).flatMap((x) => x.peerStates ?? []))].map(sn);
        f.fail(`${where}: ${sn(c.from)} -> ${sn(c.to)} while the ${other} was ${sn(peer)}`, {
          ...diag,
          expected: `${other} in ${want.join(' | ')}`,
          observed: `${other} ${sn(peer)}`,
        });
        return;
      }
    }
    // Ordering against the other end: the frontend leaves Initialising only once the backend waits for it.
    const leavesInit = c.side === 'frontend' && (c.from === XenbusState.Initialising || c.from === undefined) && (c.to === XenbusState.Initialised || c.to === XenbusState.Connected);
    if (leavesInit) {
      const b = peer;
      const want = spec.device.waitsForBackendState;
      // unknown either because it did not exist yet (the fault) or because the probe attached late
      const absent = b === undefined && !unobservedAt(v, c.backendDir, c.e.seq);
      if (absent || (b !== undefined && (b < want || b >= XenbusState.Closing))) {
        f.fail(`${where}: went ${sn(c.from ?? XenbusState.Initialising)} -> ${sn(c.to)} while the backend was ${b === undefined ? 'absent' : sn(b)}`, {
          ...diag,
          expected: `backend at ${sn(want)} or later before the frontend leaves Initialising`,
          observed: `backend ${b === undefined ? 'absent' : sn(b)}`,
        });
      }
    }
  });
  const extra = unknownTypes.size ? `; no spec for ${[...unknownTypes].join(', ')}` : '';
  return f.result(`${judged} transitions on ${ends.size} device ends, all allowed and in order${extra}`);
}
