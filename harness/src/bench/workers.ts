// Parallel runs (`npm run bench workers`): the default catalogue on the simulator with --workers 2
// against --workers 1 in the same run (wall time; goal 1.7x on 2 cores, on a machine nobody else
// uses), both run as a user runs `winpv run`; the machine's own ceiling for that ratio (the catalogue's
// two shards as two independent `winpv run` processes at once: no coordination, no IPC, only the
// cores, caches and memory the two processes share, and each one's start-up); and 64 instances on
// one simulated host of capacity 16 against the same 64 on capacity 1 (simulated host time: what a
// real host with that capacity would save, since the simulator's clock is virtual and costs no wall
// time while guests wait).
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BenchFigure } from './figure';
import { ratioOf } from './figure';
import type { HostBackend } from '../model/host';
import type { RunStartEvent } from '../model/trace';
import { TRACE_SCHEMA } from '../model/trace';
import { loadSpecs } from '../spec/load';
import { loadScenarios } from '../scenario';
import { plan } from '../plan/planner';
import { HostWorker, runOnWorkers } from '../runner/pool';
import { TraceWriter } from '../trace/writer';
import { ReporterMultiplexer } from '../report/multiplexer';
import { createHost } from '../hosts/factory';

const repo = resolve(__dirname, '..', '..', '..');
/** Fault-free scenarios for the shared host: a host-wide fault would reach every instance on it. */
const SHARED = ['scenarios/vbd-connect.xml', 'scenarios/vif-connect.xml', 'scenarios/flush.xml', 'scenarios/multi-queue-vbd.xml'];

/** CPU time (user + system, ms) of this process's reaped children, grandchildren included (/proc/self/stat cutime, cstime). */
export function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 10; // fields 16 and 17, in clock ticks of 10 ms (USER_HZ 100)
}

const winpv = resolve(__dirname, '..', '..', 'bin', 'winpv');
const RUN_ARGS = ['run', '--seed', '1', '--reporter', 'none', '--db', 'none'];

/** Runs the default catalogue with `workers`; `keepDurations` receives the run's durations file
 *  (what --shard balances by) before its report directory goes. */
async function catalogue(workers: number, keepDurations?: string): Promise<{ wallMs: number; cpuMs: number; tap: string; instances: number; failed: number }> {
  const reports = mkdtempSync(join(tmpdir(), `winpv-bench-workers-${workers}-`));
  try {
    const t0 = performance.now();
    const c0 = childrenCpuMs();
    try {
      execFileSync(process.execPath, [winpv, ...RUN_ARGS, '--workers', String(workers), '--report-dir', reports], { stdio: 'ignore' });
    } catch {
      // exit 1: a check failed; the time still stands, the note says how many
    }
    const wallMs = performance.now() - t0;
    const cpuMs = childrenCpuMs() - c0;
    if (keepDurations && existsSync(join(reports, 'durations.json'))) copyFileSync(join(reports, 'durations.json'), keepDurations);
    const dir = realpathSync(join(reports, 'latest'));
    const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { counts: { instances: number; failed: number } };
    return { wallMs, cpuMs, tap: readFileSync(join(dir, 'results.tap'), 'utf8'), instances: s.counts.instances, failed: s.counts.failed };
  } finally {
    rmSync(reports, { recursive: true, force: true });
  }
}

/** `winpv run --workers 1 --shard k/n` of the catalogue, started now; resolves with its wall time
 *  and exit status when it exits (non-zero: the time measured something else, the figure says so). */
function shardRun(k: number, n: number, durations: string, reports: string): Promise<{ ms: number; code: number | null }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [winpv, ...RUN_ARGS, '--workers', '1', '--shard', `${k}/${n}`, '--durations', durations, '--report-dir', join(reports, `shard${k}`)], { stdio: 'ignore' });
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('close', (code) => done({ ms: performance.now() - t0, code }));
  });
}

interface Shards {
  bothMs: number;
  /** CPU of the two shard processes together (user+system). */
  cpuMs: number;
  shardMs: [number, number];
  aloneMs: number;
  /** Exit statuses of the three runs that were not 0. */
  failures: string[];
}

/** The machine's ceiling for --workers 2: the catalogue's two shards (balanced by the durations the
 *  one-worker run recorded) as two independent processes at once, and the first shard alone. */
async function independentShards(durations: string): Promise<Shards> {
  const reports = mkdtempSync(join(tmpdir(), 'winpv-bench-shards-'));
  try {
    const t0 = performance.now();
    const c0 = childrenCpuMs();
    const both = await Promise.all([shardRun(1, 2, durations, reports), shardRun(2, 2, durations, reports)]);
    const bothMs = performance.now() - t0;
    const cpuMs = childrenCpuMs() - c0;
    const alone = await shardRun(1, 2, durations, reports);
    const failures = [...both.map((r, i) => ({ ...r, what: `shard ${i + 1} beside the other` })), { ...alone, what: 'shard 1 alone' }].filter((r) => r.code !== 0).map((r) => `${r.what} exited ${r.code}`);
    return { bothMs, cpuMs, shardMs: [both[0]!.ms, both[1]!.ms], aloneMs: alone.ms, failures };
  } finally {
    rmSync(reports, { recursive: true, force: true });
  }
}

