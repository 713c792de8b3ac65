// Synthetic run records for the store tests: one scenario, one instance, a throughput metric drawn
// from a seeded noisy distribution.
import type { RunRecord } from '../../src/results/record';
import { mulberry32 } from '../../src/model/mulberry32';

export function runRecord(k: number, o: { value?: number; scenario?: string; verdict?: string; driverVersion?: string; hostKind?: string } = {}): RunRecord {
  const scenario = o.scenario ?? 'vbd-connect';
  return {
    runId: `run-${String(k).padStart(5, '0')}`,
    startedAt: new Date(Date.UTC(2026, 0, 1) + k * 3600_000).toISOString(),
    seed: k,
    hostKind: o.hostKind ?? 'sim',
    hostLabel: 'simulated Xen',
    windowsBuild: 'sim',
    driverVersion: o.driverVersion ?? '9.1.0',
    harnessVersion: '0.1.0',
    complete: true,
    counts: { passed: o.verdict === 'fail' ? 0 : 1, failed: o.verdict === 'fail' ? 1 : 0, skipped: 0, flaky: 0 },
    instances: [{
      inst: scenario, scenario, verdict: o.verdict ?? 'pass', attempts: 1, flaky: false, durationMs: 1000,
      checks: [{ check: 'xenbus-states', verdict: o.verdict ?? 'pass', message: 'vbd/51712: Initialising -> InitWait -> Connected' }],
      metrics: [
        { name: 'xvda.mbps', value: o.value ?? 100, unit: 'MB/s', better: 'higher' },
        { name: 'time.install-drivers', value: 5000, unit: 'ms', better: 'lower' },
      ],
    }],
  };
}

/** n values around `centre` with a relative spread of `noise` (uniform), seeded. */
export function noisy(n: number, centre: number, noise: number, seed = 7): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => centre * (1 + (r() * 2 - 1) * noise));
}
