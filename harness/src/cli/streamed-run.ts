// The end of `winpv run` without reading its trace back (issue 21 item 8).
import type { Reporter } from '../model/reporter';
import { PageDigest } from '../report/html-digest';
import { RunRecordDigest } from '../results/record';
import { TraceWriter } from '../trace/writer';

/** A run's trace, streamed to trace.jsonl (`keep: false`: nothing of it kept in memory), and what
 *  the end of the run needs of its events gathered as they are written (issue 21 item 8): report.html's
 *  data and, with a store, the run's record. Each instance's events are let go as the runner judges it
 *  (`judged`, a reporter), so neither reads the trace back. */
export interface StreamedRun {
  trace: TraceWriter;
  page: PageDigest;
  record?: RunRecordDigest;
  judged: Reporter;
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
  });
  const judged: Reporter = {
    onInstanceEnd(r) {
      page.instanceEnded(r);
      record?.instanceEnded(r);
    },
  };
  return { trace, page, ...(record ? { record } : {}), judged };
}
