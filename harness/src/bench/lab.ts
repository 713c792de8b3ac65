// Probe overhead on real Xen (`npm run bench -- lab`, run by CI's lab step once `winpv lab up` is
// done): the same block and network workload in the lab's Linux PV guest with the probes on (the
// xenstore watch probe and the ring probe sampling netback's debugfs and blkback's counters through
// dom0) and off, interleaved; the throughput ratio on/off is the probes' cost (goal >= 0.97). And
// the harness's own time per instance against the workload's, boot excluded (goal <= 1.5): what
// the harness adds around the workload on a real host. With no lab running it says so and measures
// nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BenchFigure } from './figure';
import { ratioOf } from './figure';
import { median } from '../model/regression';
import type { RunStartEvent, TraceEvent, WorkloadEvent } from '../model/trace';
import { TRACE_SCHEMA } from '../model/trace';
import { loadSpecs } from '../spec/load';
import { loadScenarios } from '../scenario';
import { plan } from '../plan/planner';
import { HostWorker, runOnWorkers } from '../runner/pool';
import { TraceWriter } from '../trace/writer';
import { ReporterMultiplexer } from '../report/multiplexer';
import { createLabHost } from '../hosts/xl/index';
import { resolveLabDir } from '../cli/config';

/** Seconds each workload runs: 25 ring samples at the probe's 200 ms period, short enough for CI's lab step. */
const WORKLOAD_S = 5;
/** Runs per setting, on then off: one each keeps CI's lab step near 5 min (each run boots a TCG guest,
 *  1-2 min); the figures are noisy, a trend to read across runs. WINPV_BENCH_LAB_REPEATS asks for more
 *  (interleaved, medians reported) where the time is there. */
const REPEATS = Math.max(1, Math.min(10, Number.parseInt(process.env.WINPV_BENCH_LAB_REPEATS ?? '', 10) || 1));

const SCENARIO = `<?xml version="1.0" encoding="UTF-8"?>
<scenario name="bench-lab-probes" timeout="10m">
  <title>Bench: block and network workload in the lab's Linux PV guest</title>
  <tags>lab</tags>
  <drivers>xenbus</drivers>
  <needs>linux-guest</needs>
  <guest name="ref" os="linux" vcpus="1" memory="128M">
    <vbd vdev="xvda" size="64M"/>
    <vif devid="0"/>
  </guest>
  <steps>
    <wait guest="ref" path="device/vbd/51712/state" equals="4" timeout="240s"/>
    <wait guest="ref" path="device/vif/0/state" equals="4" timeout="240s"/>
    <block guest="ref" device="xvda" block-size="64K" queue-depth="1" write-percent="50" pattern="sequential" duration="${WORKLOAD_S}s"/>
    <net guest="ref" device="vif/0" threads="1" direction="send" duration="${WORKLOAD_S}s"/>
  </steps>
  <checks only="true"><check name="workload"/></checks>
</scenario>
`;

interface LabRun {
  wallMs: number;
  blockMBps: number;
  netMbps: number;
  /** Host ms from the scenario's start to the end of its last wait (the guest booted and connected). */
  bootMs: number;
  workloadS: number;
  /** Host ms from the end of the last workload to the scenario's end (its checks and the guest's
   *  destroy), and outside the scenario (the runner's own start and finish around it). */
  teardownMs: number;
  outsideMs: number;
  failed: number;
}

export function measure(events: readonly TraceEvent[], wallMs: number, failed: number): LabRun {
  const work = events.filter((e): e is WorkloadEvent => e.ev === 'workload');
  const block = work.find((w) => w.result.kind === 'block')?.result;
  const net = work.find((w) => w.result.kind === 'net')?.result;
  const start = events.find((e) => e.ev === 'scenario.start')?.t ?? 0;
  const end = events.find((e) => e.ev === 'scenario.end')?.t;
  const waits = events.filter((e) => e.ev === 'step.end' && (e as { kind?: string }).kind === 'wait');
  return {
    wallMs, failed,
    blockMBps: block?.mbps ?? NaN,
    netMbps: net?.mbps ?? NaN,
    bootMs: waits.length ? waits[waits.length - 1]!.t - start : NaN,
    workloadS: work.reduce((s, w) => s + w.result.seconds, 0),
    teardownMs: end !== undefined && work.length ? end - work[work.length - 1]!.t : NaN,
    outsideMs: end !== undefined ? wallMs - (end - start) : NaN,
  };
}

