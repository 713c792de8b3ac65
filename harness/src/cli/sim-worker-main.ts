// A simulator worker process (forked by cli/sim-workers.ts): runs the instances it is sent, each on
// a fresh simulated host, keeping each instance's events until the parent says where the run's trace
// stands; then lays the section out there, judges it, shapes the run's digests' pieces and sends it
// back as trace lines (each event turned into JSON once, here).
import { createHost } from '../hosts/factory';
import { HostWorker } from '../runner/pool';
import { errorInfo } from '../runner/errors';
import { judgeSection, layOut, stampAtEnd, type TraceEnd } from '../runner/section';
import { applyKnownIssues, foldRetries } from '../model/outcomes';
import type { ResolvedHost } from '../model/config';
import type { PlanInstance } from '../model/plan';
import type { Baseline, BaselineSource } from '../model/results';
import type { RunStartEvent, TraceEvent } from '../model/trace';
import { sectionPieces } from './streamed-run';
import type { FromChild, PlaceRequest, SimWorkerInit, ToChild } from './sim-workers';
import { setSimV8Flags } from '../hosts/sim/v8-flags';

setSimV8Flags();

const SIM: ResolvedHost = { name: 'sim', kind: 'sim', label: 'sim', insecure: false, capacity: 1, labels: [], entry: { url: 'sim' } };

let init: SimWorkerInit | undefined;
let worker: HostWorker | undefined;
let start: RunStartEvent | undefined;
let abort = new AbortController();
/** Ended instances' sections, waiting for their place in the run's trace. */
const held = new Map<string, { inst: PlanInstance; attempts: string[]; events: TraceEvent[] }>();
/** Questions to the parent's results store, by id. */
const asked = new Map<number, (r: { baselines?: Baseline[]; error?: string }) => void>();
let nextAsk = 0;
const send = (m: FromChild) => process.send?.(m);

function setup(o: SimWorkerInit): HostWorker {
  init = o;
  return new HostWorker({
    label: 'sim', slots: 1, fresh: true, seed: o.seed, specs: o.specs, runStart: o.runStart, retries: o.retries, teardownMs: o.teardownMs,
    ...(o.artifactsDir !== undefined ? { artifactsDir: o.artifactsDir } : {}),
    make: () => createHost(SIM, { specs: o.specs, ...(o.simBuilds ? { simBuilds: o.simBuilds } : {}) }),
  });
}

function run(inst: PlanInstance): void {
  abort = new AbortController();
  const events: TraceEvent[] = [];
  worker!.run(inst, abort.signal, (s) => send({ t: 'status', s }), (e) => void events.push(e)).then(
    (r) => {
      held.set(inst.id, { inst, attempts: r.attempts, events });
      send({ t: 'done', attempts: r.attempts, outcome: r.outcome });
    },
    (e) => {
      const { code, message } = errorInfo(e);
      send({ t: 'failed', code, message });
    },
  );
}

/** The results store's history, asked of the parent (the regression check's baselines). */
const baselines: BaselineSource = (q) =>
  new Promise((done, fail) => {
    const id = nextAsk++;
    asked.set(id, (r) => (r.baselines ? done(r.baselines) : fail(new Error(r.error ?? 'no answer'))));
    send({ t: 'baselines', id, q });
  });

/** A held section laid out where the run's trace stands, judged, shaped for the digests and sent as lines. */
async function place(p: PlaceRequest): Promise<void> {
  start = p.start ?? start;
  const h = held.get(p.inst);
  held.delete(p.inst);
  if (!h || !start || !init) throw new Error(`no section of ${p.inst} is held here`);
  const { events } = h;
  const end: TraceEnd = { seq: p.seq, lastT: p.lastT };
  layOut(events, end);
  const attempts = await judgeSection(h.inst, h.attempts, events, {
    specs: init.specs, start, ...(p.baselines ? { baselines } : {}),
    append: (x) => void events.push(stampAtEnd(x, end)),
  });
  const r = applyKnownIssues(foldRetries(attempts), start.knownIssues ?? []).results[0]!;
  const lines = events.length ? events.map((e) => JSON.stringify(e)).join('\n') + '\n' : '';
  send({ t: 'placed', inst: p.inst, placed: { written: { lines, count: events.length, lastT: end.lastT, pieces: sectionPieces(init.digests, events, r) }, attempts } });
}

process.on('message', (m: ToChild) => {
  if (m.t === 'init') worker = setup(m.init);
  else if (m.t === 'abort') abort.abort();
  else if (m.t === 'close') process.disconnect();
  else if (m.t === 'run') run(m.inst);
  else if (m.t === 'baselines') {
    asked.get(m.id)?.(m);
    asked.delete(m.id);
  } else if (m.t === 'place') {
    place(m.place).catch((e) => {
      const { code, message } = errorInfo(e);
      send({ t: 'place-failed', inst: m.place.inst, code, message });
    });
  }
});
// the parent going away (a killed run) ends the worker
process.on('disconnect', () => process.exit(0));
