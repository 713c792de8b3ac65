// winpv run: scenarios in, a run on a host, reports out (reports/<run-id>/, reports/latest). This
// module is the command: its options, and the results store opened before anything else loads; the
// run itself is run-flow.ts, loaded once the store's thread is starting.
import type { Command, CommandContext } from '../command';
import { parseCommandArgs } from '../command';
import { resolveConfig } from '../config';
import { ExitCode } from '../../model/errors';
import { RunRecorder, runStoreTarget } from '../../results/record-run';
import { DEFAULT_TAGS, RUN_OPTIONS, type RunValues } from '../run-options';

const help = `usage: winpv run [scenario files or folders...] [options]

Runs scenarios on a host, judges them with the checks and writes reports to
<report-dir>/<run-id>/ (results.tap, junit.xml, summary.json, trace.jsonl, report.html),
pointing <report-dir>/latest at them.

With no files, runs the default catalogue: scenarios/ with tags ${DEFAULT_TAGS.join(', ')}
(the 'lab' scenarios need a real Xen host: winpv run --host lab --tag lab).

options:
  --host H          sim (default), lab, xl://user@host[:port], xapi://user@pool-master, a host name from the config,
                    or label:<l>[,<l>] (the configured hosts carrying every label; scenarios' <labels> must be on the host)
  --seed N          seed of the simulator's scheduler (printed by every run; a failing run says how to repeat it)
  --tag T           only scenarios with tag T (repeatable: any of them)
  --grep RE         only instances whose id or title matches RE (case-insensitive)
  --shard k/n       only shard k of n: balanced by the durations recorded in --durations (so shards finish
                    together), else stable by instance id; merge with winpv report merge
  --durations FILE  durations of earlier runs, read by --shard and updated by every run
                    (default: <report-dir>/durations.json; keep it in the CI cache)
  --report-dir DIR  where run directories go (default: reports/ of this checkout)
  --reporter R      console (default), tap (TAP 14 on stdout) or none
  --list            print the instances this run would run (and the skips with their reasons), run nothing
  --workers N       instances at once (default: the number of cores on the simulator, each core a worker
                    process, but no more than the instances to run, and one runs in this process; the
                    configured capacity of a real host, of all label-matched hosts together).
                    Every instance has its own guests; results.tap and trace.jsonl keep plan order
  --lease-timeout D how long to wait for capacity on a real host held by other runs (default 30m; then exit 3)
  --repeat-each N   run every selected instance N times (soak), each as <instance>~rep<k>; the summary
                    (printed, and passRates in summary.json) gives each instance's pass rate
  --keep-on-failure keep the guests of the first failing instance running (later instances go on), hold the
                    host's lease and print how to reach them; Ctrl-C (SIGINT/SIGTERM) destroys them and
                    ends the run. On the simulator their xenstore is served on <run dir>/kept-xenstore.sock
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
    const parsed = parseCommandArgs(ctx, this, RUN_OPTIONS, { positionals: true });
    if (!parsed) return ExitCode.ok;
    const v = parsed.values as RunValues;
    const cfg = resolveConfig({ host: v.host, seed: v.seed, reportDir: v['report-dir'], config: v.config, verbose: ctx.verbose, db: v.db }, ctx.env);
    // The results store is opened first: PGlite's start-up, in a thread of its own, runs beside the
    // loading of the run's modules (the simulator, runner and reports: run-flow.ts) and the planning,
    // while the second core would otherwise be idle. This finally closes it on every way out
    // (results/record-run.ts).
    const storeTarget = v.list ? undefined : runStoreTarget(cfg.resultsDb, cfg.resultsDataDir);
    const recorder = storeTarget ? new RunRecorder(storeTarget) : undefined;
    try {
      const { runRequested } = require('../run-flow') as typeof import('../run-flow');
      return await runRequested(ctx, v, parsed.positionals, cfg, recorder);
    } finally {
      await recorder?.close();
    }
  },
};
export default command;
