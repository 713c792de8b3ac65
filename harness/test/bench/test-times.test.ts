import t from 'tap';
import { formatSlowest, parseTapTimes } from '../../src/bench/test-times';
import { SLOW_TEST_REASONS, slowReason } from '../../src/bench/slow-tests';

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
  t.match(text, / 1\. +2\.1 s +98\.6% +harness\/test\/a\.test\.ts\n +slowest: boots a pool \(2\.0 s\); quick \(0\.0 s\)/);
  t.notMatch(text, /why:/, 'a file with no line in the table has no reason printed');
  t.notMatch(text, /b\.test\.ts/);
});

t.test('a file in the table of slow files is printed with its reason', async (t) => {
  const files = parseTapTimes(TAP.replace(/harness\/test\/a\.test\.ts/g, 'harness/test/hosts/xapi/run.test.ts'));
  const text = formatSlowest(files, 2);
  t.match(text, / 1\. .*hosts\/xapi\/run\.test\.ts\n +why: the whole catalogue .*\n +slowest: boots a pool/);
  t.equal(slowReason('hosts/xapi/run.test.ts'), SLOW_TEST_REASONS['harness/test/hosts/xapi/run.test.ts'], 'found by a path under the repository too');
  t.equal(slowReason('harness/test/bench/figure.test.ts'), undefined);
});
