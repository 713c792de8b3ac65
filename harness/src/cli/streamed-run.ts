// The end of `winpv run` without reading its trace back (issue 21 item 8).
import type { Reporter } from '../model/reporter';
import type { SectionDigestName, TraceEvent } from '../model/trace';
import type { InstanceResult } from '../model/result';
import { PageDigest, type PagePiece } from '../report/html-digest';
import { RunRecordDigest, type RecordPiece } from '../results/record';
import { TraceWriter } from '../trace/writer';

/** A run's trace, streamed to trace.jsonl (`keep: false`: nothing of it kept in memory), and what
 *  the end of the run needs of its events gathered as they are written (issue 21 item 8): report.html's
 *  data and, with a store, the run's record. Each instance's events are let go as the runner judges it
 *  (`judged`, a reporter), so neither reads the trace back. A section a worker process wrote comes
 *  with the digests' pieces (`digests` names the ones to shape there) instead of its events. */
export interface StreamedRun {
  trace: TraceWriter;
  page: PageDigest;
  record?: RunRecordDigest;
  judged: Reporter;
  digests: SectionDigestName[];
}

export function streamedRun(file: string, withStore: boolean): StreamedRun {
  const page = new PageDigest();
  const record = withStore ? new RunRecordDigest() : undefined;
  const trace = new TraceWriter({
    file, keep: false,
    onEvent: (e) => {
      page.add(e);
      record?.add(e);
    },
    onWritten: (w) => {
      page.addPiece(w.pieces.page as PagePiece);
      if (record) record.addPiece(w.pieces.record as RecordPiece);
    },
  });
  const judged: Reporter = {
    onInstanceEnd(r) {
      page.instanceEnded(r);
      record?.instanceEnded(r);
    },
  };
  return { trace, page, ...(record ? { record } : {}), judged, digests: record ? ['page', 'record'] : ['page'] };
}

/** The pieces of one section for the digests named (a worker process's side of streamedRun): each
 *  digest of its own fed the section's events, then asked for the instance `r` they were judged as. */
export function sectionPieces(names: readonly SectionDigestName[], events: readonly TraceEvent[], r: InstanceResult): Partial<Record<SectionDigestName, unknown>> {
  const out: Partial<Record<SectionDigestName, unknown>> = {};
  if (names.includes('page')) {
    const page = new PageDigest();
    for (const e of events) page.add(e);
    out.page = page.piece(r);
  }
  if (names.includes('record')) {
    const record = new RunRecordDigest();
    for (const e of events) record.add(e);
    out.record = record.piece(r.inst);
  }
  return out;
}
