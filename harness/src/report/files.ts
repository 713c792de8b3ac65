// The report directory: results.tap, junit.xml, summary.json and report.html written atomically
// (beside trace.jsonl, which the trace writer appends as the run goes), and `latest` pointing at
// the newest run, replaced atomically (a new symlink renamed over the old one).
import { lstatSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write';
import type { RunSummary } from '../model/result';
import type { Reporter } from '../model/reporter';
import type { TraceEvent } from '../model/trace';
import type { ReportInput } from '../model/report-input';
import { renderTap } from './tap';
import { renderJunit } from './junit';
import { renderHtml, renderPage } from './html';
import { PageDigest } from './html-digest';
import type { RunMeta } from './run-meta';

export type { RunMeta } from './run-meta';

export function renderSummaryJson(s: RunSummary, meta: RunMeta): string {
  return JSON.stringify({ schema: 'winpv-summary/1', ...meta, ...s }, null, 2) + '\n';
}

/** Writes every report of a finished (or stopped) run into dir; `input` is what a results history adds (marks, trends). */
export function writeReports(dir: string, s: RunSummary, meta: RunMeta, events: readonly TraceEvent[], input: ReportInput = {}): void {
  writeRunFiles(dir, s, meta);
  writeFileAtomic(join(dir, 'report.html'), renderHtml(s, events, meta, input));
}

/** results.tap, junit.xml and summary.json. */
function writeRunFiles(dir: string, s: RunSummary, meta: RunMeta): void {
  writeFileAtomic(join(dir, 'results.tap'), renderTap(s));
  writeFileAtomic(join(dir, 'junit.xml'), renderJunit(s));
  writeFileAtomic(join(dir, 'summary.json'), renderSummaryJson(s, meta));
}

/** Points `<reportsRoot>/latest` at runDir (relative link), atomically. */
export function updateLatest(runDir: string): void {
  const root = dirname(runDir);
  const link = join(root, 'latest');
  const tmp = join(root, `.latest.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  symlinkSync(relative(root, runDir) || basename(runDir), tmp);
  try {
    const st = lstatSync(link, { throwIfNoEntry: false });
    if (st && !st.isSymbolicLink()) rmSync(link, { recursive: true, force: true });
  } catch {
    // nothing to replace
  }
  renameSync(tmp, link);
}

/** Where report.html's data comes from: the run's events in memory, or the digest `winpv run` fed
 *  as its trace streamed (html-digest.ts), which holds the page, not the trace. */
export type PageSource = (() => readonly TraceEvent[]) | PageDigest;

/** A reporter that writes the report files when the run ends. `input` is asked first, and answers
 *  while the other files are written, for what a results history adds to report.html (`winpv run`
 *  with a store, which records the run meanwhile in its store's thread). */
export class FileReporter implements Reporter {
  constructor(
    private readonly dir: string,
    private readonly meta: () => RunMeta,
    private readonly source: PageSource,
    private readonly input?: (s: RunSummary, meta: RunMeta) => Promise<ReportInput>,
  ) {}
  async onRunEnd(s: RunSummary): Promise<void> {
    const meta = this.meta();
    const asked = this.input?.(s, meta);
    asked?.catch(() => undefined); // awaited below, unless writing the other files failed first
    writeRunFiles(this.dir, s, meta);
    const input = asked ? await asked : {};
    const html = this.source instanceof PageDigest ? renderPage(this.source.page(s, meta, input)) : renderHtml(s, this.source(), meta, input);
    writeFileAtomic(join(this.dir, 'report.html'), html);
    updateLatest(this.dir);
  }
}
