// The results store's costs: (1) recording one run of the default catalogue, as the extra wall time
// of `winpv run --db <a PGlite store holding 30 runs>` over `winpv run --db none` (same seed, four pairs of runs
// interleaved none/store/store/none so a neighbour's load falls on both, the median of the pairs'
// differences; budget < 5 %), with the CPU time of the
// run's process and of its main thread (cpu-usage-preload.ts), and of the whole run (the process and
// its simulator worker processes: on a machine whose cores the run keeps busy, what the store adds
// to that is what the wall time grows by, over the cores); and the parts of recording into that
// existing store measured one after another in this process (what the run overlaps with itself);
// (2) `winpv history` over 10,000 recorded runs on PGlite (budget < 1 s), against 100 runs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BenchFigure } from './figure';
import { ratioOf } from './figure';
import { childrenCpuMs } from './workers';
import { ResultsStore } from '../results/store';
import { SCENARIO_RUNS_FILL_ALL } from '../results/schema';
import { readRunDir } from '../results/record';
import { trendsFor, trendsOf } from '../results/trends';
import { median } from '../model/regression';

interface Timed {
  wallMs: number;
  /** user+system of the whole process (all threads). */
  cpuMs: number;
  /** user+system of the main thread (Linux), else NaN. */
  mainMs: number;
  /** user+system of the process and every process it started (the simulator's workers). */
  treeMs: number;
}

function timedRun(args: string[], cpuFile: string): Timed {
  const winpv = resolve(__dirname, '..', '..', 'bin', 'winpv');
  const t0 = performance.now();
  const c0 = childrenCpuMs();
  try {
    execFileSync(process.execPath, ['--require', join(__dirname, 'cpu-usage-preload.js'), winpv, 'run', '--seed', '1', '--reporter', 'none', ...args], {
      stdio: 'ignore',
      env: { ...process.env, WINPV_BENCH_CPU_FILE: cpuFile },
    });
  } catch {
    // a failed check still gives a timing
  }
  const wallMs = performance.now() - t0;
  const treeMs = childrenCpuMs() - c0;
  const cpu = JSON.parse(readFileSync(cpuFile, 'utf8')) as { user: number; system: number; mainThread?: { user: number; system: number } };
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, mainMs: cpu.mainThread ? (cpu.mainThread.user + cpu.mainThread.system) / 1000 : NaN, treeMs };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Pairs of catalogue runs, without and with the store (about 16 s a pair on 2 idle cores). The
 *  spread of one pair is about as wide as the budget, so WINPV_BENCH_RESULTS_PAIRS asks for more
 *  (up to 20) where the time is there. */
const PAIRS = Math.max(1, Math.min(20, Number.parseInt(process.env.WINPV_BENCH_RESULTS_PAIRS ?? '', 10) || 4));
const secs = (ms: number) => (ms / 1000).toFixed(2);
/** Runs in the store before the pairs: the trends' window of `winpv run` (record-run.ts TREND_RUNS). */
const SEEDED_RUNS = 30;

/** n synthetic runs of one scenario with two metrics, inserted in bulk. */
async function fill(store: ResultsStore, n: number): Promise<void> {
  await store.db.query(`INSERT INTO runs (run_id, started_at, seed, host_kind, host_label, windows_build, driver_version, harness_version, complete, passed, failed, skipped)
    SELECT 'bench-' || g, timestamptz '2026-01-01' + g * interval '1 hour', g, 'sim', 'sim', 'sim', '9.1.' || (g % 50), 'bench', true, 1, 0, 0 FROM generate_series(1, $1) g`, [n]);
  await store.db.query(`INSERT INTO instances (run_id, inst, scenario, verdict, duration_ms) SELECT 'bench-' || g, 'vbd-connect', 'vbd-connect', 'pass', 1000 FROM generate_series(1, $1) g`, [n]);
  await store.db.query(`INSERT INTO metrics (run_id, started_at, inst, scenario, name, value, unit, better)
    SELECT 'bench-' || g, timestamptz '2026-01-01' + g * interval '1 hour', 'vbd-connect', 'vbd-connect', m, 2700 + (g * 7919 % 200), 'MB/s', 'higher' FROM generate_series(1, $1) g, unnest(ARRAY['vbd/51712.mbps', 'vbd/51712.iops']) m`, [n]);
  await store.db.query(SCENARIO_RUNS_FILL_ALL);
}