async function sharedHost(slots: number, count: number): Promise<{ hostMs: number; wallMs: number; failed: number; instances: number }> {
  const specs = loadSpecs();
  const scenarios = loadScenarios(SHARED, repo);
  const base = plan(scenarios, { seed: 1 });
  const instances = Array.from({ length: count }, (_, k) => {
    const i = base.instances[k % base.instances.length]!;
    return { ...i, id: `${i.id}#${k + 1}` };
  });
  const runStart = { ev: 'run.start', seq: 0, t: 0, schema: TRACE_SCHEMA, seed: 1, host: { kind: 'sim', label: 'sim', capabilities: [] }, specs: {}, instances: [] } as RunStartEvent;
  let host: HostBackend | undefined;
  const sim = { name: 'sim', kind: 'sim', label: 'sim', insecure: false, capacity: slots, labels: [], entry: { url: 'sim', capacity: slots } } as const;
  const worker = new HostWorker({ label: 'sim', slots, fresh: false, seed: 1, specs, runStart, make: () => (host = createHost({ ...sim, labels: [] }, { specs })) });
  const t0 = performance.now();
  let hostMs = 0;
  const out = await runOnWorkers({
    plan: { seed: 1, instances }, specs, specHashes: {}, trace: new TraceWriter(), reporter: new ReporterMultiplexer([]), workers: [worker], host: runStart.host,
    // the host's clock when the last instance ended, read before the pool closes the host
    onStatus: () => (hostMs = host?.clock.now() ?? 0),
  });
  return { hostMs, wallMs: performance.now() - t0, failed: out.summary.counts.failed, instances: out.summary.counts.instances };
}

/** The ceiling figure: the independent shards at once against the one-worker run. */
function ceilingFigure(shards: Shards, oneMs: number, twoCpuMs: number): BenchFigure {
  const secs = (ms: number) => (ms / 1000).toFixed(2);
  return {
    group: 'workers',
    name: "this machine's ceiling for --workers 2: the catalogue's 2 shards as 2 independent runs at once (wall)",
    value: shards.bothMs / 1000,
    unit: 's',
    baseline: { name: '--workers 1, same run', value: oneMs / 1000 },
    ratio: ratioOf(shards.bothMs, oneMs, true),
    lowerIsBetter: true,
    note: `no coordination between the two (each its own winpv run --shard k/2, balanced by the one-worker run's durations), so what --workers 2 can reach here at best; ` +
      `shards ${secs(shards.shardMs[0])} and ${secs(shards.shardMs[1])} s at once, ${secs(shards.cpuMs)} s CPU together (--workers 2: ${secs(twoCpuMs)} s); shard 1 alone ${secs(shards.aloneMs)} s, so beside the other it ran ${(shards.shardMs[0] / shards.aloneMs).toFixed(2)}x as long ` +
      "(the two processes share the cores with each other's compiler and collector threads, and the caches and memory bandwidth)",
    ...(shards.failures.length ? { failed: shards.failures.join('; ') } : {}),
  };
}

export async function run(): Promise<BenchFigure[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'winpv-bench-workers-'));
  const durations = join(tmp, 'durations.json');
  let one, two, shards;
  try {
    one = await catalogue(1, durations);
    two = await catalogue(2);
    shards = await independentShards(durations);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const same = one.tap === two.tap;
  const s1 = await sharedHost(1, 64);
  const s16 = await sharedHost(16, 64);
  return [
    {
      group: 'workers',
      name: `default catalogue on sim, --workers 2 (${two.instances} instances, wall)`,
      value: two.wallMs / 1000,
      unit: 's',
      baseline: { name: '--workers 1, same run', value: one.wallMs / 1000 },
      ratio: ratioOf(two.wallMs, one.wallMs, true),
      lowerIsBetter: true,
      note: `goal >= 1.7x on 2 idle cores; results.tap ${same ? 'identical' : 'DIFFERENT'} between the two; failed ${one.failed} / ${two.failed}`,
      ...(one.failed || two.failed ? { failed: `${one.failed} and ${two.failed} of ${two.instances} instances failed with 1 and 2 workers` } : {}),
    },
    {
      group: 'workers',
      name: 'CPU time of the same catalogue run, --workers 2',
      value: two.cpuMs / 1000,
      unit: 's',
      baseline: { name: '--workers 1, same run', value: one.cpuMs / 1000 },
      ratio: ratioOf(two.cpuMs, one.cpuMs, true),
      lowerIsBetter: true,
      note: 'what the parallelism costs (worker processes starting, events over IPC); on a loaded machine the wall ratio is bounded by the cores the run actually gets',
    },
    ceilingFigure(shards, one.wallMs, two.cpuMs),
    {
      group: 'workers',
      name: '64 instances on one simulated host, capacity 16 (simulated host time)',
      value: s16.hostMs / 1000,
      unit: 's',
      baseline: { name: 'capacity 1, same 64 instances', value: s1.hostMs / 1000 },
      ratio: ratioOf(s16.hostMs, s1.hostMs, true),
      lowerIsBetter: true,
      note: `wall ${(s16.wallMs / 1000).toFixed(1)} s vs ${(s1.wallMs / 1000).toFixed(1)} s (one process: the simulator's CPU work does not shrink); failed ${s16.failed} / ${s1.failed} of ${s16.instances}`,
      ...(s16.failed || s1.failed ? { failed: `${s16.failed} and ${s1.failed} of ${s16.instances} instances failed at capacity 16 and 1` } : {}),
    },
  ];
}
