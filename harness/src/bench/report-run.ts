// A synthetic run of any size for the report benchmark and the report's large-run test: per
// instance what a simulated connect-and-I/O scenario records (scenario.start, guest lifecycle, the
// XenbusState handshake of a vbd's two ends, ring samples, a block workload, scenario.end), with
// every 10th instance failing ring-progress and every 25th skipped. Deterministic: same n, same run.
import type { CheckResult, InstanceResult, RunSummary } from '../model/result';
import { TRACE_SCHEMA, type TraceEvent, type TraceEventInput } from '../model/trace';

export interface SyntheticRun {
  summary: RunSummary;
  events: TraceEvent[];
}

const TAGS = ['smoke', 'nightly', 'release'];
const DRIVER_SETS = [['xenbus', 'xenvbd'], ['xenbus', 'xenvif', 'xennet'], ['xenbus', 'xenvbd', 'xenvif', 'xennet']];

type Emit = (e: TraceEventInput, dt?: number) => TraceEvent;

export function syntheticRun(n: number, ringSamples = 60): SyntheticRun {
  const events: TraceEvent[] = [];
  let seq = 0;
  const clock = { t: 0 };
  const emit: Emit = (e, dt = 1) => {
    clock.t += dt;
    events.push({ ...e, seq: seq++, t: Math.round(clock.t * 1000) / 1000 } as TraceEvent);
    return events[events.length - 1];
  };
  // ids as the planner writes matrix instances, commas included
  const ids = Array.from({ length: n }, (_v, i) => `synthetic-${String(i).padStart(4, '0')}[order=${i % 3},queues=${1 + (i % 4)}]`);
  emit({ ev: 'run.start', schema: TRACE_SCHEMA, seed: 1, host: { kind: 'sim', label: 'sim', capabilities: [] }, specs: {}, instances: ids }, 0);
  const instances = ids.map((inst, i) => syntheticInstance(emit, clock, inst, i, ringSamples));
  emit({ ev: 'run.end', complete: true });
  const failed = instances.filter((r) => r.verdict === 'fail').length;
  const skipped = instances.filter((r) => r.verdict === 'skip').length;
  const checksRun = instances.reduce((k, r) => k + r.checks.length, 0);
  return {
    summary: {
      seed: 1,
      host: { kind: 'sim', label: 'sim' },
      complete: true,
      counts: { instances: n, passed: n - failed - skipped, failed, skipped, checks: checksRun, checksFailed: failed },
      instances,
    },
    events,
  };
}

/** One instance's events (emitted) and its result: every 25th skipped, every 10th failing ring-progress. */
function syntheticInstance(emit: Emit, clock: { t: number }, inst: string, i: number, ringSamples: number): InstanceResult {
  const scenario = `synthetic-${i % 40}`;
  const tags = [TAGS[i % 3], ...(i % 7 === 0 ? ['long'] : [])];
  const base = { inst, scenario, file: `scenarios/${scenario}.xml`, params: { order: String(i % 3), queues: String(1 + (i % 4)) }, tags };
  if (i % 25 === 24) {
    emit({ ev: 'scenario.skip', inst, reason: "host sim lacks 'migrate'" });
    return { ...base, verdict: 'skip', skipReason: "host sim lacks 'migrate'", checks: [], durationMs: 0 };
  }
  const drivers = DRIVER_SETS[i % 3];
  const t0 = clock.t;
  emit({ ev: 'scenario.start', inst, scenario, file: base.file, params: base.params, tags, drivers, guests: [], checks: [], faults: [] });
  const domid = i + 1;
  emit({ ev: 'guest', inst, guest: 'win', domid, what: 'created' });
  emit({ ev: 'guest', inst, guest: 'win', domid, what: 'started' });
  const fe = `/local/domain/${domid}/device/vbd/51712/state`;
  const be = `/local/domain/0/backend/vbd/${domid}/51712/state`;
  for (const [path, v] of [[be, '2'], [fe, '1'], [fe, '3'], [be, '4'], [fe, '4']] as const) emit({ ev: 'xs', inst, guest: 'win', path, value: v }, 2);
  const failing = i % 10 === 3;
  const stuckAt = syntheticRing(emit, inst, i, ringSamples, failing);
  emit({
    ev: 'workload', inst, guest: 'win', step: '3', dev: 'vbd/51712',
    result: { kind: 'block', bytes: 1e9, ios: 250_000, readBytes: 5e8, writeBytes: 5e8, seconds: 6, iops: 41_000 + (i % 50) * 100, mbps: 160 + (i % 13), errors: 0, verifyErrors: 0, latencyMs: { '50': 0.08, '99': 0.3 + (i % 5) / 10 } },
  });
  emit({ ev: 'scenario.end', inst, status: 'completed' });
  const checks: CheckResult[] = [
    { check: 'xenbus-transitions', verdict: 'pass', message: '4 transitions on 2 device ends, all allowed and in order' },
    { check: 'devices-connected', verdict: 'pass', message: '1 connect episode, each Connected on both ends within 30000 ms' },
    failing && stuckAt
      ? { check: 'ring-progress', verdict: 'fail', message: 'win vbd/51712 q0 blk: STUCK: requests pending and no index moved for 1000 ms', diagnostics: { ring: 'win vbd/51712 q0 blk', at: stuckAt.t, seq: stuckAt.seq, expected: 'progress within 1000 ms while work is pending' } }
      : { check: 'ring-progress', verdict: 'pass', message: '1 ring made progress' },
    { check: 'workload', verdict: 'pass', message: '1 block and 0 network workloads within limits' },
  ];
  return { ...base, verdict: failing ? 'fail' : 'pass', checks, durationMs: Math.round(clock.t - t0) };
}

/** The vbd's ring samples; a failing instance's backend stops answering half way (the ring stays
 *  part full and nothing moves): the sample the check names is returned. */
function syntheticRing(emit: Emit, inst: string, i: number, ringSamples: number, failing: boolean): TraceEvent | undefined {
  let req = 0;
  let rsp = 0;
  let stuckAt: TraceEvent | undefined;
  for (let k = 0; k < ringSamples; k++) {
    if (!(failing && k > ringSamples / 2)) {
      req += 8 + ((i * 7 + k * 13) % 9);
      rsp = req - ((k * 5 + i) % 12);
    }
    const e = emit({ ev: 'ring', inst, guest: 'win', dev: 'vbd/51712', queue: 0, ring: 'blk', nr_ents: 32, req_prod: req >>> 0, req_event: req + 1, rsp_prod: rsp >>> 0, rsp_event: rsp + 1, why: 'periodic' }, 200);
    if (failing && k === Math.ceil(ringSamples / 2) + 5) stuckAt = e;
  }
  return stuckAt;
}
