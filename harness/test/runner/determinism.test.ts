// On the simulator, the same seed and scenarios give a byte-identical trace through the whole run
// path (probes, runner, writer), and a different seed gives a different one.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { HostBackend } from '../../src/model/host';
import { loadSpecs } from '../../src/spec/load';
import { loadScenarios } from '../../src/scenario';
import { plan } from '../../src/plan/planner';
import { runPlanned } from '../support/run-plan';

let SimHost: (new (o: { specs: ReturnType<typeof loadSpecs> }) => HostBackend) | undefined;
try {
  SimHost = require('../../src/hosts/sim').SimHost;
} catch {
  SimHost = undefined;
}
const repo = resolve(__dirname, '..', '..', '..');

t.test('same seed, same bytes', { skip: !SimHost && !process.env.CI ? 'the simulated host is not in this build' : false }, async (t) => {
  const specs = loadSpecs();
  const scenarios = loadScenarios(['scenarios/vbd-connect.xml', 'scenarios/vif-replug-x3.xml'], repo);
  const dir = mkdtempSync(join(tmpdir(), 'winpv-det-'));
  const once = async (seed: number, name: string) => {
    const file = join(dir, name);
    await runPlanned({ host: new SimHost!({ specs }), plan: plan(scenarios, { seed }), specs, traceFile: file });
    return readFileSync(file, 'utf8');
  };
  const a = await once(7, 'a.jsonl');
  const b = await once(7, 'b.jsonl');
  const c = await once(8, 'c.jsonl');
  t.ok(a.length > 10_000, 'a real trace');
  t.equal(a, b, 'identical with the same seed');
  t.not(a, c, 'different with another seed');
});
