// What every check needs to know about one scenario instance, derived once from its trace events:
// which domid was which guest and when, where guests crashed or were not running, and how each
// xenstore path maps to a device end or a guest key. Pure: events in, plain data out.
import type { Capability } from '../model/catalog';
import type { GuestEvent, RunStartEvent, ScenarioStartEvent, TraceEvent, XenstoreEvent } from '../model/trace';

export type Side = 'frontend' | 'backend';

/** A xenstore path understood as a device key or a guest key. */
export type XsPlace =
  | { kind: 'device'; side: Side; domid: number; type: string; devid: number; dir: string; key: string; backend?: string }
  | { kind: 'guest'; domid: number; home: string; key: string };

/**
 * Backend directories named after the backend that serves the device, not the device type the
 * frontend sees: XenServer 7+ / XCP-ng 8 serve disks with tapdisk3 under `backend/vbd3` and QEMU's
 * qdisk under `backend/qdisk` (xenopsd's supported_vbd_backends in xen-api's ocaml/xenopsd/xc/device.ml:
 * vbd, vbd3, qdisk; sm's attach answers backend_type "vbd3"); both serve a guest `device/vbd`.
 */
const BACKEND_SERVES: Readonly<Record<string, string>> = { vbd3: 'vbd', qdisk: 'vbd' };

const FRONT = /^\/local\/domain\/(\d+)\/device\/([a-z0-9]+)\/(\d+)(?:\/(.*))?$/;
const BACK = /^\/local\/domain\/(\d+)\/backend\/([a-z0-9]+)\/(\d+)\/(\d+)(?:\/(.*))?$/;
const HOME = /^\/local\/domain\/(\d+)\/(.+)$/;

export function placeOf(path: string): XsPlace | undefined {
  let m = FRONT.exec(path);
  if (m) {
    const dir = `/local/domain/${m[1]}/device/${m[2]}/${m[3]}`;
    return { kind: 'device', side: 'frontend', domid: Number(m[1]), type: m[2], devid: Number(m[3]), dir, key: m[4] ?? '' };
  }
  m = BACK.exec(path);
  if (m) {
    const dir = `/local/domain/${m[1]}/backend/${m[2]}/${m[3]}/${m[4]}`;
    // type: the device type the frontend sees (a vbd3 backend serves a vbd); backend: the directory's own name
    return { kind: 'device', side: 'backend', domid: Number(m[3]), type: BACKEND_SERVES[m[2]] ?? m[2], devid: Number(m[4]), dir, key: m[5] ?? '', backend: m[2] };
  }
  m = HOME.exec(path);
  if (m && !m[2].startsWith('device/') && m[2] !== 'device' && !m[2].startsWith('backend')) {
    return { kind: 'guest', domid: Number(m[1]), home: `/local/domain/${m[1]}`, key: m[2] };
  }
  return undefined;
}

/** `vbd/51712` for reports. */
export const devName = (type: string, devid: number) => `${type}/${devid}`;

export interface GuestTimeline {
  name: string;
  /** Every domid the guest had, with the time it got it. */
  domids: { domid: number; from: number }[];
  crashedAt?: number;
  crashedSeq?: number;
  /** Windows in which the guest was deliberately not running (suspended, saved, paused, migrating). */
  notRunning: { from: number; to: number }[];
}

export interface InstanceView {
  inst: string;
  runStart?: RunStartEvent;
  start?: ScenarioStartEvent;
  events: TraceEvent[];
  /** Time of the instance's last event. */
  end: number;
  capabilities: Set<Capability>;
  guests: Map<string, GuestTimeline>;
  /** domid -> guest name (domids are not reused within an instance). */
  guestOfDomid: Map<number, string>;
  xs: XenstoreEvent[];
}

// a bugchecked guest runs only its crash-dump path until it restarts
const NOT_RUNNING_START = new Set(['suspending', 'suspended', 'saved', 'paused', 'bugcheck']);
const NOT_RUNNING_END = new Set(['resumed', 'restored', 'unpaused', 'migrated', 'started', 'rebooted']);

/** Numeric detail fields under which hosts report a guest's new domid. */
function newDomid(e: GuestEvent): number | undefined {
  for (const k of ['newDomid', 'domid', 'toDomid']) {
    const v = e.detail?.[k];
    if (typeof v === 'number') return v;
  }
  return undefined;
}

