// t.same for large values (a whole report page, a run's verdicts, thousands of trace lines). tap's
// comparison (tcompare) formats as it walks, and on values of this size it was a third of a test's
// CPU: 20 s of runner/stream.test.ts's 76 s (docs/performance.md, "Test suite", round 10). Values
// that are deeply and strictly equal are certainly what t.same accepts, so they pass at once; any
// other pair goes to t.same, which decides as it always did and prints its diff.
import { isDeepStrictEqual } from 'node:util';
import type { Test } from 'tap';

export function sameLarge(t: Test, found: unknown, wanted: unknown, message = 'should be equivalent'): boolean {
  if (isDeepStrictEqual(found, wanted)) return t.pass(message);
  return t.same(found, wanted, message);
}
