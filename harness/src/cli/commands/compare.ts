// winpv compare <run> <run>: what changed between two recorded runs: new failures, fixed, flaky,
// and metrics that moved (relative change, and whether it stands out of the older run's history).
import { parseCommandArgs, type Command } from '../command';
import { ExitCode, usageError } from '../../model/errors';
import { compareRuns } from '../../results/compare';
import { openStore, STORE_OPTIONS } from './results';

const help = `usage: winpv compare <run id A> <run id B> [--tolerance 0.05] [--json] [--db ...]

Compares run B with run A (both recorded in the results store; winpv results import loads them):
instances that newly fail, that were fixed, that were flaky; every metric both runs have, with its
relative change and the regression verdict of B against the history up to A.
`;

const command: Command = {
  name: 'compare',
  summary: 'what changed between two recorded runs',
  help,
  async run(ctx) {
    const parsed = parseCommandArgs(ctx, this, { ...STORE_OPTIONS, tolerance: { type: 'string' }, json: { type: 'boolean' } }, { positionals: true });
    if (!parsed) return ExitCode.ok;
    const { values: v, positionals } = parsed;
    if (positionals.length !== 2) throw usageError(`winpv compare takes two run ids\n\n${help}`);
    const tolerance = v.tolerance === undefined ? 0.05 : Number(v.tolerance);
    if (!Number.isFinite(tolerance) || tolerance < 0) throw usageError(`--tolerance takes a non-negative number, not '${v.tolerance}'`);
    const store = await openStore(ctx, v.db, v.config);
    try {
      const c = await compareRuns(store, positionals[0], positionals[1], { tolerance });
      if (v.json) {
        ctx.out.write(JSON.stringify(c, null, 2) + '\n');
        return ExitCode.ok;
      }
      ctx.out.write(`${c.a.runId} (${c.a.driverVersion}) -> ${c.b.runId} (${c.b.driverVersion})\n`);
      const list = (title: string, xs: string[]) => xs.length && ctx.out.write(`${title} (${xs.length}):\n${xs.map((x) => `  ${x}\n`).join('')}`);
      list('new failures', c.newFailures);
      list('fixed', c.fixed);
      list('flaky', c.flaky);
      list('only in A', c.onlyInA);
      list('only in B', c.onlyInB);
      const moved = c.metrics.filter((m) => m.change !== 0);
      ctx.out.write(`metrics (${moved.length} moved of ${c.metrics.length}):\n`);
      for (const m of moved) ctx.out.write(`  ${m.inst} ${m.metric}: ${m.a} -> ${m.b} ${m.unit} (${(m.change * 100).toFixed(1)}%)  ${m.regression.verdict === 'fail' ? 'REGRESSION ' : ''}${m.regression.message}\n`);
    } finally {
      await store.close();
    }
    return ExitCode.ok;
  },
};
export default command;
