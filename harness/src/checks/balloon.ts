// balloon: a guest whose memory target (memory/target) is below its static maximum must balloon down
// to the target once its PV drivers run, and stay there while the target holds. The balloon lives in
// xenbus (win-xenbus fdo.c FdoBalloon), so the clock starts when xenbus is bound (the `drivers` event),
// or when the target changes afterwards; a reboot starts it again (the new boot binds xenbus again).
// The memory the domain holds comes from the host's `memory` events. With `fromStart` 1 the clock
// starts when the guest starts instead: a guest whose balloon is in its kernel (Linux's
// drivers/xen/balloon.c on the lab) balloons from its first boot, with no driver install to report.
import type { CheckResult } from '../model/result';
import type { MemoryEvent } from '../model/trace';
import { Findings, skip } from './findings';
import { afterCrash, notRunningAt, numParam, type InstanceView } from './view';

interface Episode {
  target: number;
  staticMax: number;
  /** When the guest had to start ballooning towards this target (xenbus bound, or the target set later). */
  since?: number;
  sinceSeq: number;
  reachedAt?: number;
  left: boolean;
  last?: MemoryEvent;
}

export function balloon(v: InstanceView, params: Record<string, string>): CheckResult {
  const f = new Findings('balloon');
  const limit = numParam(params, 'limitMs', 60000);
  const tolPct = numParam(params, 'tolerancePct', 1);
  const fromStart = numParam(params, 'fromStart', 0) === 1;
  const mem = v.events.filter((e): e is MemoryEvent => e.ev === 'memory');
  if (!mem.some((e) => e.targetKiB < e.staticMaxKiB)) return skip('balloon', 'no guest ran with a memory target below its static maximum');
  const horizon = v.events.find((e) => e.ev === 'scenario.end')?.t ?? v.end;
  const episodes = new Map<string, Episode>();
  const bound = new Map<string, number>();
  let judged = 0;
  const within = (ep: Episode, actualKiB: number) => Math.abs(actualKiB - ep.target) <= (ep.target * tolPct) / 100;
  const close = (guest: string, ep: Episode, at: number) => {
    if (ep.since === undefined || ep.target >= ep.staticMax || ep.reachedAt !== undefined || afterCrash(v, guest, at)) return;
    judged++;
    const stillOpen = at >= horizon;
    if (!stillOpen && at - ep.since < limit) return; // a new target or a reboot came first: not judged
    const held = ep.last?.actualKiB ?? ep.staticMax;
    f.fail(`${guest}: never reached its memory target${stillOpen ? ' before the scenario ended' : ''}: holds ${held} KiB, target ${ep.target} KiB, static-max ${ep.staticMax} KiB (${Math.round(at - ep.since)} ms after xenbus bound or the target was set)`, {
      at: ep.since, seq: ep.sinceSeq, expected: `memory within ${tolPct}% of ${ep.target} KiB within ${limit} ms`, observed: `${held} KiB`,
    });
  };
  for (const e of v.events) {
    if (e.t > horizon) break;
    if (e.ev === 'drivers' && e.bound.some((b) => b.driver.toLowerCase() === 'xenbus')) {
      if (!bound.has(e.guest)) bound.set(e.guest, e.t);
      const ep = episodes.get(e.guest);
      if (ep && ep.since === undefined) {
        ep.since = e.t;
        ep.sinceSeq = e.seq;
        // the balloon may have finished while the install's reboot ran, before the drivers were reported
        if (ep.last && within(ep, ep.last.actualKiB)) {
          ep.reachedAt = e.t;
          judged++;
        }
      }
    } else if (e.ev === 'guest' && (e.what === 'rebooted' || e.what === 'started')) {
      // a new boot: the balloon starts empty again and xenbus binds again within the boot
      const ep = episodes.get(e.guest);
      if (ep) close(e.guest, ep, e.t);
      if (fromStart && !bound.has(e.guest)) bound.set(e.guest, e.t);
      if (ep && bound.has(e.guest)) episodes.set(e.guest, { ...ep, since: e.t, sinceSeq: e.seq, reachedAt: undefined, left: false, last: undefined });
    } else if (e.ev === 'memory') {
      let ep = episodes.get(e.guest);
      if (!ep || ep.target !== e.targetKiB || ep.staticMax !== e.staticMaxKiB) {
        if (ep) close(e.guest, ep, e.t);
        const b = bound.get(e.guest);
        // from the start: the guest's first target counts from its start, not from the first sample
        const since = b === undefined ? undefined : fromStart && !ep ? b : Math.max(b, e.t);
        ep = { target: e.targetKiB, staticMax: e.staticMaxKiB, left: false, sinceSeq: e.seq, ...(since !== undefined ? { since } : {}) };
        episodes.set(e.guest, ep);
      }
      ep.last = e;
      if (ep.since === undefined || afterCrash(v, e.guest, e) || notRunningAt(v, e.guest, e.t, e.t + 1e-6)) continue;
      const ok = within(ep, e.actualKiB);
      if (ok && ep.reachedAt === undefined) {
        ep.reachedAt = e.t;
        judged++;
        if (e.t - ep.since > limit) {
          f.fail(`${e.guest}: reached its memory target ${ep.target} KiB only after ${Math.round(e.t - ep.since)} ms, limit ${limit} ms`, {
            at: e.t, seq: e.seq, expected: `within ${limit} ms`, observed: `${Math.round(e.t - ep.since)} ms`,
          });
        }
      } else if (!ok && ep.reachedAt !== undefined && !ep.left) {
        ep.left = true;
        f.fail(`${e.guest}: left its memory target while it held: holds ${e.actualKiB} KiB, target ${ep.target} KiB (${e.actualKiB > ep.target ? 'the balloon deflated' : 'the balloon inflated past it'})`, {
          at: e.t, seq: e.seq, expected: `memory within ${tolPct}% of ${ep.target} KiB`, observed: `${e.actualKiB} KiB`,
        });
      }
    }
  }
  for (const [guest, ep] of episodes) close(guest, ep, horizon);
  return f.result(`${judged} balloon target${judged === 1 ? '' : 's'} reached within ${limit} ms and held`);
}
