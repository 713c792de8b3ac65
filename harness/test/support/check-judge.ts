// What the per-check test files (harness/test/checks/<check>.test.ts) share: the fixture driver specs,
// hand-built traces (TraceBuilder) and one check's verdict on a trace, as the live run judges it.
import { evaluate } from '../../src/checks/evaluate';
import type { CheckName } from '../../src/model/catalog';
import type { CheckResult } from '../../src/model/result';
import { fixtureSpecs } from '../fixtures/specs';
import type { TraceBuilder } from '../fixtures/trace-builder';

export { TraceBuilder } from '../fixtures/trace-builder';

export const specs = fixtureSpecs();

/** The verdict of `check` on the first instance of the trace. */
export const judge = (events: ReturnType<TraceBuilder['end']>, check: CheckName): CheckResult =>
  evaluate(events, specs)[0].checks.find((c) => c.check === check)!;
