// report.html's data gathered as a run streams (issue 21 item 8): fed event by event and told each
// instance as it is judged, the digest lets each instance's events go and gives the page the whole
// trace gives (buildPageData), both while passing instances' rings wait for their share of points
// and once that share is settled at the fewest points.
import t from 'tap';
import type { InstanceResult } from '../../src/model/result';
import type { TraceEvent } from '../../src/model/trace';
import { MIN_RING_POINTS } from '../../src/report/html-data';
import { buildPageData, PageDigest } from '../../src/report/html-digest';
import { syntheticRun, type SyntheticRun } from '../../src/bench/report-run';
import { sameLarge } from '../support/same-large';

const meta = { runId: 'r1', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:30.000Z', command: 'run' };

/** The digest as `winpv run` feeds it: each event as written, each instance's result once its section has ended. */
function streamed(run: SyntheticRun, late: (e: TraceEvent) => TraceEvent[] = () => []): PageDigest {
  const d = new PageDigest();
  const results = new Map<string, InstanceResult>(run.summary.instances.map((r) => [r.inst, r]));
  for (const e of run.events) {
    d.add(e);
    if (e.ev === 'scenario.end' || e.ev === 'scenario.skip') {
      d.instanceEnded(results.get(e.inst)!);
      for (const x of late(e)) d.add(x);
    }
  }
  return d;
}

t.test('passing instances\' rings held until the run ends: the page of the trace', async (t) => {
  const run = syntheticRun(600, 700);
  const page = streamed(run).page(run.summary, meta);
  sameLarge(t, page, buildPageData(run.summary, run.events, meta));
  t.ok(page.instances.some((r) => r.status === 'passed' && r.timeline!.rings[0]!.t.length > MIN_RING_POINTS), 'passing tracks got more than the fewest points');
});

t.test('so many passing tracks that each gets the fewest points: thinned as they come, the page of the trace', async (t) => {
  const run = syntheticRun(3000, 150);
  const page = streamed(run).page(run.summary, meta);
  sameLarge(t, page, buildPageData(run.summary, run.events, meta));
  t.ok(page.instances.filter((r) => r.status === 'passed').every((r) => r.timeline!.rings[0]!.t.length === MIN_RING_POINTS && r.timeline!.rings[0]!.samples === 150));
});

t.test('an event naming an instance after it was judged stays out of its timeline', async (t) => {
  const run = syntheticRun(5, 20);
  const lateEvent = (e: TraceEvent): TraceEvent[] => [{ seq: e.seq, t: e.t + 5000, ev: 'guest', inst: (e as { inst: string }).inst, guest: 'win', domid: 99, what: 'crashed' } as TraceEvent];
  const page = streamed(run, lateEvent).page(run.summary, meta);
  const plain = buildPageData(run.summary, run.events, meta);
  t.same(page.instances.map((r) => r.timeline), plain.instances.map((r) => r.timeline), 'no instance shows the late crash');
});
