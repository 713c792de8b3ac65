// Simulator worker processes lay out, judge and digest their own sections, asking the run's process
// for the regression check's history: the trace and verdicts are those of a worker in the run's
// process, baselines included (one history judges the instance a regression, so the check can fail).
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ResolvedHost } from '../../src/model/config';
import type { BaselineSource } from '../../src/model/results';
import type { InstanceResult } from '../../src/model/result';
import type { Reporter } from '../../src/model/reporter';
import { loadSpecs } from '../../src/spec/load';
import { loadScenarios } from '../../src/scenario';
import { plan } from '../../src/plan/planner';
import { createHost } from '../../src/hosts/factory';
import { HostWorker, runOnWorkers, runStartEvent, type Worker } from '../../src/runner/pool';
import { ReporterMultiplexer } from '../../src/report/multiplexer';
import { TraceWriter } from '../../src/trace/writer';
import { ChildSimWorker } from '../../src/cli/sim-workers';

const repo = resolve(__dirname, '..', '..', '..');
const SIM: ResolvedHost = { name: 'sim', kind: 'sim', label: 'sim', insecure: false, capacity: 1, labels: [], entry: { url: 'sim' } };

t.test('worker processes ask the run for baselines and judge as a worker in the run\'s process', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-simw-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // flush with the regression check named: its metrics are asked of the history as each instance ends
  const file = join(dir, 'flush-regression.xml');
  writeFileSync(file, readFileSync(join(repo, 'scenarios', 'flush.xml'), 'utf8').replace('name="flush"', 'name="flush-regression"').replace('</scenario>', '  <checks><check name="regression"><param name="minHistory" value="3"/></check></checks>\n</scenario>'));
  const scenarios = loadScenarios([file, join(repo, 'scenarios', 'vbd-connect.xml')], repo);
  const specs = loadSpecs();
  const thePlan = plan(scenarios, { seed: 5 });
  const asked: string[] = [];
  // a history ten times faster than anything the simulator does: the instance is a regression
  const baselines: BaselineSource = async (q) => {
    asked.push(q.scenario);
    return q.metrics.filter((m) => m.name.endsWith('.iops')).map((m) => ({ metric: m.name, unit: m.unit, better: m.better, values: [1, 1.01, 0.99, 1.02].map((k) => k * m.value * 10), hostClass: 'sim', windowsBuild: 'sim' }));
  };
  const host = { kind: 'sim', label: 'sim', capabilities: [...createHost(SIM, { specs }).capabilities].sort() };
  const runStart = runStartEvent(thePlan, host, {});
  const once = async (workers: Worker[]) => {
    const trace = new TraceWriter();
    const results: InstanceResult[] = [];
    const judged: Reporter = { onInstanceEnd: (r) => void results.push(r) };
    const out = await runOnWorkers({ plan: thePlan, specs, specHashes: {}, trace, reporter: new ReporterMultiplexer([judged]), workers, host, baselines });
    return { lines: trace.events.map((e) => JSON.stringify(e)), results, summary: out.summary };
  };
  const inProcess = await once([new HostWorker({ label: 'sim', slots: 1, fresh: true, seed: 5, specs, runStart, make: () => createHost(SIM, { specs }) })]);
  const asked1 = asked.splice(0);
  const children = await once([1, 2].map((k) => new ChildSimWorker(`sim #${k}`, { seed: 5, specs, runStart, digests: [] })));
  t.same(asked, asked1, 'the same history asked');
  t.ok(children.lines.some((l) => l.includes('"ev":"baseline"')), 'the baselines are in the trace');
  t.same(children.lines, inProcess.lines, 'the trace of worker processes is the trace of a worker in the run\'s process');
  t.same(children.results, inProcess.results, 'and so are the verdicts');
  const reg = children.results.find((r) => r.scenario === 'flush-regression')!.checks.find((c) => c.check === 'regression')!;
  t.equal(reg.verdict, 'fail', `the regression check judged the history the run gave: ${reg.message}`);
});

t.test('a worker process that dies holding an ended section: that instance is aborted, the next runs on a new process', async (t) => {
  const specs = loadSpecs();
  const thePlan = plan(loadScenarios([join(repo, 'scenarios', 'vbd-connect.xml'), join(repo, 'scenarios', 'flush.xml')], repo), { seed: 5 });
  const host = { kind: 'sim', label: 'sim', capabilities: [...createHost(SIM, { specs }).capabilities].sort() };
  const runStart = runStartEvent(thePlan, host, {});
  const child = new ChildSimWorker('sim #1', { seed: 5, specs, runStart, digests: [] });
  let killed = false;
  // the fault: the process is killed after its first instance ended, before the loop writes it
  const dying: Worker = {
    label: child.label, slots: 1, close: () => child.close(),
    run: async (inst, signal, status) => {
      const s = await child.run(inst, signal, status);
      if (!killed) {
        killed = true;
        const proc = (child as unknown as { child: import('node:child_process').ChildProcess }).child;
        await new Promise((done) => (proc.once('exit', done), proc.kill('SIGKILL')));
      }
      return s;
    },
  };
  const results: InstanceResult[] = [];
  const out = await runOnWorkers({ plan: thePlan, specs, specHashes: {}, trace: new TraceWriter(), reporter: new ReporterMultiplexer([{ onInstanceEnd: (r) => void results.push(r) }]), workers: [dying], host });
  t.ok(killed);
  t.equal(results[0]!.verdict, 'fail', 'the instance whose section died with the process fails');
  t.equal(results[0]!.aborted?.code, 'SIM_WORKER_DIED', `aborted: ${results[0]!.aborted?.message}`);
  t.equal(results[1]!.verdict, 'pass', 'the next instance ran on a new worker process');
  t.equal(out.summary.counts.instances, 2);
});
