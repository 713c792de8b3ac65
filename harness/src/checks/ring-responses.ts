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
  return new ResponseLedger(v).run();
}

/** Per ring, the requests in flight and the ids answered since they were last requested. */
class ResponseLedger {
  private readonly f = new Findings('ring-responses');
  private readonly outstanding = new Map<string, Map<number, RingIoEvent>>();
  private readonly answered = new Map<string, Set<number>>();
  private reqs = 0;
  private rxReqs = 0;
  private rsps = 0;

  constructor(private readonly v: InstanceView) {}

  run(): CheckResult {
    const { v, f } = this;
    const horizon = v.events.find((e) => e.ev === 'scenario.end');
    for (const e of v.events) {
      if (horizon && e.seq > horizon.seq) break;
      if (e.ev === 'ring.io') this.ringIo(e);
      else if (e.ev === 'guest' && LOSES_INFLIGHT.has(e.what)) {
        this.lose((_k, s) => s.guest === e.guest, `lost when the guest was ${e.what}`, e.t, e.seq);
      } else if (e.ev === 'xs') this.frontendChange(e.path, e.value, e.guest, e.t, e.seq);
    }
    if (horizon) this.lose(() => true, 'still in flight when the steps ended', horizon.t, horizon.seq);
    const { reqs, rsps, rxReqs } = this;
    if (reqs === 0 && rsps === 0 && f.count === 0) return skip('ring-responses', 'no request traffic on any ring in this scenario');
    return f.result(`${rsps} responses, each to one request in flight (${reqs} requests${rxReqs ? `, ${rxReqs} of them posted rx buffers, which need no answer` : ''})`);
  }

  /** The requests in flight on the rings `match` picks are lost: a failure each ring (rx buffers and crashed guests excepted). */
  private lose(match: (k: string, sample: RingIoEvent) => boolean, why: string, at: number, seq: number): void {
    for (const [k, m] of this.outstanding) {
      const first = m.values().next().value as RingIoEvent | undefined;
      if (!first || !match(k, first)) continue;
      if (first.ring === 'rx' || afterCrash(this.v, first.guest, { seq })) {
        m.clear(); // posted receive buffers die with the ring; a crashed guest is guest-alive's
        continue;
      }
      const ids = [...m.keys()];
      this.f.fail(`${k}: ${ids.length} request${ids.length === 1 ? '' : 's'} never answered (${why})`, {
        ring: k, at, seq, expected: 'a response for every request', observed: { unanswered: ids.slice(0, 16), requestedAt: first.t },
      });
      m.clear();
    }
  }

  /** One event holds the ids of one ring and direction at one instant, in ring order. */
  private ringIo(e: RingIoEvent): void {
    const { f } = this;
    if (afterCrash(this.v, e.guest, e)) return;
    const k = ringKey(e);
    let m = this.outstanding.get(k);
    if (!m) this.outstanding.set(k, (m = new Map()));
    let done = this.answered.get(k);
    if (!done) this.answered.set(k, (done = new Set()));
    const diag = { ring: k, at: e.t, seq: e.seq };
    for (const id of e.ids) {
      if (e.dir === 'req') {
        this.reqs++;
        if (e.ring === 'rx') this.rxReqs++;
        if (m.has(id)) f.fail(`${k}: request id ${id} reused while still outstanding`, { ...diag, expected: 'unique ids in flight', observed: id });
        m.set(id, e);
        done.delete(id);
      } else {
        this.rsps++;
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
  }

  /** The ring's life ends when its frontend is removed, reaches Closed or starts over. */
  private frontendChange(path: string, value: string | null, eventGuest: string | undefined, t: number, seq: number): void {
    const p = placeOf(path);
    if (p?.kind !== 'device' || p.side !== 'frontend') return;
    const removed = value === null && (p.key === '' || p.key === 'state');
    const closed = p.key === 'state' && (value === '6' || value === '1');
    if (!removed && !closed) return;
    const guest = eventGuest ?? guestName(this.v, p.domid);
    const why = removed ? 'lost when the device was removed' : value === '6' ? 'lost when the frontend closed' : 'lost when the frontend re-initialised';
    this.lose((_k, s) => s.guest === guest && s.dev === `${p.type}/${p.devid}`, why, t, seq);
  }
}
