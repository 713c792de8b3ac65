// One field scenario's proof, shared by the sim-field*.test.ts files (split so that no file runs
// long enough to meet tap's per-file deadline on a loaded machine): the catalogue file, run by the
// real runner on the simulated host, passes with the correct driver model, and with that bug planted
// in the simulated driver (the scenario-level <faults> of FAULTS, added to a copy of the file)
// reports `not ok` with the named check, whose TAP YAML names the cause.
import type { Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAULTS, type CheckName, type FaultName } from '../../src/model/catalog';
import { loadScenarios } from '../../src/scenario';
import { plan } from '../../src/plan';
import { runPlanned } from '../support/run-plan';
import { SimHost } from '../../src/hosts/sim';
import { renderInstance } from '../../src/report/tap';
import type { InstanceResult } from '../../src/model/result';
import { specs } from './sim-fixture';

const SCENARIOS = join(__dirname, '../../../scenarios');

export interface FieldCase {
  file: string;
  /** The planted driver bug the scenario must catch. */
  planted: FaultName;
  /** The check that reports it and what its YAML must say. */
  check: CheckName;
  cause: RegExp;
  /** For a scenario with a matrix: the one instance to prove it on (a --grep pattern). */
  instance?: string;
}

async function runScenario(t: Test, file: string, planted?: FaultName, instance?: string): Promise<InstanceResult> {
  let xml = readFileSync(join(SCENARIOS, file), 'utf8');
  if (planted) xml = xml.replace('<steps>', `<faults><fault name="${planted}"/></faults>\n  <steps>`);
  const dir = mkdtempSync(join(tmpdir(), 'winpv-field-'));
  try {
    writeFileSync(join(dir, file), xml);
    const host = new SimHost({ specs });
    const p = plan(loadScenarios([dir], dir), { seed: 7, capabilities: host.capabilities, faults: host.faults.supported, hostKind: host.kind, ...(instance ? { grep: instance } : {}) });
    const { outcome: out } = await runPlanned({ host, plan: p, specs });
    t.equal(out.summary.instances.length, 1, `${file}: one instance`);
    return out.summary.instances[0];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Registers the proof of each case as a subtest of t. */
export function proveFieldCases(t: Test, cases: readonly FieldCase[]): void {
  for (const c of cases) {
    t.test(`${c.file}: passes with the correct driver model, fails with ${c.planted}`, async (t) => {
      t.equal(FAULTS[c.planted].caughtBy, c.check, 'the planted fault is the one FAULTS says this check catches');
      const ok = await runScenario(t, c.file, undefined, c.instance);
      t.equal(ok.verdict, 'pass', `correct model: ${ok.checks.filter((x) => x.verdict === 'fail').map((x) => `${x.check}: ${x.message}`).join('; ')}${ok.aborted ? ` (aborted: ${ok.aborted.message})` : ''}`);
      const bad = await runScenario(t, c.file, c.planted, c.instance);
      t.equal(bad.verdict, 'fail', 'planted bug: the instance fails');
      const check = bad.checks.find((x) => x.check === c.check);
      t.equal(check?.verdict, 'fail', `planted bug: ${c.check} fails`);
      const tap = renderInstance(1, bad, 7);
      t.match(tap, /^not ok 1 /m, 'TAP says not ok');
      const point = new RegExp(`not ok \\d+ - ${c.check}: [^\\n]*\\n\\s*---\\n\\s*check: "${c.check}"`);
      t.match(tap, point, 'a not ok point of the check, its YAML naming the check');
      t.match(tap, c.cause, 'and the cause');
    });
  }
}
