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
import { requiredGuestKeys } from './guest-keys';
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
  const j = new MovesJudge(v, numParam(params, 'limitMs', 10000), specs);
  for (const e of v.events) {
    j.judgeDue(e.t); // judge what is due before this event changes anything
    if (e.ev === 'xs') j.replay.apply(e);
    else if (e.ev === 'guest') {
      const g = e as GuestEvent;
      if (BEFORE.has(g.what)) j.stopped(g);
      else if (AFTER.has(g.what)) j.moved(g);
    }
  }
  for (const m of j.pending) j.judge(m);
  if (j.moves.length === 0) return skip('guest-metrics', 'no guest that had reported guest-metrics keys was migrated, restored or resumed');
  return j.f.result(`every reported key back after ${j.passed} of ${j.moves.length} move${j.moves.length === 1 ? '' : 's'}`);
}

/** The trace replayed in order: what each guest reported when it stopped, each move judged when due. */
class MovesJudge {
  readonly f = new Findings('guest-metrics');
  readonly replay = new XsReplay();
  /** What each stopped guest had reported, until it runs again. */
  private readonly reportedAtStop = new Map<string, Map<string, string>>();
  readonly moves: Move[] = [];
  /** Moves waiting for their judgement time. */
  readonly pending: Move[] = [];
  passed = 0;
  /** Keys a driver spec requires: guest-keys judges them. */
  private readonly required: KeySpec[];
  private readonly horizon: number;

  constructor(private readonly v: InstanceView, private readonly limit: number, specs: SpecSet) {
    this.required = requiredGuestKeys(v, specs);
    this.horizon = v.events.find((e) => e.ev === 'scenario.end')?.t ?? v.end;
  }

  private homeAt(guest: string, t: number): string | undefined {
    const d = this.v.guests.get(guest)?.domids.filter((x) => x.from <= t).pop();
    return d ? `/local/domain/${d.domid}` : undefined;
  }

  /** The guest-metrics keys under `home` now, with their values. */
  private reported(home: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const rel of this.replay.below(home)) {
      const value = this.replay.get(`${home}/${rel}`);
      if (value && isGuestMetricsKey(rel) && !matchKey(this.required, 'guest', rel)) out.set(rel, value);
    }
    return out;
  }

  judgeDue(t: number): void {
    for (const m of this.pending.filter((x) => t > x.judgeAt)) {
      this.pending.splice(this.pending.indexOf(m), 1);
      this.judge(m);
    }
  }

  /** The guest is stopped: what it reported until now is what it must report again; a move still
   *  being waited for is judged now (whatever happens from here belongs to the next one). */
  stopped(g: GuestEvent): void {
    for (const m of this.pending.filter((x) => x.guest === g.guest)) {
      this.pending.splice(this.pending.indexOf(m), 1);
      m.judgeAt = g.t;
      this.judge(m);
    }
    const home = this.homeAt(g.guest, g.t);
    if (home && !this.reportedAtStop.has(g.guest)) this.reportedAtStop.set(g.guest, this.reported(home));
  }

  /** The guest runs again (moved, restored or resumed): judged `limit` ms later (or at the end). */
  moved(g: GuestEvent): void {
    const before = this.reportedAtStop.get(g.guest);
    if (!before) return;
    this.reportedAtStop.delete(g.guest);
    if (before.size === 0) return;
    const m: Move = { guest: g.guest, why: g.what, at: g.t, seq: g.seq, before, judgeAt: Math.min(g.t + this.limit, this.horizon) };
    this.moves.push(m);
    this.pending.push(m);
  }

  judge(m: Move): void {
    const home = this.homeAt(m.guest, m.judgeAt);
    if (!home) return;
    const now = this.reported(home);
    const missing = [...m.before.keys()].filter((k) => !now.has(k)).sort();
    if (missing.length === 0) {
      this.passed++;
      return;
    }
    this.f.fail(`${m.guest}: ${missing.length} of the ${m.before.size} keys it reported before were not reported again ${Math.round(m.judgeAt - m.at)} ms after it was ${m.why}: ${missing.slice(0, 12).join(', ')}${missing.length > 12 ? ', ...' : ''}`, {
      guest: m.guest, at: m.judgeAt, seq: m.seq, home, missing, expected: `every key reported before the ${m.why} guest stopped, again within ${this.limit} ms`,
      observed: Object.fromEntries(missing.map((k) => [k, `was ${JSON.stringify(m.before.get(k))}, now absent`])),
    });
  }
}
