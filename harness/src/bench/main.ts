// `npm run bench` (node harness/dist/bench/main.js [module...]): runs every benchmark module of the
// registry below and prints each figure next to its baseline from the same run, with the ratio; writes
// the figures as JSON (history.ts) and warns of figures more than 20 % worse than the previous run's.
// Performance is measured here, never in tests.
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import type { BenchFigure, BenchModule } from './figure';
import { BENCH_JSON_VERSION, figureJson, findSlowdowns, formatSlowdown, machineInfo, previousRunPath, readBenchRun, writeBenchRun, type BenchFigureJson, type BenchRun } from './history';

/** The registry: one entry per module; add yours here. One that needs something a plain run does not
 *  have (the lab) runs only when named. */
export const BENCHES: { name: string; load: () => BenchModule; onlyWhenNamed?: true }[] = [
  { name: 'xenstore', load: () => require('./xenstore') as BenchModule },
  { name: 'rings', load: () => require('./rings') as BenchModule },
  { name: 'catalogue', load: () => require('./catalogue') as BenchModule },
  { name: 'report', load: () => require('./report') as BenchModule },
  { name: 'results', load: () => require('./results') as BenchModule },
  { name: 'workers', load: () => require('./workers') as BenchModule },
  // real Xen: needs `winpv lab up` first (CI's lab step runs it as `npm run bench -- --lab`)
  { name: 'lab', load: () => require('./lab') as BenchModule, onlyWhenNamed: true },
];

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '-';
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(v >= 10 ? 1 : 2);
}

export function formatFigures(figs: readonly BenchFigure[]): string {
  const rows = figs.map((f) => [
    f.group,
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.baseline ? `${fmt(f.baseline.value)} ${f.unit} (${f.baseline.name})` : '-',
    f.ratio !== undefined && Number.isFinite(f.ratio) ? `${f.ratio.toFixed(2)}x` : '-',
  ]);
  const head = ['group', 'figure', 'value', 'baseline (same run)', 'ratio'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
  const notes = figs.filter((f) => f.note).map((f) => `  note (${f.group} ${f.name}): ${f.note}`);
  const failed = figs.filter((f) => f.failed).map((f) => `WARNING: ${f.group} ${f.name}: measured on a run that failed (${f.failed})`);
  return [line(head), ...rows.map(line), '', 'ratio: times better than the baseline (throughput value/baseline, latency baseline/value)', ...notes, ...failed, ''].join('\n');
}

export interface BenchArgs {
  modules: string[];
  /** Where the run's JSON goes (DIR/<time>.json and DIR/latest.json). */
  outDir: string;
  /** The earlier run's JSON to compare with (default: DIR/latest.json before this run replaces it). */
  previous?: string;
  json: boolean;
}

const USAGE = 'usage: npm run bench [-- [module...] [--lab] [--out DIR] [--previous FILE] [--no-json]]';

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const a: BenchArgs = { modules: [], outDir: resolve(__dirname, '..', '..', '..', 'reports', 'bench'), json: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('-')) throw new Error(`${arg} needs a value; ${USAGE}`);
      return v;
    };
    if (arg === '--out') a.outDir = resolve(value());
    else if (arg === '--previous') a.previous = resolve(value());
    else if (arg === '--no-json') a.json = false;
    else if (arg === '--lab') a.modules.push('lab');
    else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}; ${USAGE}`);
    else a.modules.push(arg);
  }
  return a;
}

/** The previous run's figures (read before this run replaces latest.json); a bad file is said, not fatal. */
function readPrevious(args: BenchArgs): { previous?: BenchRun; prevPath?: string } {
  const prevPath = previousRunPath(args.outDir, args.previous);
  if (!prevPath) return {};
  try {
    return { previous: readBenchRun(prevPath), prevPath };
  } catch (e) {
    process.stderr.write(`bench: not comparing: ${(e as Error).message}\n`);
    return { prevPath };
  }
}

/** Runs the chosen modules one after another, printing each one's figures; a module that throws is a failure, the others go on. */
async function runModules(chosen: typeof BENCHES): Promise<{ all: BenchFigure[]; figures: BenchFigureJson[]; failures: BenchRun['failures'] }> {
  const all: BenchFigure[] = [];
  const figures: BenchFigureJson[] = [];
  const failures: BenchRun['failures'] = [];
  for (const b of chosen) {
    process.stderr.write(`bench: ${b.name} ...\n`);
    try {
      const figs = await b.load().run();
      all.push(...figs);
      figures.push(...figs.map((f) => figureJson(f, b.name)));
      process.stdout.write(formatFigures(figs) + '\n');
    } catch (e) {
      const error = String((e as Error)?.message ?? e);
      failures.push({ module: b.name, error });
      process.stderr.write(`bench: ${b.name} failed: ${error}\n`);
    }
  }
  return { all, figures, failures };
}

/** The machine line, where the JSON went, and the figures more than 20 % worse than the previous run's. */
function report(args: BenchArgs, run: BenchRun, previous: BenchRun | undefined, prevPath: string | undefined): void {
  process.stdout.write(`machine: ${run.machine.cpus} x ${run.machine.cpuModel}, load average ${run.machine.loadStart.join(' ')} at start, ${run.machine.loadEnd.join(' ')} at end\n`);
  if (args.json) process.stdout.write(`bench: figures written to ${writeBenchRun(args.outDir, run)}\n`);
  if (previous) {
    // A slowdown is printed for a person to judge, never a failure: benchmarks on shared machines are noisy.
    const slow = findSlowdowns(previous, run);
    for (const s of slow) process.stdout.write(formatSlowdown(s, previous.startedAt) + '\n');
    process.stdout.write(`bench: compared with ${prevPath}: ${slow.length} figure(s) more than 20 % worse\n`);
  }
}

async function main(argv: string[]): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    return 2;
  }
  const chosen = BENCHES.filter((b) => (args.modules.length === 0 ? !b.onlyWhenNamed : args.modules.includes(b.name)));
  const unknown = args.modules.filter((m) => !BENCHES.some((b) => b.name === m));
  if (chosen.length === 0 || unknown.length > 0) {
    process.stderr.write(`bench: no module named ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}\n`);
    return 2;
  }
  const { previous, prevPath } = readPrevious(args);
  const startedAt = new Date().toISOString();
  const loadStart = loadavg();
  const { all, figures, failures } = await runModules(chosen);
  if (chosen.length > 1) process.stdout.write('all figures:\n' + formatFigures(all));
  const run: BenchRun = {
    version: BENCH_JSON_VERSION,
    startedAt,
    endedAt: new Date().toISOString(),
    modules: chosen.map((b) => b.name),
    machine: machineInfo(loadStart),
    figures,
    failures,
  };
  report(args, run, previous, prevPath);
  return failures.length > 0 ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((c) => (process.exitCode = c));
}
