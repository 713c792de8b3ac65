// workload: every block and network workload finished with no more errors than allowed, block data
// verified, throughput at least the baseline minus the tolerance, and latency percentiles under
// their limits; a workload step that ended without a result is a failure.
import type { CheckResult } from '../model/result';
import type { WorkloadEvent } from '../model/trace';
import { Findings, skip } from './findings';
import { afterCrash, numParam, type InstanceView } from './view';

export function workload(v: InstanceView, params: Record<string, string>): CheckResult {
  const f = new Findings('workload');
  const tol = numParam(params, 'tolerancePct', 10);
  const maxErrors = numParam(params, 'maxErrors', 0);
  const floor = (base: number) => base * (1 - tol / 100);
  const latencyLimits = Object.entries(params)
    .map(([k, val]) => [/^maxP(\d+(?:\.\d+)?)Ms$/.exec(k)?.[1], Number(val)] as const)
    .filter((x): x is readonly [string, number] => x[0] !== undefined && Number.isFinite(x[1]));
  const results: WorkloadEvent[] = [];
  const stepsWithResult = new Set<string>();
  for (const e of v.events) {
    if (e.ev !== 'workload') continue;
    stepsWithResult.add(e.step);
    if (afterCrash(v, e.guest, e)) continue;
    results.push(e);
    const r = e.result;
    const label = `${e.guest} ${e.dev} step ${e.step} (${r.kind})`;
    const diag = { at: e.t, seq: e.seq, step: e.step, device: e.dev };
    if (r.errors > maxErrors) f.fail(`${label}: ${r.errors} I/O error${r.errors === 1 ? '' : 's'}`, { ...diag, expected: `at most ${maxErrors} errors`, observed: r.errors });
    if (r.kind === 'block') {
      if (r.verifyErrors > 0) f.fail(`${label}: ${r.verifyErrors} blocks failed verification`, { ...diag, expected: 'data read back as written', observed: r.verifyErrors });
      const minMBps = numParam(params, 'minMBps');
      if (minMBps !== undefined && r.mbps < floor(minMBps)) {
        f.fail(`${label}: ${r.mbps.toFixed(1)} MB/s below baseline ${minMBps} MB/s - ${tol}%`, { ...diag, expected: `>= ${floor(minMBps).toFixed(1)} MB/s`, observed: r.mbps });
      }
      const minIops = numParam(params, 'minIops');
      if (minIops !== undefined && r.iops < floor(minIops)) {
        f.fail(`${label}: ${Math.round(r.iops)} IOPS below baseline ${minIops} - ${tol}%`, { ...diag, expected: `>= ${Math.round(floor(minIops))} IOPS`, observed: r.iops });
      }
      for (const [pct, limit] of latencyLimits) {
        const got = r.latencyMs[pct];
        if (got === undefined) f.fail(`${label}: p${pct} latency was not measured`, { ...diag, expected: `p${pct} <= ${limit} ms`, observed: Object.keys(r.latencyMs) });
        else if (got > limit) f.fail(`${label}: p${pct} latency ${got} ms over the ${limit} ms limit`, { ...diag, expected: `p${pct} <= ${limit} ms`, observed: got });
      }
    } else {
      const minMbps = numParam(params, 'minMbps');
      if (minMbps !== undefined && r.mbps < floor(minMbps)) {
        f.fail(`${label}: ${r.mbps.toFixed(1)} Mbit/s below baseline ${minMbps} Mbit/s - ${tol}%`, { ...diag, expected: `>= ${floor(minMbps).toFixed(1)} Mbit/s`, observed: r.mbps });
      }
    }
  }
  for (const e of v.events) {
    if (e.ev === 'step.end' && e.ok && (e.kind === 'block' || e.kind === 'net') && !stepsWithResult.has(e.step)) {
      f.fail(`step ${e.step} (${e.label}) ended without a workload result`, { at: e.t, seq: e.seq, step: e.step, expected: 'a workload event', observed: 'none' });
    }
  }
  if (results.length === 0 && f.count === 0) return skip('workload', 'the scenario ran no workload');
  const block = results.filter((r) => r.result.kind === 'block').length;
  return f.result(`${block} block and ${results.length - block} network workloads within limits`);
}
