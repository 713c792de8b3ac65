// winpv history <scenario> [--metric m]: the last runs of a scenario (verdicts, flaky, known) and of
// one or every metric, with the baseline band; text or --json.
import { parseCommandArgs, type Command } from '../command';
import { ExitCode, usageError } from '../../model/errors';
import { trendsFor } from '../../results/trends';
import { openStore, STORE_OPTIONS } from './results';

const help = `usage: winpv history <scenario> [--metric M] [--limit N] [--host-class sim|xl|xapi] [--json] [--db ...]

The last runs of a scenario from the results store: instance verdicts, then each metric's values
(or only --metric M) with the baseline band (median and 95 % spread of the runs before the newest).
`;

const command: Command = {
  name: 'history',
  summary: 'the last runs of a scenario and its metrics, from the results store',
  help,
  async run(ctx) {
    const parsed = parseCommandArgs(ctx, this, { ...STORE_OPTIONS, metric: { type: 'string', multiple: true }, limit: { type: 'string' }, 'host-class': { type: 'string' }, json: { type: 'boolean' } }, { positionals: true });
    if (!parsed) return ExitCode.ok;
    const { values: v, positionals } = parsed;
    if (positionals.length !== 1) throw usageError(`winpv history takes one scenario name\n\n${help}`);
    const limit = v.limit === undefined ? 20 : Number(v.limit);
    if (!Number.isInteger(limit) || limit < 1) throw usageError(`--limit takes a positive integer, not '${v.limit}'`);
    const scenario = positionals[0];
    const store = await openStore(ctx, v.db, v.config);
    try {
      const runs = await store.scenarioRuns(scenario, limit);
      const trends = await trendsFor(store, scenario, { metrics: v.metric, limit, hostClass: v['host-class'] });
      if (v.json) {
        ctx.out.write(JSON.stringify({ scenario, runs, trends }, null, 2) + '\n');
        return ExitCode.ok;
      }
      if (!runs.length) {
        ctx.out.write(`no recorded run of ${scenario} in ${store.label}\n`);
        return ExitCode.ok;
      }
      ctx.out.write(`${scenario}: last ${runs.length} run(s)\n`);
      for (const r of runs) ctx.out.write(`  ${r.runId}  ${r.driverVersion.padEnd(10)} ${r.verdict}${r.flaky ? ' (flaky)' : ''}${r.known ? ` (known: ${r.known})` : ''}\n`);
      for (const t of trends) {
        const b = t.baseline;
        ctx.out.write(`\n${t.metric} (${t.unit}, ${t.better} is better)${b ? `: baseline median ${fmt(b.median)} [${fmt(b.low)}, ${fmt(b.high)}] over ${b.runs} runs` : ''}\n`);
        for (const p of t.points) ctx.out.write(`  ${p.runId}  ${p.driverVersion.padEnd(10)} ${fmt(p.value)}\n`);
      }
    } finally {
      await store.close();
    }
    return ExitCode.ok;
  },
};
export default command;

const fmt = (x: number) => String(+x.toPrecision(6));
