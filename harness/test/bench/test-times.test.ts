import t from 'tap';
import { formatSlowest, parseTapTimes } from '../../src/bench/test-times';

const TAP = `TAP version 14
# Subtest: harness/test/a.test.ts
    # Subtest: quick
    ok 1 - quick # time=5ms
    # Subtest: boots a pool
        ok 1 - inner # time=900ms
    ok 2 - boots a pool # time=2000ms
    ok 3 - needs xorriso # SKIP xorriso not installed
    1..3
ok 1 - harness/test/a.test.ts # time=2100.5ms
# Subtest: harness/test/b.test.ts
    not ok 1 - fails # time=10ms
not ok 2 - harness/test/b.test.ts # time=30ms
1..2
`;

t.test('file times with their slowest direct subtests as the reason', async (t) => {
  const files = parseTapTimes(TAP);
  t.same(files.map((f) => [f.file, f.ms, f.ok]), [['harness/test/a.test.ts', 2100.5, true], ['harness/test/b.test.ts', 30, false]]);
  t.same(files[0]!.subtests.map((s) => s.name), ['boots a pool', 'quick', 'needs xorriso (skipped)'], 'slowest first; nested subtests are not the file\'s');
  const text = formatSlowest(files, 1, 5000);
  t.match(text, /^2 test files, 2\.1 s summed, 5\.0 s wall; the slowest 1:/);
  t.match(text, / 1\. +2\.1 s +98\.6% +harness\/test\/a\.test\.ts\n +why: boots a pool \(2\.0 s\); quick \(0\.0 s\)/);
  t.notMatch(text, /b\.test\.ts/);
});