async function once(file: string, probes: boolean): Promise<LabRun> {
  const specs = loadSpecs();
  const thePlan = plan(loadScenarios([file], tmpdir()), { seed: 1 });
  const runStart = { ev: 'run.start', seq: 0, t: 0, schema: TRACE_SCHEMA, seed: 1, host: { kind: 'xl', label: 'lab', capabilities: [] }, specs: {}, instances: [] } as RunStartEvent;
  const worker = new HostWorker({ label: 'lab', slots: 1, fresh: false, seed: 1, specs, runStart, probes, make: () => createLabHost(resolveLabDir({}, process.env)) });
  const why = await worker.open();
  if (why) throw new Error(`the lab did not open: ${why}`);
  const trace = new TraceWriter();
  const t0 = performance.now();
  const out = await runOnWorkers({ plan: thePlan, specs, specHashes: {}, trace, reporter: new ReporterMultiplexer([]), workers: [worker], host: runStart.host });
  return measure(trace.events, performance.now() - t0, out.summary.counts.failed);
}


export async function run(): Promise<BenchFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-bench-lab-'));
  const file = join(dir, 'bench-lab-probes.xml');
  writeFileSync(file, SCENARIO);
  const on: LabRun[] = [];
  const off: LabRun[] = [];
  try {
    for (let k = 0; k < REPEATS; k++) {
      on.push(await once(file, true));
      off.push(await once(file, false));
    }
  } catch (e) {
    return [{ group: 'lab', name: 'probe overhead on real Xen', value: NaN, unit: '-', note: `not measured: ${(e as Error).message} (start the lab first: winpv lab up)` }];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const failed = [...on, ...off].reduce((n, r) => n + r.failed, 0);
  const blockOn = median(on.map((r) => r.blockMBps));
  const blockOff = median(off.map((r) => r.blockMBps));
  const netOn = median(on.map((r) => r.netMbps));
  const netOff = median(off.map((r) => r.netMbps));
  // the harness's time around the workload: the instance's wall time minus the guest's boot and connect
  const harnessPerWork = median(on.map((r) => (r.wallMs - r.bootMs) / 1000 / r.workloadS));
  // where that time went besides the workloads: the steps between them, the teardown, the runner
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const split = (r: LabRun) => `workloads ${r.workloadS.toFixed(1)} s, between them ${s(r.wallMs - r.bootMs - r.workloadS * 1000 - r.teardownMs - r.outsideMs)} s, checks and teardown ${s(r.teardownMs)} s, runner outside the scenario ${s(r.outsideMs)} s`;
  const runs = `${REPEATS === 1 ? "one run each, on then off" : `median of ${REPEATS} interleaved runs each`}; ${failed} of ${2 * REPEATS} runs not ok`;
  const each = (k: 'blockMBps' | 'netMbps') => `; runs on ${on.map((r) => r[k].toFixed(1)).join(', ')}, off ${off.map((r) => r[k].toFixed(1)).join(', ')}`;
  return [
    { group: 'lab', name: `block ${WORKLOAD_S} s, 64K seq 50 % write, probes on`, value: blockOn, unit: 'MB/s', baseline: { name: 'probes off, same run', value: blockOff }, ratio: ratioOf(blockOn, blockOff), note: `goal >= 0.97; ${runs}${each('blockMBps')}` },
    { group: 'lab', name: `net ${WORKLOAD_S} s send, probes on`, value: netOn, unit: 'Mbit/s', baseline: { name: 'probes off, same run', value: netOff }, ratio: ratioOf(netOn, netOff), note: `goal >= 0.97; ${runs}${each('netMbps')}` },
    { group: 'lab', name: 'harness wall time per instance / workload time, boot excluded', value: harnessPerWork, unit: 'x', lowerIsBetter: true, note: `goal <= 1.5; boot = scenario start to the last wait for Connected (median ${(median(on.map((r) => r.bootMs)) / 1000).toFixed(1)} s); after boot, per run with the probes on: ${on.map(split).join('; ')}` },
  ];
}
