// winpv run: scenarios in, a run on a host, reports out (reports/<run-id>/, reports/latest).
import { join, relative } from 'node:path';
import type { Command, CommandContext } from '../command';
import { parseCommandArgs } from '../command';
import { packageRoot, resolveConfig } from '../config';
import { ExitCode, usageError } from '../../model/errors';
import { loadScenarios } from '../../scenario';
import { plan, parseShard } from '../../plan/planner';
import { createHost } from '../../hosts/factory';
import { TraceWriter } from '../../trace/writer';
import { runPlan } from '../../runner/run';
import { ReporterMultiplexer } from '../../report/multiplexer';
import { FileReporter, type RunMeta } from '../../report/files';
import { driverSpecs, exitForSummary, newRunDir, stdoutReporter } from '../run-support';
import { recordRunDir, runStoreTarget } from '../../results/record-run';
import { KNOWN_ISSUES_FILE, loadKnownIssues } from '../../results/known';
import { harnessVersion } from './results';

/** Tags of the default catalogue run (no files and no --tag given): everything but the lab-only scenarios. */
export const DEFAULT_TAGS = ['smoke', 'nightly', 'release'];

const help = `usage: winpv run [scenario files or folders...] [options]

Runs scenarios on a host, judges them with the checks and writes reports to
<report-dir>/<run-id>/ (results.tap, junit.xml, summary.json, trace.jsonl, report.html),
pointing <report-dir>/latest at them.

With no files, runs the default catalogue: scenarios/ with tags ${DEFAULT_TAGS.join(', ')}
(the 'lab' scenarios need a real Xen host: winpv run --host lab --tag lab).

options:
  --host H          sim (default), lab, xl://user@host[:port], xapi://user@pool-master, or a host name from the config
  --seed N          seed of the simulator's scheduler (printed by every run; a failing run says how to repeat it)
  --tag T           only scenarios with tag T (repeatable: any of them)
  --grep RE         only instances whose id or title matches RE (case-insensitive)
  --shard k/n       only shard k of n (stable by instance id; merge with winpv report merge)
  --report-dir DIR  where run directories go (default: reports/ of this checkout)
  --reporter R      console (default), tap (TAP 14 on stdout) or none
  --list            print the instances this run would run (and the skips with their reasons), run nothing
  --retries N       rerun a failed instance up to N times; one that then passes is reported flaky (TAP # TODO flaky)
  --known-issues F  known-issues file (default: scenarios/known-issues.json): matching failures are TAP # TODO with the issue
  --db URL|DIR      results store to record the run in: postgres://... or a PGlite directory; none: do not record
                    (default: WINPV_DB, the config's resultsDb, else the default store once it exists)
  --config FILE     config file (default: $WINPV_CONFIG or ~/.config/winpv/config.json)

exit status: 0 all passed, 1 a check failed or the run stopped early, 2 bad input, 3 host failure
`;

