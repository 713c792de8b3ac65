// ring-progress: stuck-ring detection as xen-ringwatch does it. Over every interval, a ring is
// BUSY when any index moved, IDLE when nothing moved and nothing is pending, and STUCK when work is
// pending for a consumer (unconsumed requests for the backend, unconsumed responses for the
// frontend) and no index moved. The rx request half is never pending work: posted receive buffers
// wait for traffic. Intervals while the guest was suspended or after it crashed are not judged.
import type { CheckResult } from '../model/result';
import type { RingSampleEvent } from '../model/trace';
import { Findings } from './findings';
import { ringKey, u32diff } from './rings';
import { afterCrash, notRunningAt, numParam, type InstanceView } from './view';

const sameIndices = (a: RingSampleEvent, b: RingSampleEvent) =>
  a.req_prod === b.req_prod && a.rsp_prod === b.rsp_prod && a.req_event === b.req_event && a.rsp_event === b.rsp_event && a.req_cons === b.req_cons && a.rsp_cons === b.rsp_cons;

/** What is pending at this sample, or undefined. */
export function pendingWork(s: RingSampleEvent): string | undefined {
  if (s.ring !== 'rx') {
    if (s.req_cons !== undefined ? s.req_cons !== s.req_prod : s.req_prod !== s.rsp_prod) {
      const n = s.req_cons !== undefined ? u32diff(s.req_prod, s.req_cons) : u32diff(s.req_prod, s.rsp_prod);
      return `${n} request${n === 1 ? '' : 's'} pending for the backend`;
    }
  }
  if (s.rsp_cons !== undefined && s.rsp_cons !== s.rsp_prod) {
    const n = u32diff(s.rsp_prod, s.rsp_cons);
    return `${n} response${n === 1 ? '' : 's'} pending for the frontend`;
  }
  return undefined;
}

export function ringProgress(v: InstanceView, params: Record<string, string>): CheckResult {
  const f = new Findings('ring-progress');
  const interval = numParam(params, 'intervalMs', 1000);
  const byRing = new Map<string, RingSampleEvent[]>();
  for (const e of v.events) {
    if (e.ev !== 'ring') continue;
    const k = ringKey(e);
    let list = byRing.get(k);
    if (!list) byRing.set(k, (list = []));
    list.push(e);
  }
  const counts = { busy: 0, idle: 0, stuck: 0 };
  for (const [ring, samples] of byRing) {
    let lastChange = 0; // index of the latest sample that differs from its predecessor
    let a = 0;
    let reported = false;
    for (let j = 1; j < samples.length; j++) {
      const s = samples[j];
      if (!sameIndices(s, samples[j - 1])) lastChange = j;
      if (s.why !== 'periodic' && s.why !== 'final') continue;
      while (a + 1 < j && samples[a + 1].t <= s.t - interval) a++;
      if (samples[a].t > s.t - interval) continue; // not a full interval of history yet
      const from = samples[a];
      if (afterCrash(v, s.guest, s) || notRunningAt(v, s.guest, from.t, s.t)) continue;
      if (lastChange > a) counts.busy++;
      else {
        const pending = pendingWork(s);
        if (!pending) counts.idle++;
        else {
          counts.stuck++;
          if (!reported) {
            reported = true;
            f.fail(`${ring}: STUCK: ${pending} and no index moved for ${Math.round(s.t - from.t)} ms`, {
              ring,
              at: s.t,
              seq: s.seq,
              expected: `progress within ${interval} ms while work is pending`,
              observed: { since: from.t, req_prod: s.req_prod, req_event: s.req_event, rsp_prod: s.rsp_prod, rsp_event: s.rsp_event, req_cons: s.req_cons, rsp_cons: s.rsp_cons },
            });
          }
        }
      }
    }
  }
  return f.result(`${byRing.size} rings over ${interval} ms intervals: ${counts.busy} BUSY, ${counts.idle} IDLE, 0 STUCK`);
}
