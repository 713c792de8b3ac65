// Field items 7 and 8 on the simulator: a crash dump written through xenvbd's dump path to a backend
// with neither barrier nor flush (crash-dump-without-barrier.xml) and the guest agent reporting again
// after three migrations (guest-agent-after-migration.xml). Each passes with the correct model and
// fails with its planted bug, the named check's YAML naming the cause (field-case.ts); and the dump
// lands in the run's artifacts as a file of its size whose header records the stop code.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { proveFieldCases, type FieldCase } from './field-case';
import { loadScenarios } from '../../src/scenario';
import { plan } from '../../src/plan';
import { runPlan } from '../../src/runner';
import { TraceWriter } from '../../src/trace/writer';
import { SimHost } from '../../src/hosts/sim';
import type { ArtifactEvent } from '../../src/model/trace';
import { DUMP_BYTES, readDumpHeader } from '../../src/sim/windows/crashdump';
import { specs } from './sim-fixture';

const FIELD_CASES: FieldCase[] = [
  {
    file: 'crash-dump-without-barrier.xml', planted: 'dump-flush-unadvertised', check: 'crash-dump',
    cause: /win vbd\/51712: the crash-dump path sent BLKIF_OP_FLUSH_DISKCACHE to a backend that advertises feature-flush-cache=0 \(blkif\.h: recognised only if feature-flush-cache is present\)/,
  },
  {
    file: 'guest-agent-after-migration.xml', planted: 'agent-resume-lost', check: 'guest-metrics',
    cause: /win: 23 of the 25 keys it reported before were not reported again \d+ ms after it was restored: [^\n]*control\/feature-poweroff[^\n]*\n[\s\S]*missing: \[[^\]]*"data\/os_distro"/,
  },
];

proveFieldCases(t, FIELD_CASES);

t.test('the crash dump is collected into the report: MEMORY.DMP of its size, its header recording the stop code', async (t) => {
  const repo = join(__dirname, '../../..');
  const dir = mkdtempSync(join(tmpdir(), 'winpv-dump-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const host = new SimHost({ specs });
  const p = plan(loadScenarios([join(repo, 'scenarios', 'crash-dump-without-barrier.xml')], repo), { seed: 3, capabilities: host.capabilities, faults: host.faults.supported, hostKind: host.kind });
  const trace = new TraceWriter();
  const out = await runPlan({ host, plan: p, specs, specHashes: {}, trace, reporter: {}, artifactsDir: join(dir, 'artifacts') });
  t.equal(out.summary.instances[0].verdict, 'pass', out.summary.instances[0].checks.filter((c) => c.verdict === 'fail').map((c) => c.message).join('; '));
  const a = trace.events.find((e): e is ArtifactEvent => e.ev === 'artifact');
  t.ok(a?.path, `an artifact with a path: ${JSON.stringify(a)}`);
  t.equal(a?.bytes, DUMP_BYTES);
  t.equal(a?.bugcheck, '0x000000E2');
  t.equal(a?.source, 'C:\\Windows\\MEMORY.DMP');
  const file = join(dir, a!.path!);
  t.equal(statSync(file).size, DUMP_BYTES, 'the file in the report has the size the event gives');
  t.same(readDumpHeader(readFileSync(file)), { code: 0xe2 }, 'and its header records the stop code');
});