const command: Command = {
  name: 'run',
  summary: 'run scenarios on a host and write reports',
  help,
  async run(ctx: CommandContext) {
    const parsed = parseCommandArgs(ctx, this, {
      host: { type: 'string' },
      seed: { type: 'string' },
      tag: { type: 'string', multiple: true },
      grep: { type: 'string' },
      shard: { type: 'string' },
      'report-dir': { type: 'string' },
      reporter: { type: 'string' },
      config: { type: 'string' },
      list: { type: 'boolean' },
      db: { type: 'string' },
      retries: { type: 'string' },
      'known-issues': { type: 'string' },
    }, { positionals: true });
    if (!parsed) return ExitCode.ok;
    const { values: v, positionals } = parsed;
    const cfg = resolveConfig({ host: v.host, seed: v.seed, reportDir: v['report-dir'], config: v.config, verbose: ctx.verbose, db: v.db }, ctx.env);
    let shard: { index: number; count: number } | undefined;
    if (v.shard !== undefined) {
      const s = parseShard(v.shard);
      if (typeof s === 'string') throw usageError(s);
      shard = s;
    }
    if (v.grep !== undefined) {
      try {
        new RegExp(v.grep);
      } catch (e) {
        throw usageError(`--grep: ${(e as Error).message}`);
      }
    }
    const retries = v.retries === undefined ? 0 : Number(v.retries);
    if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw usageError(`--retries takes an integer from 0 to 10, not '${v.retries}'`);
    const root = packageRoot();
    const knownIssues = loadKnownIssues(v['known-issues'] ?? join(root, 'scenarios', KNOWN_ISSUES_FILE), v['known-issues'] !== undefined);
    const inputs = positionals.length ? positionals : [relative(ctx.cwd, join(root, 'scenarios')) || '.'];
    const tags = v.tag?.length ? v.tag : positionals.length ? undefined : DEFAULT_TAGS;
    const scenarios = loadScenarios(inputs, ctx.cwd);
    const { specs, hashes } = driverSpecs(ctx.cwd);
    const host = createHost(cfg.host, { specs, env: ctx.env });
    const thePlan = plan(scenarios, { seed: cfg.seed, tags, grep: v.grep, shard, capabilities: host.capabilities, faults: host.faults?.supported, hostKind: host.kind });
    if (thePlan.instances.length === 0) throw usageError('no scenario instance matches the filters');
    if (v.list) {
      for (const i of thePlan.instances) ctx.out.write(`${i.id}${i.skip ? `  (skip: ${i.skip})` : ''}\n`);
      ctx.out.write(`${thePlan.instances.length} instance${thePlan.instances.length === 1 ? '' : 's'} on ${host.label}\n`);
      return ExitCode.ok;
    }

    const started = new Date(); // the run's date lives in summary.json only, never in the trace
    const { runId, dir } = newRunDir(cfg.reportDir, started, cfg.seed, shard ? `-shard${shard.index}of${shard.count}` : '');
    const trace = new TraceWriter({ file: join(dir, 'trace.jsonl') });
    const meta = (): RunMeta => ({
      runId, startedAt: started.toISOString(), finishedAt: new Date().toISOString(), inputs, command: 'run', ...(shard ? { shard } : {}),
    });
    const reporter = new ReporterMultiplexer([...stdoutReporter(v.reporter, ctx, 'console'), new FileReporter(dir, meta, () => trace.events)]);
    const outcome = await runPlan({ host, plan: thePlan, specs, specHashes: hashes, trace, reporter, signal: ctx.signal, artifactsDir: join(dir, 'artifacts'), retries, knownIssues });

    const shown = relative(ctx.cwd, dir) || dir;
    const say = (s: string) => (v.reporter === 'tap' ? ctx.err : ctx.out).write(s);
    say(`reports: ${shown.startsWith('..') ? dir : shown}\n`);
    for (const e of reporter.errors) ctx.err.write(`winpv: reporter ${e.reporter}.${e.method} failed: ${e.error.message}\n`);
    const storeTarget = runStoreTarget(cfg.resultsDb, ctx.env);
    if (storeTarget) {
      const r = await recordRunDir(storeTarget, dir, harnessVersion(), trace.events); // the events in memory: no second parse of trace.jsonl
      if (r.warning) ctx.err.write(`winpv: warning: ${r.warning}\n`);
    }
    const code = outcome.hostError ? ExitCode.hostError : reporter.errors.length ? ExitCode.hostError : exitForSummary(outcome.summary);
    if (outcome.hostError) ctx.err.write(`winpv: host failure: ${outcome.hostError.code}: ${outcome.hostError.message}\n`);
    if (code !== ExitCode.ok) say(`seed ${cfg.seed}: repeat with winpv run --seed ${cfg.seed}${v.host ? ` --host ${v.host}` : ''}${positionals.length ? ` ${positionals.join(' ')}` : ''}\n`);
    return code;
  },
};
export default command;
