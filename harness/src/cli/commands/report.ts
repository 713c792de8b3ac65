// winpv report merge: join shard runs into one report by replaying their traces through the same
// checks and reporters (a reporter cannot tell a merged run from a live one).
import { cpSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runSubcommand, parseCommandArgs, type Command, type CommandContext } from '../command';
import { resolveConfig } from '../config';
import { ExitCode, usageError } from '../../model/errors';
import type { InstanceResult } from '../../model/result';
import type { RunEndEvent, RunStartEvent, TraceEvent } from '../../model/trace';
import { readTraceFile } from '../../trace/reader';
import { evaluate, groupByInstance, summarize } from '../../checks/evaluate';
import { ReporterMultiplexer } from '../../report/multiplexer';
import { updateLatest, writeReports } from '../../report/files';
import { driverSpecs, exitForSummary, newRunDir, stdoutReporter } from '../run-support';

const help = `usage: winpv report merge <run dirs...> [--report-dir DIR] [--reporter console|tap|none]

Replays the traces of shard runs (winpv run --shard k/n) through the checks with the current specs
and writes one results.tap, junit.xml, summary.json and report.html to a new run directory
(<report-dir>/<run-id>-merged), pointing <report-dir>/latest at it.
`;

async function merge(ctx: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(ctx, { help }, { 'report-dir': { type: 'string' }, reporter: { type: 'string' }, config: { type: 'string' } }, { positionals: true });
  if (!parsed) return ExitCode.ok;
  const { values: v, positionals: dirs } = parsed;
  if (dirs.length === 0) throw usageError(`winpv report merge needs at least one run directory\n\n${help}`);
  const cfg = resolveConfig({ reportDir: v['report-dir'], config: v.config }, ctx.env);
  const { specs } = driverSpecs(ctx.cwd);
  const results: InstanceResult[] = [];
  const all: TraceEvent[] = [];
  const seen = new Set<string>();
  let first: RunStartEvent | undefined;
  let end: RunEndEvent | undefined;
  const seeds = new Set<number>();
  for (const d of dirs) {
    const trace = readTraceFile(join(d, 'trace.jsonl'));
    const g = groupByInstance(trace.events);
    first ??= g.runStart;
    if (g.runStart) seeds.add(g.runStart.seed);
    // an incomplete shard makes the merge incomplete, with its reason
    if (!end || end.complete) end = g.runEnd ?? { ev: 'run.end', seq: 0, t: 0, complete: false, error: { code: 'TRUNCATED', message: `${d}: trace truncated` } };
    for (const r of evaluate(trace.events, specs)) {
      if (seen.has(r.inst)) throw usageError(`instance ${r.inst} appears in more than one of the merged runs`);
      seen.add(r.inst);
      results.push(r);
    }
    all.push(...trace.events);
  }
  if (seeds.size > 1) ctx.err.write(`winpv report merge: the shards used different seeds (${[...seeds].join(', ')}); the summary shows the first\n`);
  const summary = summarize(results, first, end);
  const now = new Date();
  const { runId, dir } = newRunDir(cfg.reportDir, now, summary.seed, '-merged');
  const reporter = new ReporterMultiplexer(stdoutReporter(v.reporter, ctx, 'console'));
  await reporter.onRunStart({ seed: summary.seed, host: summary.host, instances: results.map((r) => r.inst) });
  for (const r of results) {
    await reporter.onInstanceStart(r.inst);
    await reporter.onInstanceEnd(r);
  }
  await reporter.onRunEnd(summary);
  // the files the shards' hosts collected come along, so the merged report's links hold
  // (instances are unique across shards, and so are their artifacts/<instance>/ folders)
  for (const d of dirs) if (existsSync(join(d, 'artifacts'))) cpSync(join(d, 'artifacts'), join(dir, 'artifacts'), { recursive: true, errorOnExist: true, force: false });
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
