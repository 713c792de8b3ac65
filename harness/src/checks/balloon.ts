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
  const limit = numParam(params, 'limitMs', 60000);
  const tolPct = numParam(params, 'tolerancePct', 1);
  const fromStart = numParam(params, 'fromStart', 0) === 1;
  const mem = v.events.filter((e): e is MemoryEvent => e.ev === 'memory');
  if (!mem.some((e) => e.targetKiB < e.staticMaxKiB)) return skip('balloon', 'no guest ran with a memory target below its static maximum');
  return new BalloonJudge(v, limit, tolPct, fromStart).run();
}

/** The balloon check over one instance: an episode per guest and target, judged as the events come. */
class BalloonJudge {
  private readonly f = new Findings('balloon');
  private readonly horizon: number;
  private readonly episodes = new Map<string, Episode>();
  /** When xenbus was first bound in each guest. */
  private readonly bound = new Map<string, number>();
  private judged = 0;

  constructor(
    private readonly v: InstanceView,
    private readonly limit: number,
    private readonly tolPct: number,
    private readonly fromStart: boolean,
  ) {
    this.horizon = v.events.find((e) => e.ev === 'scenario.end')?.t ?? v.end;
  }

  run(): CheckResult {
    for (const e of this.v.events) {
      if (e.t > this.horizon) break;
      if (e.ev === 'drivers' && e.bound.some((b) => b.driver.toLowerCase() === 'xenbus')) this.xenbusBound(e.guest, e.t, e.seq);
      else if (e.ev === 'guest' && (e.what === 'rebooted' || e.what === 'started')) this.booted(e.guest, e.t, e.seq);
      else if (e.ev === 'memory') this.memory(e);
    }
    for (const [guest, ep] of this.episodes) this.close(guest, ep, this.horizon);
    const { judged, limit } = this;
    return this.f.result(`${judged} balloon target${judged === 1 ? '' : 's'} reached within ${limit} ms and held`);
  }

  private within(ep: Episode, actualKiB: number): boolean {
    return Math.abs(actualKiB - ep.target) <= (ep.target * this.tolPct) / 100;
  }

  /** An episode ends (a new target, a new boot, the scenario's end): one never reached is a failure once its time is up. */
  private close(guest: string, ep: Episode, at: number): void {
    const { limit } = this;
    if (ep.since === undefined || ep.target >= ep.staticMax || ep.reachedAt !== undefined || afterCrash(this.v, guest, at)) return;
    this.judged++;
    const stillOpen = at >= this.horizon;
    if (!stillOpen && at - ep.since < limit) return; // a new target or a reboot came first: not judged
    const held = ep.last?.actualKiB ?? ep.staticMax;
    this.f.fail(`${guest}: never reached its memory target${stillOpen ? ' before the scenario ended' : ''}: holds ${held} KiB, target ${ep.target} KiB, static-max ${ep.staticMax} KiB (${Math.round(at - ep.since)} ms after xenbus bound or the target was set)`, {
      at: ep.since, seq: ep.sinceSeq, expected: `memory within ${this.tolPct}% of ${ep.target} KiB within ${limit} ms`, observed: `${held} KiB`,
    });
  }

  /** xenbus bound: the clock of the guest's open episode starts. */
  private xenbusBound(guest: string, t: number, seq: number): void {
    if (!this.bound.has(guest)) this.bound.set(guest, t);
    const ep = this.episodes.get(guest);
    if (!ep || ep.since !== undefined) return;
    ep.since = t;
    ep.sinceSeq = seq;
    // the balloon may have finished while the install's reboot ran, before the drivers were reported
    if (ep.last && this.within(ep, ep.last.actualKiB)) {
      ep.reachedAt = t;
      this.judged++;
    }
  }

  /** A new boot: the balloon starts empty again and xenbus binds again within the boot. */
  private booted(guest: string, t: number, seq: number): void {
    const ep = this.episodes.get(guest);
    if (ep) this.close(guest, ep, t);
    if (this.fromStart && !this.bound.has(guest)) this.bound.set(guest, t);
    if (ep && this.bound.has(guest)) this.episodes.set(guest, { ...ep, since: t, sinceSeq: seq, reachedAt: undefined, left: false, last: undefined });
  }

  /** The domain's memory: a new target opens an episode; reaching the target late, or leaving it, fails. */
  private memory(e: MemoryEvent): void {
    const { v, limit, f } = this;
    let ep = this.episodes.get(e.guest);
    if (!ep || ep.target !== e.targetKiB || ep.staticMax !== e.staticMaxKiB) {
      if (ep) this.close(e.guest, ep, e.t);
      const b = this.bound.get(e.guest);
      // from the start: the guest's first target counts from its start, not from the first sample
      const since = b === undefined ? undefined : this.fromStart && !ep ? b : Math.max(b, e.t);
      ep = { target: e.targetKiB, staticMax: e.staticMaxKiB, left: false, sinceSeq: e.seq, ...(since !== undefined ? { since } : {}) };
      this.episodes.set(e.guest, ep);
    }
    ep.last = e;
    if (ep.since === undefined || afterCrash(v, e.guest, e) || notRunningAt(v, e.guest, e.t, e.t + 1e-6)) return;
    const ok = this.within(ep, e.actualKiB);
    if (ok && ep.reachedAt === undefined) {
      ep.reachedAt = e.t;
      this.judged++;
      if (e.t - ep.since > limit) {
        f.fail(`${e.guest}: reached its memory target ${ep.target} KiB only after ${Math.round(e.t - ep.since)} ms, limit ${limit} ms`, {
          at: e.t, seq: e.seq, expected: `within ${limit} ms`, observed: `${Math.round(e.t - ep.since)} ms`,
        });
      }
    } else if (!ok && ep.reachedAt !== undefined && !ep.left) {
      ep.left = true;
      f.fail(`${e.guest}: left its memory target while it held: holds ${e.actualKiB} KiB, target ${ep.target} KiB (${e.actualKiB > ep.target ? 'the balloon deflated' : 'the balloon inflated past it'})`, {
        at: e.t, seq: e.seq, expected: `memory within ${this.tolPct}% of ${ep.target} KiB`, observed: `${e.actualKiB} KiB`,
      });
    }
  }
}
