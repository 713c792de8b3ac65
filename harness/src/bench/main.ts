// `npm run bench` (node harness/dist/bench/main.js [module...]): runs every benchmark module of the
// registry below and prints each figure next to its baseline from the same run, with the ratio.
// Performance is measured here, never in tests.
import type { BenchFigure, BenchModule } from './figure';

/** The registry: one entry per module; add yours here. */
export const BENCHES: { name: string; load: () => BenchModule }[] = [
  { name: 'xenstore', load: () => require('./xenstore') as BenchModule },
  { name: 'rings', load: () => require('./rings') as BenchModule },
  { name: 'catalogue', load: () => require('./catalogue') as BenchModule },
  { name: 'report', load: () => require('./report') as BenchModule },
  { name: 'results', load: () => require('./results') as BenchModule },
  { name: 'workers', load: () => require('./workers') as BenchModule },
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
  return [line(head), ...rows.map(line), '', 'ratio: times better than the baseline (throughput value/baseline, latency baseline/value)', ...notes, ''].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const wanted = argv.filter((a) => !a.startsWith('-'));
  const chosen = BENCHES.filter((b) => wanted.length === 0 || wanted.includes(b.name));
  if (chosen.length === 0) {
    process.stderr.write(`bench: no module named ${wanted.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}\n`);
    return 2;
  }
  const all: BenchFigure[] = [];
  let failed = false;
  for (const b of chosen) {
    process.stderr.write(`bench: ${b.name} ...\n`);
    try {
      const figs = await b.load().run();
      all.push(...figs);
      process.stdout.write(formatFigures(figs) + '\n');
    } catch (e) {
      failed = true;
      process.stderr.write(`bench: ${b.name} failed: ${(e as Error)?.message ?? e}\n`);
    }
  }
  if (chosen.length > 1) process.stdout.write('all figures:\n' + formatFigures(all));
  return failed ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((c) => (process.exitCode = c));
}
