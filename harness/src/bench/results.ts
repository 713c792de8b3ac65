// The results store's costs: (1) recording one run of the default catalogue, as the extra wall time
// of `winpv run --db <fresh PGlite dir>` over `winpv run --db none` (same seed; budget < 5 %), and
// the recording alone (`results import` of that run, in process); (2) `winpv history` over 10,000
// recorded runs on PGlite (budget < 1 s), against the same query over 100 runs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BenchFigure } from './figure';
import { ratioOf } from './figure';
import { ResultsStore } from '../results/store';
import { readRunDir } from '../results/record';
import { trendsFor } from '../results/trends';

function timedRun(args: string[]): number {
  const winpv = resolve(__dirname, '..', '..', 'bin', 'winpv');
  const t0 = performance.now();
  try {
    execFileSync(process.execPath, [winpv, 'run', '--seed', '1', '--reporter', 'none', ...args], { stdio: 'ignore' });
  } catch {
    // a failed check still gives a timing
  }
  return performance.now() - t0;
}

/** n synthetic runs of one scenario with two metrics, inserted in bulk. */
async function fill(store: ResultsStore, n: number): Promise<void> {
  await store.db.query(`INSERT INTO runs (run_id, started_at, seed, host_kind, host_label, windows_build, driver_version, harness_version, complete, passed, failed, skipped)
    SELECT 'bench-' || g, timestamptz '2026-01-01' + g * interval '1 hour', g, 'sim', 'sim', 'sim', '9.1.' || (g % 50), 'bench', true, 1, 0, 0 FROM generate_series(1, $1) g`, [n]);
  await store.db.query(`INSERT INTO instances (run_id, inst, scenario, verdict, duration_ms) SELECT 'bench-' || g, 'vbd-connect', 'vbd-connect', 'pass', 1000 FROM generate_series(1, $1) g`, [n]);
  await store.db.query(`INSERT INTO metrics (run_id, inst, scenario, name, value, unit, better)
    SELECT 'bench-' || g, 'vbd-connect', 'vbd-connect', m, 2700 + (g * 7919 % 200), 'MB/s', 'higher' FROM generate_series(1, $1) g, unnest(ARRAY['vbd/51712.mbps', 'vbd/51712.iops']) m`, [n]);
}

async function historyMs(n: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-bench-history-'));
  try {
    const store = await ResultsStore.open(join(dir, 'store'));
    await fill(store, n);
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

export async function run(): Promise<BenchFigure[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'winpv-bench-results-'));
  try {
    // the store exists already (PGlite's first open runs initdb, a one-time cost); measured: recording into it
    await (await ResultsStore.open(join(tmp, 'store'))).close();
    const without = timedRun(['--report-dir', join(tmp, 'a'), '--db', 'none']);
    const withStore = timedRun(['--report-dir', join(tmp, 'b'), '--db', join(tmp, 'store')]);
    const runDir = realpathSync(join(tmp, 'a', 'latest'));
    const t0 = performance.now();
    const store = await ResultsStore.open(join(tmp, 'store2'));
    await store.record(readRunDir(runDir));
    await store.close();
    const importMs = performance.now() - t0;
    const h10k = await historyMs(10_000);
    const h100 = await historyMs(100);
    return [
      {
        group: 'results', name: 'catalogue run recorded in PGlite (wall)', value: withStore / 1000, unit: 's',
        baseline: { name: 'same run, --db none', value: without / 1000 }, ratio: ratioOf(withStore, without, true), lowerIsBetter: true,
        note: `recording adds ${(((withStore - without) / without) * 100).toFixed(1)} % (budget < 5 %); recording alone (open, migrate, insert) ${(importMs / 1000).toFixed(2)} s`,
      },
      {
        group: 'results', name: 'winpv history over 10,000 runs (PGlite)', value: h10k, unit: 'ms',
        baseline: { name: 'same query over 100 runs', value: h100 }, ratio: ratioOf(h10k, h100, true), lowerIsBetter: true, note: 'budget < 1 s',
      },
    ];
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
