// guest-keys: the keys the drivers' specs require under the guest's home (drivers/<N>,
// control/feature-suspend, ...) are present and valid once the drivers are installed, and present
// again within the limit after every resume, restore and migration (a new domain starts with an
// empty home, so the drivers must write them again).
import type { CheckResult } from '../model/result';
import type { DriverName, KeySpec, SpecSet } from '../model/spec';
import { Findings, skip } from './findings';
import { judgeRequiredKey, requiredAt } from './specs';
import { XsReplay, afterCrash, numParam, type InstanceView } from './view';

interface Checkpoint {
  guest: string;
  why: string;
  at: number;
  seq: number;
  deadline: number;
  /** Judged before this time when the guest's next checkpoint (a suspend, say) comes before the
   *  deadline: what the guest's toolstack does at that instant (removing keys) belongs to it. */
  beforeT: number;
}

const AFTER = new Set(['resumed', 'restored', 'migrated']);

/** The guest keys the specs of the drivers installed in this instance require. */
export function requiredGuestKeys(v: InstanceView, specs: SpecSet): KeySpec[] {
  const keys: KeySpec[] = [];
  for (const d of (v.start?.drivers ?? []) as DriverName[]) for (const k of specs.get(d)?.guestKeys ?? []) if (k.requiredFrom !== undefined) keys.push(k);
  return keys;
}

export function guestKeys(v: InstanceView, params: Record<string, string>, specs: SpecSet): CheckResult {
  const limit = numParam(params, 'limitMs', 10000);
  const drivers = (v.start?.drivers ?? []) as DriverName[];
  const keys = requiredGuestKeys(v, specs);
  // a key whose condition does not hold (control/feature-balloon without memory/target) is not required
  if (keys.length === 0) return skip('guest-keys', `the specs of ${drivers.join(', ') || 'no driver'} require no guest keys`);
  const cps = checkpoints(v, limit);
  if (cps.length === 0) return skip('guest-keys', 'xenbus never bound in this scenario, so no guest keys are expected');
  // A checkpoint followed within its limit by another one of the same guest (restored, then
  // migrated: one operation) is covered by the later one, which has its own limit.
  const covered = new Set(cps.filter((cp) => cps.some((o) => o.guest === cp.guest && o.seq > cp.seq && o.at < cp.beforeT && o.at <= cp.deadline)));
  const due = (cp: Checkpoint, e: { t: number }) => e.t > cp.deadline || e.t >= cp.beforeT;
  const pending = cps.filter((cp) => !covered.has(cp)).sort((a, b) => a.deadline - b.deadline || a.seq - b.seq);
  const j: Judging = { v, f: new Findings('guest-keys'), keys, limit, replay: new XsReplay(), judged: 0 };
  for (const e of v.xs) {
    for (const cp of pending.filter((c) => due(c, e))) {
      pending.splice(pending.indexOf(cp), 1);
      judgeCheckpoint(j, cp, e.t >= cp.beforeT && cp.beforeT <= cp.deadline);
    }
    j.replay.apply(e);
  }
  while (pending.length) judgeCheckpoint(j, pending.shift()!, false);
  return j.f.result(`${keys.map((k) => k.name).join(', ')} present at ${j.judged} checkpoint${j.judged === 1 ? '' : 's'}`);
}

/** The moments the keys must be there: `limit` ms after xenbus binds and after every resume,
 *  restore and migration; each judged earlier when the keys are about to go (an uninstall, a suspend). */
function checkpoints(v: InstanceView, limit: number): Checkpoint[] {
  const horizon = v.events.find((e) => e.ev === 'scenario.end')?.t ?? v.end;
  const cps: Checkpoint[] = [];
  for (const e of v.events) {
    const mk = (why: string, guest: string) => cps.push({ guest, why, at: e.t, seq: e.seq, deadline: Math.min(e.t + limit, horizon), beforeT: Infinity });
    if (e.ev === 'drivers' && e.bound.some((b) => b.driver.toLowerCase() === 'xenbus')) mk('after the driver install', e.guest);
    else if (e.ev === 'guest' && AFTER.has(e.what)) mk(`after the guest was ${e.what}`, e.guest);
    else if (e.ev === 'step.start' && e.kind === 'uninstall-drivers') {
      // the drivers are being removed: their keys go with them, so what came before is judged up to here
      for (const cp of cps) if (cp.beforeT === Infinity && e.t <= cp.deadline) cp.beforeT = e.t;
    } else if (e.ev === 'guest' && (e.what === 'suspending' || e.what === 'suspended' || e.what === 'saved')) {
      // the keys may go with the old domain (on XenAPI before the suspend is reported done, hence
      // `suspending`): what came before is judged up to the first of these
      for (const cp of cps) if (cp.guest === e.guest && cp.beforeT === Infinity && e.t <= cp.deadline) cp.beforeT = e.t;
    }
  }
  return cps;
}

/** What judging a checkpoint needs: the keys, the store replayed up to now, the findings so far. */
interface Judging {
  v: InstanceView;
  f: Findings;
  keys: KeySpec[];
  limit: number;
  replay: XsReplay;
  judged: number;
}

/** The domid (home) a guest has at time t. */
function homeAt(v: InstanceView, guest: string, t: number): string | undefined {
  const g = v.guests.get(guest);
  const d = [...(g?.domids ?? [])].filter((x) => x.from <= t).pop() ?? g?.domids[0];
  return d ? `/local/domain/${d.domid}` : undefined;
}

/** Every required key present and valid at the checkpoint (or, `early`, just before the keys go). */
function judgeCheckpoint(j: Judging, cp: Checkpoint, early: boolean): void {
  const when = early ? cp.beforeT : cp.deadline;
  if (afterCrash(j.v, cp.guest, when)) return;
  const home = homeAt(j.v, cp.guest, early ? cp.at : when);
  if (!home) return;
  j.judged++;
  const { replay, keys } = j;
  for (const ks of keys) {
    if (!requiredAt(ks, 1, { replay, dir: home, home, keys })) continue;
    const p = judgeRequiredKey(ks, { replay, dir: home, home, keys });
    if (p) {
      j.f.fail(`${cp.guest}: ${p} ${cp.why} (checked ${Math.round(when - cp.at)} ms later)`, {
        path: `${home}/${ks.name}`, at: when, seq: cp.seq, expected: `${ks.name} present within ${j.limit} ms`, observed: p,
      });
    }
  }
}