async function historyMs(n: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-bench-history-'));
  try {
    const filled = await ResultsStore.open(join(dir, 'store'));
    await fill(filled, n);
    await filled.close();
    // as `winpv history` asks: a store just opened (nothing of the fill left compiled or cached), its first questions
    const store = await ResultsStore.open(join(dir, 'store'));
    const t0 = performance.now();
    await store.scenarioRuns('vbd-connect', 20);
    await trendsFor(store, 'vbd-connect', { limit: 20 });
    const ms = performance.now() - t0;
    await store.close();
    return ms;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The parts of recording a run into the existing store, one after another, in this process. */
async function recordingParts(store: string, runDir: string): Promise<{ openMs: number; insertMs: number; trendsMs: number; closeMs: number }> {
  const rec = { ...readRunDir(runDir), runId: 'bench-parts' };
  let t0 = performance.now();
  const s = await ResultsStore.open(store);
  const openMs = performance.now() - t0;
  t0 = performance.now();
  await s.record(rec);
  const insertMs = performance.now() - t0;
  t0 = performance.now();
  await trendsOf(s, [...new Set(rec.instances.map((i) => i.scenario))], { hostClass: rec.hostKind, windowsBuild: rec.windowsBuild, limit: 30 });
  const trendsMs = performance.now() - t0;
  t0 = performance.now();
  await s.close();
  return { openMs, insertMs, trendsMs, closeMs: performance.now() - t0 };
}

/** The store the pairs record into exists already (PGlite's first open runs initdb, a one-time cost)
 *  and holds as many catalogue runs as a run's trends show (a team's store in its steady state: each
 *  run reads that many points of every series): one run, recorded under that many ids a day apart.
 *  Returns that run's directory. */
async function seedStore(store: string, reportDir: string, cpuFile: string): Promise<string> {
  timedRun(['--report-dir', reportDir, '--db', 'none'], cpuFile);
  const firstDir = realpathSync(join(reportDir, 'latest'));
  const first = readRunDir(firstDir);
  const seeded = await ResultsStore.open(store);
  try {
    for (let i = SEEDED_RUNS; i > 0; i--) {
      await seeded.record({ ...first, runId: `${first.runId}-seed${i}`, startedAt: new Date(Date.parse(first.startedAt) - i * 86_400_000).toISOString() });
    }
  } finally {
    await seeded.close();
  }
  return firstDir;
}

export async function run(): Promise<BenchFigure[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'winpv-bench-results-'));
  try {
    const store = join(tmp, 'store');
    const cpuFile = join(tmp, 'cpu.json');
    const firstDir = await seedStore(store, join(tmp, 'first'), cpuFile);
    const none: Timed[] = [];
    const recorded: Timed[] = [];
    // PAIRS pairs, each a run without the store beside one with it, in the order none/store/store/none
    // repeated: a neighbour's load or a slow first run falls on both sides of a pair, and the verdict is
    // the median of the pairs' differences (two pairs gave a spread wider than the 5 % budget)
    for (let p = 0; p < PAIRS; p++) {
      for (const k of p % 2 ? [1, 0] : [0, 1]) (k ? recorded : none).push(timedRun(['--report-dir', join(tmp, `r${none.length + recorded.length}`), '--db', k ? store : 'none'], cpuFile));
    }
    const pairPct = none.map((n, i) => ((recorded[i]!.wallMs - n.wallMs) / n.wallMs) * 100).sort((a, b) => a - b);

    const { openMs, insertMs, trendsMs, closeMs } = await recordingParts(store, firstDir);

    const h10k = await historyMs(10_000);
    const h100 = await historyMs(100);
    const [w0, w1] = [mean(none.map((x) => x.wallMs)), mean(recorded.map((x) => x.wallMs))];
    const [m0, m1] = [mean(none.map((x) => x.mainMs)), mean(recorded.map((x) => x.mainMs))];
    const [c0, c1] = [mean(none.map((x) => x.cpuMs)), mean(recorded.map((x) => x.cpuMs))];
    const [tree0, tree1] = [mean(none.map((x) => x.treeMs)), mean(recorded.map((x) => x.treeMs))];
    const pct = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1)} %`;
    return [
      {
        group: 'results', name: `catalogue run recorded in a PGlite store of ${SEEDED_RUNS} runs (wall)`, value: w1 / 1000, unit: 's',
        baseline: { name: 'same run, --db none', value: w0 / 1000 }, ratio: ratioOf(w1, w0, true), lowerIsBetter: true,
        note: `recording adds ${median(pairPct).toFixed(1)} % wall, the median of ${PAIRS} pairs (from ${pairPct[0]!.toFixed(1)} to ${pairPct[pairPct.length - 1]!.toFixed(1)} %; budget < 5 %); means ${pct(w0, w1)}; runs none ${none.map((x) => secs(x.wallMs)).join(', ')} s, recorded ${recorded.map((x) => secs(x.wallMs)).join(', ')} s`,
      },
      {
        group: 'results', name: `catalogue run recorded in a PGlite store of ${SEEDED_RUNS} runs (CPU of the main thread)`, value: m1 / 1000, unit: 's',
        baseline: { name: 'same run, --db none', value: m0 / 1000 }, ratio: ratioOf(m1, m0, true), lowerIsBetter: true,
        note: `main thread +${pct(m0, m1)}; the whole winpv process (its threads, the store's included; not the simulator worker processes) ${secs(c0)} -> ${secs(c1)} s CPU (+${pct(c0, c1)}). ` +
          `Recording into the existing store alone, in one thread one part after another: open and schema check ${secs(openMs)} s, insert ${secs(insertMs)} s, trends query ${secs(trendsMs)} s, close ${secs(closeMs)} s`,
      },
      {
        group: 'results', name: `catalogue run recorded in a PGlite store of ${SEEDED_RUNS} runs (CPU of the run: winpv and its simulator processes)`, value: tree1 / 1000, unit: 's',
        baseline: { name: 'same run, --db none', value: tree0 / 1000 }, ratio: ratioOf(tree1, tree0, true), lowerIsBetter: true,
        note: `the store adds ${secs(tree1 - tree0)} s CPU, ${pct(tree0, tree1)} of the run's (runs none ${none.map((x) => secs(x.treeMs)).join(', ')} s, recorded ${recorded.map((x) => secs(x.treeMs)).join(', ')} s); ` +
          `with the cores busy the wall grows by that over the cores (${secs((tree1 - tree0) / cpus().length)} s on ${cpus().length}), less what start-up and the end's idle core hide`,
      },
      {
        group: 'results', name: 'winpv history over 10,000 runs (PGlite)', value: h10k, unit: 'ms',
        baseline: { name: 'same query over 100 runs', value: h100 }, ratio: ratioOf(h10k, h100, true), lowerIsBetter: true, note: 'budget < 1 s; the store opened afresh before the query, as winpv history opens it',
      },
    ];
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
