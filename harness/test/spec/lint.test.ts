import t from 'tap';
import { rmSync } from 'node:fs';
import { MUTATIONS, SHAPE_RULES } from '../fixtures/spec/mutations';
import { checkSpecs, LINT_RULES } from '../../src/spec';
import { formatProblem } from '../../src/model/errors';
import { applyMutation } from './mutate';

t.test('every lint rule has at least one broken spec', async (t) => {
  const covered = new Set(MUTATIONS.map((m) => m.rule));
  for (const rule of Object.keys(LINT_RULES)) t.ok(covered.has(rule), `a mutation breaks ${rule}`);
  for (const rule of SHAPE_RULES) t.ok(covered.has(rule), `a mutation breaks ${rule}`);
});

for (const m of MUTATIONS) {
  t.test(`${m.rule}: ${m.file} ${m.edits.map((e) => e[1].split('\n')[0].trim()).join(' / ') || m.renameTo || m.copyTo}`, async (t) => {
    const a = applyMutation(m);
    t.teardown(() => rmSync(a.dir, { recursive: true, force: true }));
    const r = checkSpecs(a.dir, a.dir);
    const shown = r.problems.map(formatProblem).join('\n');
    const hit = r.problems.find((p) => p.rule === m.rule && p.location.file === a.expect.file && p.location.path === a.expect.path);
    t.ok(hit, `${m.rule} reported at ${a.expect.file} ${a.expect.path}; got:\n${shown}`);
    if (hit) t.equal(hit.location.line, a.expect.line, `line of ${m.rule}: ${formatProblem(hit)}`);
    t.ok(hit?.location.column && hit.location.column > 0, 'a column is given');
    // No stray complaints about files the mutation did not touch (except cross-file rules naming the other end).
    const untouched = r.problems.filter((p) => p.location.file !== a.file && p.location.file !== a.expect.file && p.location.file !== m.copyTo && !['interface-version', 'revision-exists', 'parent-is-bus', 'build-cycle', 'build-depends'].includes(p.rule ?? ''));
    t.same(untouched.map(formatProblem), [], 'other files stay clean');
  });
}
