// ring-responses: from the request and response ids the host saw on each ring, every request is
// answered exactly once, with an id that was requested. Requests still in flight when the guest is
// suspended, saved or migrated, when the device is removed, or when the steps end are lost (rx
// buffers excepted: posted receive buffers are legitimately never used).
import type { CheckResult } from '../model/result';
import type { RingIoEvent } from '../model/trace';
import { Findings, skip } from './findings';
import { ringKey } from './rings';
import { afterCrash, guestName, placeOf, type InstanceView } from './view';

const LOSES_INFLIGHT = new Set(['suspended', 'saved', 'migrated']);

export function ringResponses(v: InstanceView): CheckResult {
  const f = new Findings('ring-responses');
  const outstanding = new Map<string, Map<number, RingIoEvent>>();
  const answered = new Map<string, Set<number>>();
  let reqs = 0;
  let rxReqs = 0;
  let rsps = 0;
  const lose = (match: (k: string, sample: RingIoEvent) => boolean, why: string, at: number, seq: number) => {
    for (const [k, m] of outstanding) {
      const first = m.values().next().value as RingIoEvent | undefined;
      if (!first || !match(k, first)) continue;
      if (first.ring === 'rx' || afterCrash(v, first.guest, { seq })) {
        m.clear(); // posted receive buffers die with the ring; a crashed guest is guest-alive's
        continue;
      }
      const ids = [...m.keys()];
      f.fail(`${k}: ${ids.length} request${ids.length === 1 ? '' : 's'} never answered (${why})`, {
        ring: k, at, seq, expected: 'a response for every request', observed: { unanswered: ids.slice(0, 16), requestedAt: first.t },
      });
      m.clear();
    }
  };
  const horizon = v.events.find((e) => e.ev === 'scenario.end');
  for (const e of v.events) {
    if (horizon && e.seq > horizon.seq) break;
    if (e.ev === 'ring.io') {
      if (afterCrash(v, e.guest, e)) continue;
      const k = ringKey(e);
      let m = outstanding.get(k);
      if (!m) outstanding.set(k, (m = new Map()));
      let done = answered.get(k);
      if (!done) answered.set(k, (done = new Set()));
      const diag = { ring: k, at: e.t, seq: e.seq };
      // one event holds the ids of one ring and direction at one instant, in ring order
      for (const id of e.ids) {
        if (e.dir === 'req') {
          reqs++;
          if (e.ring === 'rx') rxReqs++;
          if (m.has(id)) f.fail(`${k}: request id ${id} reused while still outstanding`, { ...diag, expected: 'unique ids in flight', observed: id });
          m.set(id, e);
          done.delete(id);
        } else {
          rsps++;
          if (m.has(id)) {
            m.delete(id);
            done.add(id);
          } else if (done.has(id)) {
            f.fail(`${k}: duplicate response for id ${id}`, { ...diag, expected: 'exactly one response per request', observed: `second response for id ${id}` });
          } else {
            f.fail(`${k}: response with id ${id} that was never requested`, { ...diag, expected: `an id in flight (${[...m.keys()].slice(0, 8).join(', ') || 'none'})`, observed: id });
          }
        }
      }
    } else if (e.ev === 'guest' && LOSES_INFLIGHT.has(e.what)) {
      lose((_k, s) => s.guest === e.guest, `lost when the guest was ${e.what}`, e.t, e.seq);
    } else if (e.ev === 'xs') {
      // the ring's life ends when its frontend is removed, reaches Closed or starts over
      const p = placeOf(e.path);
      if (p?.kind !== 'device' || p.side !== 'frontend') continue;
      const removed = e.value === null && (p.key === '' || p.key === 'state');
      const closed = p.key === 'state' && (e.value === '6' || e.value === '1');
      if (removed || closed) {
        const guest = e.guest ?? guestName(v, p.domid);
        const why = removed ? 'lost when the device was removed' : e.value === '6' ? 'lost when the frontend closed' : 'lost when the frontend re-initialised';
        lose((_k, s) => s.guest === guest && s.dev === `${p.type}/${p.devid}`, why, e.t, e.seq);
      }
    }
  }
  if (horizon) lose(() => true, 'still in flight when the steps ended', horizon.t, horizon.seq);
  if (reqs === 0 && rsps === 0 && f.count === 0) return skip('ring-responses', 'no request traffic on any ring in this scenario');
  return f.result(`${rsps} responses, each to one request in flight (${reqs} requests${rxReqs ? `, ${rxReqs} of them posted rx buffers, which need no answer` : ''})`);
}
