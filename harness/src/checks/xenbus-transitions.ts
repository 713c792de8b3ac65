// xenbus-transitions: every XenbusState change of each device end is one the driver spec allows,
// and a frontend does not leave Initialising before its backend reached the state the spec says
// it waits for (InitWait).
import { xenbusStateName as sn, XenbusState } from '../model/xenbus';
import type { SpecSet } from '../model/spec';
import type { CheckResult } from '../model/result';
import { Findings } from './findings';
import { specForDeviceType } from './specs';
import { walkStates } from './devices';
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
    if (c.from !== undefined) {
      judged++;
      const allowed = c.side === 'frontend' ? spec.device.frontendTransitions : spec.device.backendTransitions;
      if (!allowed.some((t) => t.from === c.from && t.to === c.to)) {
        const targets = allowed.filter((t) => t.from === c.from).map((t) => sn(t.to));
        f.fail(`${where}: ${sn(c.from)} -> ${sn(c.to)} is not allowed by the ${spec.name} spec`, {
          ...diag,
          expected: targets.length ? `${sn(c.from)} -> ${targets.join(' | ')}` : `no transition out of ${sn(c.from)}`,
          observed: `${sn(c.from)} -> ${sn(c.to)}`,
        });
      }
    }
    // Ordering against the other end: the frontend leaves Initialising only once the backend waits for it.
    const leavesInit = c.side === 'frontend' && (c.from === XenbusState.Initialising || c.from === undefined) && (c.to === XenbusState.Initialised || c.to === XenbusState.Connected);
    if (leavesInit) {
      const bs = replay.get(`${c.backendDir}/state`);
      const b = bs !== undefined && /^\d+$/.test(bs) ? Number(bs) : undefined;
      const want = spec.device.waitsForBackendState;
      if (b === undefined || b < want || b >= XenbusState.Closing) {
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
