// Real runs on the simulated host for the report tests: a passing run (connect, block I/O, a
// reboot, a hot-unplug and re-plug) and a failing one (the same plus a backend that stalls under
// I/O, caught by ring-progress). The report is judged on the traces the harness really writes.
import type { RunSummary } from '../../src/model/result';
import type { TraceEvent } from '../../src/model/trace';
import type { FaultConfig, Step } from '../../src/model/scenario';
import type { HostBackend } from '../../src/model/host';
import { loadSpecs } from '../../src/spec/load';
import { runPlan } from '../../src/runner/run';
import { TraceWriter } from '../../src/trace/writer';
import { ReporterMultiplexer } from '../../src/report/multiplexer';
import { scenario, install, waitConnected, block, sleep } from '../fixtures/scenarios';
import { vbdShape } from '../fixtures/fake-host';

const src = { file: 'harness/test/report/sim-run.ts' };
const DEV = 'vbd/51712' as const;
const unplug = (action: 'unplug' | 'plug'): Step => ({ kind: 'hotplug', source: src, guest: 'win', action, device: DEV, surprise: false });
const stall: FaultConfig = { name: 'backend-stall', guest: 'win', device: DEV, params: {}, durationMs: 3000 };

const lifecycle = (): Step[] => [install(), waitConnected(), waitConnected('vif/0'), block(1500), { kind: 'reboot', source: src, guest: 'win' }, waitConnected(), unplug('unplug'), sleep(500), unplug('plug'), waitConnected(), block(1000)];

export interface SimRun {
  summary: RunSummary;
  events: TraceEvent[];
}

export async function simRun(failing: boolean): Promise<SimRun> {
  const specs = loadSpecs();
  const { SimHost } = require('../../src/hosts/sim') as { SimHost: new (o: { specs: ReturnType<typeof loadSpecs> }) => HostBackend };
  const good = scenario('lifecycle-io', lifecycle(), { tags: ['smoke', 'nightly'], drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'] });
  const diskOnly = [{ name: 'win', os: 'windows' as const, vcpus: 2, memoryMiB: 2048, vbds: [vbdShape()], vifs: [] }];
  const quick = scenario('vbd-quick', [install(), waitConnected(), block(800)], { tags: ['smoke'], drivers: ['xenbus', 'xenvbd'], guests: diskOnly });
  const bad = scenario(
    'stall-under-io',
    [install(), waitConnected(), { kind: 'parallel', source: src, branches: [[block(5000)], [sleep(1000), { kind: 'fault', source: src, fault: stall }]] }],
    { tags: ['nightly'], drivers: ['xenbus', 'xenvbd'], guests: diskOnly },
  );
  const list = failing ? [quick, bad, good] : [good, quick];
  const host = new SimHost({ specs });
  const trace = new TraceWriter();
  const outcome = await runPlan({
    host,
    plan: { seed: 11, instances: list.map((s) => ({ id: s.name, scenario: s, params: {} })) },
    specs,
    specHashes: {},
    trace,
    reporter: new ReporterMultiplexer([]),
  });
  return { summary: outcome.summary, events: [...trace.events] };
}
