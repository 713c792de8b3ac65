// winpv results: the results store. `import` loads recorded runs from their report directories
// (idempotent: a run already there is replaced by the same content), `judge` gives a run's metrics
// regression verdicts against their history (TAP), `where` says which store is in use.
import { relative } from 'node:path';
import { parseCommandArgs, runSubcommand, type Command, type CommandContext } from '../command';
import { resolveConfig } from '../config';
import { ExitCode, usageError } from '../../model/errors';
import type { RegressionVerdict } from '../../model/results';
import { resolveStoreTarget } from '../../results/db';
import { readRunDir } from '../../results/record';
import { ResultsStore } from '../../results/store';
import { judgeRun } from '../../results/judge';

export const harnessVersion = (): string => (require('../../../../package.json') as { version: string }).version;

/** The store named by --db, WINPV_DB, the config's resultsDb or the default data directory (undefined: `none`). */
export function storeTarget(ctx: CommandContext, db: string | undefined, config: string | undefined): string | undefined {
  const cfg = resolveConfig({ db, config }, ctx.env);
  return resolveStoreTarget(cfg.resultsDb, cfg.resultsDataDir);
}

export async function openStore(ctx: CommandContext, db: string | undefined, config: string | undefined): Promise<ResultsStore> {
  const target = storeTarget(ctx, db, config);
  if (!target) throw usageError('no results store: --db none (or WINPV_DB=none) turns the store off');
  return ResultsStore.open(target);
}

export const STORE_OPTIONS = { db: { type: 'string' }, config: { type: 'string' } } as const;

const importHelp = `usage: winpv results import <run dirs...> [--db postgres://...|DIR]

Loads recorded runs (summary.json, trace.jsonl) into the results store. Importing a run twice
changes nothing. The store is --db, else WINPV_DB, else the config's resultsDb, else
$XDG_DATA_HOME/winpv/results (~/.local/share/winpv/results).
`;

async function importRuns(ctx: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(ctx, { help: importHelp }, STORE_OPTIONS, { positionals: true });
  if (!parsed) return ExitCode.ok;
  if (!parsed.positionals.length) throw usageError(`winpv results import needs at least one run directory\n\n${importHelp}`);
  const records = parsed.positionals.map((d) => readRunDir(d, harnessVersion())); // all input checked before the store is touched
  const store = await openStore(ctx, parsed.values.db, parsed.values.config);
  try {
    for (const [k, r] of records.entries()) {
      const fresh = await store.record(r);
      ctx.out.write(`${fresh ? 'imported' : 'already there, replaced'}: ${r.runId} (${r.instances.length} instances) from ${relative(ctx.cwd, parsed.positionals[k]) || parsed.positionals[k]}\n`);
    }
    ctx.out.write(`store: ${store.label} (${await store.runCount()} runs)\n`);
  } finally {
    await store.close();
  }
  return ExitCode.ok;
}

const judgeHelp = `usage: winpv results judge <run dir> [--tolerance 0.05] [--window 20] [--min-history 8] [--metric M] [--json] [--db ...]

Regression verdicts for a recorded run: each metric of each instance is compared with the same
scenario's last --window runs on the same host class and Windows build (bootstrap prediction
interval for one value, Mann-Whitney U for repeats). not ok only when the change is significant
(95 %) AND larger than --tolerance in the worse direction; too little history is a SKIP.
Prints TAP 14; exit 1 when a metric regressed.
`;

async function judge(ctx: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(ctx, { help: judgeHelp }, {
    ...STORE_OPTIONS, tolerance: { type: 'string' }, window: { type: 'string' }, 'min-history': { type: 'string' }, metric: { type: 'string', multiple: true }, json: { type: 'boolean' },
  }, { positionals: true });
  if (!parsed) return ExitCode.ok;
  const { values: v, positionals } = parsed;
  if (positionals.length !== 1) throw usageError(`winpv results judge takes one run directory\n\n${judgeHelp}`);
  const num = (name: string, s: string | undefined, dflt: number) => {
    if (s === undefined) return dflt;
    const n = Number(s);
    if (!Number.isFinite(n) || n < 0) throw usageError(`--${name} takes a non-negative number, not '${s}'`);
    return n;
  };
  const rec = readRunDir(positionals[0], harnessVersion());
  const store = await openStore(ctx, v.db, v.config);
  let verdicts: (RegressionVerdict & { inst: string; scenario: string })[];
  try {
    verdicts = await judgeRun(store, rec, { tolerance: num('tolerance', v.tolerance, 0.05), window: num('window', v.window, 20), minHistory: num('min-history', v['min-history'], 8), metrics: v.metric, seed: rec.seed });
  } finally {
    await store.close();
  }
  if (v.json) ctx.out.write(JSON.stringify({ run: rec.runId, verdicts }, null, 2) + '\n');
  else {
    ctx.out.write(`TAP version 14\n1..${verdicts.length}\n`);
    verdicts.forEach((x, k) => {
      const head = `${x.verdict === 'fail' ? 'not ok' : 'ok'} ${k + 1} - ${x.inst} regression ${x.message}`;
      ctx.out.write(x.verdict === 'skip' ? `${head} # SKIP ${x.message.replace(/^[^:]*: /, '')}\n` : `${head}\n`);
    });
  }
  return verdicts.some((x) => x.verdict === 'fail') ? ExitCode.testFailed : ExitCode.ok;
}

const command: Command = {
  name: 'results',
  summary: 'the results store: import runs, judge regressions',
  help: `usage: winpv results <subcommand>

subcommands:
  import <run dirs...>   load recorded runs into the store (idempotent)
  judge <run dir>        regression verdicts of a run's metrics against their history (TAP)
`,
  run(ctx) {
    return runSubcommand(ctx, this, { import: importRuns, judge });
  },
};
export default command;
