// A run streams its trace (issue 21 item 8): each instance is judged from its own section as it ends
// and then let go, so what the run holds afterwards does not grow with its trace. 2,000 small
// instances on a test host; the heap is measured after a full collection (no timing is asserted).
import t from 'tap';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { runPlan } from '../../src/runner/run';
import { TraceWriter } from '../../src/trace/writer';
import { readTraceFile } from '../../src/trace/reader';
import { evaluate } from '../../src/checks/evaluate';
import { FakeHost } from '../fixtures/fake-host';
import { fixtureSpecs } from '../fixtures/specs';
import { install, planOf, scenario, sleep } from '../fixtures/scenarios';

const specs = fixtureSpecs();
const INSTANCES = 2000;
// 2,000 instances take minutes on a loaded machine: a deadline of its own, well above tap's default
t.setTimeout(1_200_000);

// a full collection on demand, without starting node with --expose-gc
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapUsed = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

async function bigRun(dir: string, keep: boolean, instances = INSTANCES) {
  const file = join(dir, `trace-${keep}.jsonl`);
  const plan = planOf(...Array.from({ length: instances }, (_, i) => scenario(`s${i}`, [install(), sleep(1000)])));
  const trace = new TraceWriter({ file, keep });
  const before = heapUsed();
  const outcome = await runPlan({ host: new FakeHost(), plan, specs, specHashes: {}, trace, reporter: {}, ringPeriodMs: 20 });
  const retained = heapUsed() - before;
  return { file, trace, outcome, retained, bytes: statSync(file).size };
}

t.test(`a run of ${INSTANCES} instances keeps its results, not its trace`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-stream-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const streamed = await bigRun(dir, false);
  t.equal(streamed.outcome.summary.counts.instances, INSTANCES, 'every instance was judged');
  t.throws(() => streamed.trace.events, /streamed and keeps no events/, 'the run\'s trace holds no events to read back');
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  t.comment(`trace ${mib(streamed.bytes)}; retained after the run ${mib(streamed.retained)}`);
  t.ok(streamed.retained < streamed.bytes / 5, `retained ${mib(streamed.retained)}, far below the trace's ${mib(streamed.bytes)}`);
  // the file is the whole run, and judged again from it gives what the run reported
  const back = readTraceFile(streamed.file);
  t.equal(back.complete, true);
  t.same(evaluate(back.events, specs), streamed.outcome.summary.instances, 'the trace re-checks to the same verdicts');

  // the measure can fail: a run (an eighth of the size) whose trace keeps its events is over the same
  // bound (events in memory take roughly a third to two thirds of their JSON's size)
  const kept = await bigRun(dir, true, INSTANCES / 8);
  t.ok(kept.retained > kept.bytes / 5, `a trace kept in memory retains ${mib(kept.retained)} (trace ${mib(kept.bytes)}): over the bound`);
});
