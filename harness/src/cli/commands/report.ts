// winpv report merge: join shard runs into one report by replaying their traces through the same
// checks and reporters (a reporter cannot tell a merged run from a live one).
import { cpSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runSubcommand, parseCommandArgs, type Command, type CommandContext } from '../command';
import { resolveConfig } from '../config';
import { ExitCode, usageError } from '../../model/errors';
import { readTraceFile } from '../../trace/reader';
import { mergeTraces } from '../../trace/merge';
import { writeFileAtomic } from '../../util/atomic-write';
import { groupByInstance, judgeTrace } from '../../checks/evaluate';
import { ReporterMultiplexer } from '../../report/multiplexer';
import { updateLatest, writeReports } from '../../report/files';
import { driverSpecs, exitForSummary, newRunDir, replayResults, stdoutReporter } from '../run-support';

const help = `usage: winpv report merge <run dirs...> [--report-dir DIR] [--reporter console|tap|none]

Replays the traces of shard runs (winpv run --shard k/n) through the checks with the current specs
and writes one trace.jsonl (the shards' traces joined; \`winpv check\` re-judges it), results.tap,
junit.xml, summary.json and report.html to a new run directory
(<report-dir>/<run-id>-merged), pointing <report-dir>/latest at it.
`;

async function merge(ctx: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(ctx, { help }, { 'report-dir': { type: 'string' }, reporter: { type: 'string' }, config: { type: 'string' } }, { positionals: true });
  if (!parsed) return ExitCode.ok;
  const { values: v, positionals: dirs } = parsed;
  if (dirs.length === 0) throw usageError(`winpv report merge needs at least one run directory\n\n${help}`);
  const cfg = resolveConfig({ reportDir: v['report-dir'], config: v.config }, ctx.env);
  const { specs } = driverSpecs(ctx.cwd);
  const shards = dirs.map((d) => ({ label: relative(ctx.cwd, d) || d, events: readTraceFile(join(d, 'trace.jsonl')).events }));
  const seen = new Set<string>();
  const seeds = new Set<number>();
  for (const s of shards) {
    const g = groupByInstance(s.events);
    if (g.runStart) seeds.add(g.runStart.seed);
    for (const inst of g.order) {
      if (seen.has(inst)) throw usageError(`instance ${inst} appears in more than one of the merged runs`);
      seen.add(inst);
    }
  }
  // the merged run judges (and `winpv check` re-judges) one trace joining the shards'
  const all = mergeTraces(shards);
  if (seeds.size > 1) ctx.err.write(`winpv report merge: the shards used different seeds (${[...seeds].join(', ')}); the summary shows the first\n`);
  const summary = judgeTrace(all, specs);
  const now = new Date();
  const { runId, dir } = newRunDir(cfg.reportDir, now, summary.seed, '-merged');
  const reporter = new ReporterMultiplexer(stdoutReporter(v.reporter, ctx, 'console'));
  await replayResults(reporter, summary);
  // the files the shards' hosts collected come along, so the merged report's links hold
  // (instances are unique across shards, and so are their artifacts/<instance>/ folders)
  for (const d of dirs) if (existsSync(join(d, 'artifacts'))) cpSync(join(d, 'artifacts'), join(dir, 'artifacts'), { recursive: true, errorOnExist: true, force: false });
  writeFileAtomic(join(dir, 'trace.jsonl'), all.map((e) => JSON.stringify(e) + '\n').join(''));
  writeReports(dir, summary, { runId, startedAt: now.toISOString(), finishedAt: now.toISOString(), inputs: [], command: 'report merge', mergedFrom: dirs.map((d) => relative(ctx.cwd, d) || d) }, all);
  updateLatest(dir);
  (v.reporter === 'tap' ? ctx.err : ctx.out).write(`reports: ${relative(ctx.cwd, dir) || dir}\n`);
  return reporter.errors.length ? ExitCode.hostError : exitForSummary(summary);
}

const command: Command = {
  name: 'report',
  summary: 'merge shard reports',
  help: `usage: winpv report <subcommand>\n\nsubcommands:\n  merge <run dirs...>   join shard runs into one report by replaying their traces\n`,
  run(ctx) {
    return runSubcommand(ctx, this, { merge });
  },
};
export default command;