export function buildView(inst: string, events: TraceEvent[], runStart?: RunStartEvent): InstanceView {
  const view: InstanceView = {
    inst,
    runStart,
    events,
    end: events.length ? events[events.length - 1].t : 0,
    capabilities: new Set(runStart?.host.capabilities ?? []),
    guests: new Map(),
    guestOfDomid: new Map(),
    xs: [],
  };
  const guest = (name: string) => {
    let g = view.guests.get(name);
    if (!g) view.guests.set(name, (g = { name, domids: [], notRunning: [] }));
    return g;
  };
  const addDomid = (name: string, domid: number, t: number) => {
    const g = guest(name);
    if (!g.domids.some((d) => d.domid === domid)) g.domids.push({ domid, from: t });
    view.guestOfDomid.set(domid, name);
  };
  const open = new Map<string, number>();
  for (const e of events) {
    if (e.ev === 'scenario.start') view.start = e;
    else if (e.ev === 'guest') {
      addDomid(e.guest, e.domid, e.t);
      const nd = newDomid(e);
      if (nd !== undefined) addDomid(e.guest, nd, e.t);
      // a guest whose xenstore connection is gone is as good as crashed for every other check
      if ((e.what === 'crashed' || e.what === 'halted-unexpectedly' || e.what === 'xenstore-lost') && guest(e.guest).crashedSeq === undefined) {
        guest(e.guest).crashedAt = e.t;
        guest(e.guest).crashedSeq = e.seq;
      }
      if (NOT_RUNNING_START.has(e.what) && !open.has(e.guest)) open.set(e.guest, e.t);
      if (NOT_RUNNING_END.has(e.what) && open.has(e.guest)) {
        guest(e.guest).notRunning.push({ from: open.get(e.guest)!, to: e.t });
        open.delete(e.guest);
      }
    } else if (e.ev === 'xs') {
      view.xs.push(e);
      const p = placeOf(e.path);
      if (e.guest && p) addDomid(e.guest, p.domid, e.t);
    }
  }
  for (const [name, from] of open) guest(name).notRunning.push({ from, to: Infinity });
  return withoutOtherInstances(view);
}

/**
 * A step that gives a guest a new domain (a reboot on xl or XenAPI, a migration, a restore) has the
 * xenstore probe watch every domain of the host until the runner learns the new domid
 * (XenstoreProbe.watchNewDomains): those keys carry no guest name until then. On a host that runs
 * several instances at once, the other instances' domains are recorded that way too. A domid that
 * none of this instance's guests ever had (no guest event and no named key gave it) is another
 * instance's: its keys are dropped from the view, as they are not this instance's to judge.
 */
function withoutOtherInstances(view: InstanceView): InstanceView {
  const foreign = (e: XenstoreEvent) => {
    if (e.guest) return false;
    const p = placeOf(e.path);
    return p !== undefined && !view.guestOfDomid.has(p.domid);
  };
  if (!view.xs.some(foreign)) return view;
  return { ...view, events: view.events.filter((e) => e.ev !== 'xs' || !foreign(e)), xs: view.xs.filter((e) => !foreign(e)) };
}

/** The guest a domid belongs to, or `dom<N>` when the trace never named it. */
export const guestName = (v: InstanceView, domid: number) => v.guestOfDomid.get(domid) ?? `dom${domid}`;

/** True when observations of this guest at time t must not be judged by other checks: the guest
 *  crashed before (that is guest-alive's verdict alone). */
export function afterCrash(v: InstanceView, guest: string, at: { seq: number } | number): boolean {
  const g = v.guests.get(guest);
  if (g?.crashedSeq === undefined) return false;
  return typeof at === 'number' ? at >= g.crashedAt! : at.seq > g.crashedSeq;
}

export function notRunningAt(v: InstanceView, guest: string, from: number, to: number): boolean {
  const g = v.guests.get(guest);
  return !!g && g.notRunning.some((w) => w.from < to && from < w.to);
}

/** Thresholds: the scenario's value when it set one, else the default. */
export function numParam(params: Record<string, string>, name: string, dflt: number): number;
export function numParam(params: Record<string, string>, name: string): number | undefined;
export function numParam(params: Record<string, string>, name: string, dflt?: number): number | undefined {
  const v = params[name];
  if (v === undefined || v.trim() === '' || !Number.isFinite(Number(v))) return dflt;
  return Number(v);
}

/** A replaying xenstore: apply xs events in order and ask what a path held at that moment. */
export class XsReplay {
  private readonly values = new Map<string, string>();
  apply(e: XenstoreEvent): void {
    if (e.value === null) {
      // a removed node takes its subtree with it
      for (const k of [...this.values.keys()]) if (k === e.path || k.startsWith(e.path + '/')) this.values.delete(k);
    } else this.values.set(e.path, e.value);
  }
  get(path: string): string | undefined {
    return this.values.get(path);
  }
  /** Paths directly or indirectly below dir, relative to it. */
  below(dir: string): string[] {
    const pre = dir + '/';
    const out: string[] = [];
    for (const k of this.values.keys()) if (k.startsWith(pre)) out.push(k.slice(pre.length));
    return out;
  }
}
