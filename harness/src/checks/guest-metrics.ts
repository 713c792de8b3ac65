// guest-metrics: what the guest reported to the toolstack before a migration, restore or resume is
// reported again within the limit after it. The keys are the ones xapi reads into VM_guest_metrics
// (xen-api ocaml/xapi/xapi_guest_agent.ml: pv_drivers_version attr/PVAddons/*, os_version data/os_* and
// attr/os/sp*, data/host_name_dns, data/domain, data/meminfo_*, data/device_id, data/service/*, data/ts,
// the networks under attr/vif, attr/net-sriov-vf and attr/eth*, and one `other` entry per control/*
// key). A moved guest lands in a new domain with an empty home (or, resumed in place, with the keys
// its agent emptied before the suspend), so the guest agent and the drivers must write them again:
// a key missing afterwards is a VM whose OS, addresses or features vanish from XenCenter and xe.
// Keys a driver spec requires are guest-keys' (drivers/<N>, control/feature-suspend); the toolstack's
// own control keys (control/shutdown, ...) are no report of the guest's and are left out.
import type { CheckResult } from '../model/result';
import type { KeySpec, SpecSet } from '../model/spec';
import { matchKey } from '../model/spec-eval';
import type { GuestEvent } from '../model/trace';
import { Findings, skip } from './findings';
import { XsReplay, numParam, type InstanceView } from './view';

const EXACT = new Set([
  'data/os_name', 'data/os_uname', 'data/os_distro', 'data/os_majorver', 'data/os_minorver', 'attr/os/spmajor', 'attr/os/spminor',
  'data/host_name_dns', 'data/domain', 'data/meminfo_free', 'data/meminfo_total', 'data/device_id', 'data/ts',
]);
const PREFIXES = ['attr/PVAddons/', 'attr/vif/', 'attr/net-sriov-vf/', 'attr/eth', 'data/service/', 'control/feature-'];

/** A key under a guest's home that xapi's guest metrics read. */
export function isGuestMetricsKey(rel: string): boolean {
  return EXACT.has(rel) || PREFIXES.some((p) => rel.startsWith(p));
}

const BEFORE = new Set(['suspending', 'suspended', 'saved']);
const AFTER = new Set(['resumed', 'restored', 'migrated']);

interface Move {
  guest: string;
  why: string;
  at: number;
  seq: number;
  /** Reported keys (relative to the home) with their values, as they were when the guest was stopped. */
  before: Map<string, string>;
  judgeAt: number;
}

export function guestMetrics(v: InstanceView, params: Record<string, string>, specs: SpecSet): CheckResult {
  const f = new Findings('guest-metrics');
  const limit = numParam(params, 'limitMs', 10000);
  const required: KeySpec[] = [];
  for (const d of v.start?.drivers ?? []) for (const k of specs.get(d as never)?.guestKeys ?? []) if (k.requiredFrom !== undefined) required.push(k);
  const judged = (rel: string) => isGuestMetricsKey(rel) && !matchKey(required, 'guest', rel);
  const horizon = v.events.find((e) => e.ev === 'scenario.end')?.t ?? v.end;
  const homeAt = (guest: string, t: number) => {
    const d = v.guests.get(guest)?.domids.filter((x) => x.from <= t).pop();
    return d ? `/local/domain/${d.domid}` : undefined;
  };
  const reported = (replay: XsReplay, home: string) => {
    const out = new Map<string, string>();
    for (const rel of replay.below(home)) {
      const value = replay.get(`${home}/${rel}`);
      if (value && judged(rel)) out.set(rel, value);
    }
    return out;
  };

  const replay = new XsReplay();
  const stopped = new Map<string, Map<string, string>>();
  const moves: Move[] = [];
  const pending: Move[] = [];
  let passed = 0;
  const judge = (m: Move) => {
    const home = homeAt(m.guest, m.judgeAt);
    if (!home) return;
    const now = reported(replay, home);
    const missing = [...m.before.keys()].filter((k) => !now.has(k)).sort();
    if (missing.length === 0) {
      passed++;
      return;
    }
    f.fail(`${m.guest}: ${missing.length} of the ${m.before.size} keys it reported before were not reported again ${Math.round(m.judgeAt - m.at)} ms after it was ${m.why}: ${missing.slice(0, 12).join(', ')}${missing.length > 12 ? ', ...' : ''}`, {
      guest: m.guest, at: m.judgeAt, seq: m.seq, home, missing, expected: `every key reported before the ${m.why} guest stopped, again within ${limit} ms`,
      observed: Object.fromEntries(missing.map((k) => [k, `was ${JSON.stringify(m.before.get(k))}, now absent`])),
    });
  };
  for (const e of v.events) {
    // judge what is due before this event changes anything
    for (const m of pending.filter((x) => e.t > x.judgeAt)) {
      pending.splice(pending.indexOf(m), 1);
      judge(m);
    }
    if (e.ev === 'xs') replay.apply(e);
    else if (e.ev === 'guest') {
      const g = e as GuestEvent;
      if (BEFORE.has(g.what)) {
        // the guest is stopped: what it reported until now is what it must report again; a move still
        // being waited for is judged now (whatever happens from here belongs to the next one)
        for (const m of pending.filter((x) => x.guest === g.guest)) {
          pending.splice(pending.indexOf(m), 1);
          m.judgeAt = g.t;
          judge(m);
        }
        const home = homeAt(g.guest, g.t);
        if (home && !stopped.has(g.guest)) stopped.set(g.guest, reported(replay, home));
      } else if (AFTER.has(g.what) && stopped.has(g.guest)) {
        const before = stopped.get(g.guest)!;
        stopped.delete(g.guest);
        if (before.size === 0) continue;
        const m: Move = { guest: g.guest, why: g.what, at: g.t, seq: g.seq, before, judgeAt: Math.min(g.t + limit, horizon) };
        moves.push(m);
        pending.push(m);
      }
    }
  }
  for (const m of pending) judge(m);
  if (moves.length === 0) return skip('guest-metrics', 'no guest that had reported guest-metrics keys was migrated, restored or resumed');
  return f.result(`every reported key back after ${passed} of ${moves.length} move${moves.length === 1 ? '' : 's'}`);
}
