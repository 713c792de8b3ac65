// The durations the simulator models (sim/timings.ts), measured in a real host's trace (the lab's,
// `winpv run --host lab`): what the xenstore probe saw (`xs`, t in ms since the run started), the
// steps (`step.start`) and the guests' lifecycle (`guest`). Each figure is the time between two
// events the probe saw in dom0, so it includes the probe's own delivery (a watch over SSH), never
// less than the real duration. `winpv sim lab-timings <trace.jsonl>` prints them; the committed
// output (test/fixtures/lab/timings.xen-*.linux-*.json) is the source of the simulator's defaults.
import type { TraceEvent } from '../../model/trace';
import { timingsName } from '../xl/backend-keys';

/** One measured duration: every sample (ms) and their median, min and max. */
export interface Figure {
  what: string;
  n: number;
  medianMs: number | null;
  minMs: number | null;
  maxMs: number | null;
  samplesMs: number[];
}

export interface LabTimings {
  bootToFrontend: Figure;
  backendReaction: Figure;
  hotUnplug: Figure;
  saveRestoreDowntime: Figure;
  migrationDowntime: Figure;
  /** Not measurable from a trace: the probe sees committed changes, not requests and replies. */
  xenstoreLatency: Figure;
}

const FE_STATE = /^\/local\/domain\/(\d+)\/device\/(vbd|vif)\/(\d+)\/state$/;
const BE_STATE = /^\/local\/domain\/0\/backend\/(vbd3?|qdisk|vif)\/(\d+)\/(\d+)\/state$/;

function figure(what: string, samples: number[]): Figure {
  const s = samples.map((x) => Math.round(x * 1000) / 1000).sort((a, b) => a - b);
  const median = s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { what, n: s.length, medianMs: median, minMs: s[0] ?? null, maxMs: s[s.length - 1] ?? null, samplesMs: s };
}

type Xs = Extract<TraceEvent, { ev: 'xs' }>;
const xsSeen = (events: readonly TraceEvent[]): Xs[] => events.filter((e): e is Xs => e.ev === 'xs' && !e.snapshot);
const instOf = (e: TraceEvent): string | undefined => (e as { inst?: string }).inst;

/** From a guest's boot (`started`, `rebooted`) to the first frontend state its drivers write (not the
 *  toolstack's Initialising). */
function bootToFrontend(events: readonly TraceEvent[]): number[] {
  const xs = xsSeen(events);
  const out: number[] = [];
  for (const g of events) {
    if (g.ev !== 'guest' || (g.what !== 'started' && g.what !== 'rebooted')) continue;
    const first = xs.find((e) => e.t >= g.t && instOf(e) === instOf(g) && e.value !== null && e.value !== '1' && FE_STATE.exec(e.path)?.[1] === String(g.domid));
    if (first) out.push(first.t - g.t);
  }
  return out;
}

/** From a frontend's state change to its backend's next state change, when the backend moves before
 *  the frontend moves again. */
function backendReaction(events: readonly TraceEvent[]): number[] {
  const xs = xsSeen(events);
  const out: number[] = [];
  xs.forEach((e, i) => {
    const fe = FE_STATE.exec(e.path);
    if (!fe || e.value === null || e.value === '1') return;
    const [, domid, type, id] = fe;
    for (const n of xs.slice(i + 1)) {
      if (instOf(n) !== instOf(e)) break;
      if (n.path === e.path) break;
      const be = BE_STATE.exec(n.path);
      if (be && be[2] === domid && be[3] === id && (be[1] === type || type === 'vbd') && n.value !== null) {
        out.push(n.t - e.t);
        break;
      }
    }
  });
  return out;
}

/** From an `unplug` step's start to both of the device's directories gone. */
function hotUnplug(events: readonly TraceEvent[]): number[] {
  const out: number[] = [];
  events.forEach((s, i) => {
    if (s.ev !== 'step.start' || s.kind !== 'hotplug') return;
    const m = /^unplug (vbd|vif)\/(\d+)/.exec(s.label ?? '');
    if (!m) return;
    const [, type, id] = m;
    let fe: number | undefined;
    let be: number | undefined;
    for (const e of events.slice(i + 1)) {
      if (instOf(e) !== instOf(s) || e.ev !== 'xs' || e.value !== null) continue;
      if (new RegExp(`^/local/domain/\\d+/device/${type}/${id}$`).test(e.path)) fe ??= e.t;
      if (new RegExp(`^/local/domain/0/backend/${type === 'vbd' ? '(vbd3?|qdisk)' : type}/\\d+/${id}$`).test(e.path)) be ??= e.t;
      if (fe !== undefined && be !== undefined) break;
    }
    if (fe !== undefined && be !== undefined) out.push(Math.max(fe, be) - s.t);
  });
  return out;
}

/** From a guest event to the next one of another kind for the same guest (saved -> restored). */
function between(events: readonly TraceEvent[], from: string, to: string): number[] {
  const out: number[] = [];
  events.forEach((a, i) => {
    if (a.ev !== 'guest' || a.what !== from) return;
    const b = events.slice(i + 1).find((e) => e.ev === 'guest' && e.guest === a.guest && instOf(e) === instOf(a) && e.what === to);
    if (b) out.push(b.t - a.t);
  });
  return out;
}

/** A live migration's downtime: from the toolstack's suspend request to the old domain (the first
 *  change of its control/shutdown after `suspending`: libxl writes "suspend", the guest clears it and
 *  stops) to every backend of the new domain (`migrated` detail.domid) Connected. */
