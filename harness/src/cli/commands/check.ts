// winpv check: re-judge a recorded trace offline with the current driver specs, printing the same
// TAP the live run wrote (the same evaluation, so the same verdicts for the same specs).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command, CommandContext } from '../command';
import { parseCommandArgs } from '../command';
import { ExitCode, usageError } from '../../model/errors';
import { readTraceFile } from '../../trace/reader';
import { groupByInstance, judgeTrace } from '../../checks/evaluate';
import { ReporterMultiplexer } from '../../report/multiplexer';
import { changedSpecs, driverSpecs, exitForSummary, replayResults, stdoutReporter } from '../run-support';

const help = `usage: winpv check <trace.jsonl | run dir> [--reporter tap|console|none] [--specs DIR]

Re-evaluates every check of a recorded trace (reports/<run>/trace.jsonl) with the current driver
specs and prints TAP 14 (as results.tap of the run). A run directory, also one written by
winpv report merge, stands for its trace.jsonl. A trace cut short (no run.end) is judged as
far as it goes and ends with Bail out!.

options:
  --reporter R   tap (default), console or none
  --specs DIR    driver specs to judge with (default: drivers-spec/ of this checkout)

exit status: 0 all passed, 1 a check failed or the trace is incomplete, 2 bad input
`;

const command: Command = {
  name: 'check',
  summary: 're-evaluate the checks of a recorded trace offline',
  help,
  async run(ctx: CommandContext) {
    const parsed = parseCommandArgs(ctx, this, { reporter: { type: 'string' }, specs: { type: 'string' } }, { positionals: true });
    if (!parsed) return ExitCode.ok;
    const { values: v, positionals } = parsed;
    if (positionals.length !== 1) throw usageError(`winpv check takes one trace file\n\n${help}`);
    // a run directory (a live run's or a merged one's) stands for its trace.jsonl
    const file = existsSync(positionals[0]) && statSync(positionals[0]).isDirectory() ? join(positionals[0], 'trace.jsonl') : positionals[0];
    const trace = readTraceFile(file);
    const { specs, hashes } = v.specs ? driverSpecs(ctx.cwd, v.specs) : driverSpecs(ctx.cwd);
    const g = groupByInstance(trace.events);
    const changed = changedSpecs(g.runStart?.specs ?? {}, hashes);
    if (changed.length && Object.keys(g.runStart?.specs ?? {}).length) {
      ctx.err.write(`winpv check: judging with specs that changed since the run: ${changed.join(', ')}\n`);
    }
    const summary = judgeTrace(trace.events, specs);
    const reporter = new ReporterMultiplexer(stdoutReporter(v.reporter, ctx, 'tap'));
    await replayResults(reporter, summary);
    for (const e of reporter.errors) ctx.err.write(`winpv: reporter ${e.reporter}.${e.method} failed: ${e.error.message}\n`);
    return reporter.errors.length ? ExitCode.hostError : exitForSummary(summary);
  },
};
export default command;
