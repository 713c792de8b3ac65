// A simulator worker process shapes the run's digests' pieces for its own sections (sectionPieces),
// and the run's digests take them in place of the events (TraceWriter.appendWritten -> onWritten):
// the page and the store's record are then what the events themselves give, for passing, failing
// and skipped instances, while passing rings wait for their share and once it is settled.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TraceEvent } from '../../src/model/trace';
import { buildPageData } from '../../src/report/html-digest';
import { recordFromRun } from '../../src/results/record';
import { sectionPieces, streamedRun } from '../../src/cli/streamed-run';
import { syntheticRun, type SyntheticRun } from '../../src/bench/report-run';
import { sameLarge } from '../support/same-large';

const meta = { runId: 'r1', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:30.000Z', command: 'run' };

/** The run's sections: each instance's events, between run.start and run.end. */
function sections(run: SyntheticRun): { inst: string; events: TraceEvent[] }[] {
  const out: { inst: string; events: TraceEvent[] }[] = [];
  for (const e of run.events.slice(1, -1)) {
    const inst = (e as { inst: string }).inst;
    if (out.at(-1)?.inst !== inst) out.push({ inst, events: [] });
    out.at(-1)!.events.push(e);
  }
  return out;
}

/** `winpv run` on worker processes: run.start and run.end from the parent, every section written elsewhere. */
function streamedFromPieces(run: SyntheticRun, dir: string) {
  const s = streamedRun(join(dir, 'trace.jsonl'), true);
  const results = new Map(run.summary.instances.map((r) => [r.inst, r]));
  s.trace.adopt({ ...run.events[0]! }, 0);
  for (const sec of sections(run)) {
    const r = results.get(sec.inst)!;
    const lines = sec.events.map((e) => JSON.stringify(e)).join('\n') + '\n';
    s.trace.appendWritten({ lines, count: sec.events.length, lastT: sec.events.at(-1)!.t, pieces: sectionPieces(s.digests, sec.events, r) });
    s.judged.onInstanceEnd!(r);
  }
  s.trace.close({ complete: true });
  return s;
}

for (const [n, samples, what] of [[300, 700, 'passing rings held until the run ends'], [3000, 150, 'passing rings thinned as they come']] as const) {
  t.test(`sections shaped in worker processes give the page and the record of the events (${what})`, async (t) => {
    const run = syntheticRun(n, samples);
    const dir = mkdtempSync(join(tmpdir(), 'winpv-pieces-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const s = streamedFromPieces(run, dir);
    sameLarge(t, s.page.page(run.summary, meta), buildPageData(run.summary, run.events, meta), 'the page');
    const summary = { schema: 'winpv-summary/1', ...meta, ...run.summary };
    sameLarge(t, s.record!.record(summary, 'r1', 'v'), recordFromRun(summary, run.events, 'r1', 'v'), 'the record');
    const written = readFileSync(join(dir, 'trace.jsonl'), 'utf8').split('\n').slice(1, -2);
    sameLarge(t, written, run.events.slice(1, -1).map((e) => JSON.stringify(e)), 'the trace: the sections\' lines as written, unparsed');
  });
}

t.test('a gap between sections is seen by the page as in the events', async (t) => {
  const run = syntheticRun(6, 10);
  const dir = mkdtempSync(join(tmpdir(), 'winpv-pieces-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // one section lost on the way: the page says which seqs are missing
  const lost = sections(run)[2]!;
  const kept = { ...run, events: run.events.filter((e) => !lost.events.includes(e)) };
  const s = streamedRun(join(dir, 'trace.jsonl'), false);
  s.trace.adopt({ ...kept.events[0]! }, 0);
  for (const sec of sections(kept)) {
    const r = kept.summary.instances.find((x) => x.inst === sec.inst)!;
    s.page.addPiece(sectionPieces(['page'], sec.events, r).page as never);
    s.judged.onInstanceEnd!(r);
  }
  s.page.add(kept.events.at(-1)!);
  const page = s.page.page(kept.summary, meta);
  t.same(page.missing, buildPageData(kept.summary, kept.events, meta).missing);
  t.match(page.missing.join(' '), new RegExp(`${lost.events[0]!.seq}-${lost.events.at(-1)!.seq}`));
});