function migrationDowntime(events: readonly TraceEvent[]): number[] {
  const xs = xsSeen(events);
  const out: number[] = [];
  events.forEach((m, i) => {
    if (m.ev !== 'guest' || m.what !== 'migrated' || typeof m.detail?.from !== 'number') return;
    const { from, domid } = m.detail as { from: number; domid: number };
    const began = events.slice(0, i).reverse().find((e) => e.ev === 'guest' && e.guest === m.guest && instOf(e) === instOf(m) && e.what === 'suspending');
    if (!began) return;
    const request = xs.find((e) => e.t >= began.t && instOf(e) === instOf(m) && e.path === `/local/domain/${from}/control/shutdown`);
    if (!request) return;
    const connected = new Map<string, number>();
    for (const e of xs) {
      const be = BE_STATE.exec(e.path);
      if (!be || be[2] !== String(domid) || instOf(e) !== instOf(m)) continue;
      const dir = e.path.slice(0, -'/state'.length);
      if (!connected.has(dir)) connected.set(dir, NaN);
      if (e.value === '4' && e.t >= request.t && Number.isNaN(connected.get(dir))) connected.set(dir, e.t);
    }
    const times = [...connected.values()];
    if (times.length && times.every((x) => !Number.isNaN(x))) out.push(Math.max(...times) - request.t);
  });
  return out;
}

/** The modelled durations as a real host's trace shows them. */
export function labTimings(events: readonly TraceEvent[]): LabTimings {
  return {
    bootToFrontend: figure('guest started/rebooted -> first frontend state its drivers write', bootToFrontend(events)),
    backendReaction: figure("a frontend's state change -> its backend's next state change", backendReaction(events)),
    hotUnplug: figure('unplug step start -> frontend and backend directories both removed', hotUnplug(events)),
    saveRestoreDowntime: figure('guest saved -> restored', between(events, 'saved', 'restored')),
    migrationDowntime: figure("suspend request to the old domain -> every backend of the new domain Connected", migrationDowntime(events)),
    xenstoreLatency: figure('not measurable from a trace (the probe sees committed changes, not requests)', []),
  };
}

/** The figures in the order they are printed. */
const FIGURE_NAMES = ['bootToFrontend', 'backendReaction', 'hotUnplug', 'saveRestoreDowntime', 'migrationDowntime', 'xenstoreLatency'] as const;

/** A committed timings fixture beside what the lab measures now (`winpv sim lab-timings --compare`). */
export interface TimingsComparison {
  /** The committed file's name, which names the Xen and kernel it came from. */
  fixture: string;
  /** The lab's versions now, and the name a fixture of them has. */
  lab: { xen: string; kernel: string; name: string };
  /** The versions the fixture's name gives (null: not named timings.xen-<xen>.linux-<kernel>.json). */
  named: { xen: string; kernel: string } | null;
  /** Whether the fixture is the lab's: a mismatch fails the lab step (the simulator's defaults would
   *  come from another Xen or kernel than the one CI runs). */
  versionsMatch: boolean;
  /** Each figure's median and sample count, committed and now; a difference is information only. */
  figures: { name: (typeof FIGURE_NAMES)[number]; committed: { medianMs: number | null; n: number }; now: { medianMs: number | null; n: number }; deltaMs: number | null }[];
}

export function compareLabTimings(fixture: string, committed: Partial<LabTimings>, now: LabTimings, lab: { xen: string; kernel: string }): TimingsComparison {
  const name = timingsName(lab.xen, lab.kernel);
  return {
    fixture,
    lab: { ...lab, name },
    named: fixtureVersions(fixture),
    versionsMatch: fixture === name,
    figures: FIGURE_NAMES.map((f) => {
      const old = { medianMs: committed[f]?.medianMs ?? null, n: committed[f]?.n ?? 0 };
      const cur = { medianMs: now[f].medianMs, n: now[f].n };
      const deltaMs = old.medianMs === null || cur.medianMs === null ? null : Math.round((cur.medianMs - old.medianMs) * 1000) / 1000;
      return { name: f, committed: old, now: cur, deltaMs };
    }),
  };
}

/** The Xen and kernel a timings fixture's name gives (timingsName's form), or null. */
function fixtureVersions(fixture: string): { xen: string; kernel: string } | null {
  const m = /^timings\.xen-(.+?)\.linux-(.+)\.json$/.exec(fixture);
  return m ? { xen: m[1]!, kernel: m[2]! } : null;
}

/** The comparison as text: the versions first (a mismatch says what to commit), then each figure. */
export function comparisonLines(c: TimingsComparison): string[] {
  const ms = (x: { medianMs: number | null; n: number }) => `${x.medianMs === null ? '-' : `${x.medianMs} ms`} (n ${x.n})`;
  const width = Math.max(...c.figures.map((f) => f.name.length));
  return [
    `lab timings (Xen ${c.lab.xen}, Linux ${c.lab.kernel}) vs ${c.fixture}`,
    c.versionsMatch
      ? '  versions: the lab\'s Xen and kernel are the fixture\'s'
      : `  versions: MISMATCH: the lab runs Xen ${c.lab.xen} / Linux ${c.lab.kernel}, the fixture is ${c.named ? `for Xen ${c.named.xen} / Linux ${c.named.kernel}` : 'not named with its versions'}; commit the refreshed timings as ${c.lab.name} (and sim/timings.ts LAB_FIGURES_MS from it)`,
    ...c.figures.map((f) => `  ${f.name.padEnd(width)}  median ${ms(f.committed)} -> ${ms(f.now)}${f.deltaMs === null ? '' : `: ${f.deltaMs >= 0 ? '+' : ''}${f.deltaMs} ms`}`),
    '  (timing differences are information only: performance is not asserted)',
  ];
}
