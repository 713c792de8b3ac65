// No file of harness/src over MAX_LINES (issue #21 point 7: small modules with one job). A file
// that grows past it is split along its jobs, not added to the exceptions.
import t from 'tap';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listSources } from './import-rules';

const MAX_LINES = 450;

/**
 * Files still waiting for their split, each with why (remove an entry once its file is split: the
 * test fails while an exception is no longer needed). None now: keep it so.
 */
const EXCEPTIONS: Record<string, string> = {};

/** Files of a source tree over `max` lines, with their line counts. */
function oversize(root: string, max: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of listSources(root)) {
    const n = readFileSync(join(root, f), 'utf8').split('\n').length;
    if (n > max) out.set(f, n);
  }
  return out;
}

const src = join(__dirname, '..', '..', 'src');

t.test(`no file of harness/src over ${MAX_LINES} lines`, async (t) => {
  const big = oversize(src, MAX_LINES);
  const unexpected = [...big].filter(([f]) => !(f in EXCEPTIONS)).map(([f, n]) => `${f}: ${n} lines`);
  t.same(unexpected, [], `split along its jobs:\n${unexpected.join('\n')}`);
  for (const f of Object.keys(EXCEPTIONS)) t.ok(big.has(f), `${f} is still over ${MAX_LINES} lines (remove it from EXCEPTIONS once split)`);
});

t.test('a planted long file is reported with its length', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'winpv-size-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'report'));
  writeFileSync(join(root, 'report', 'big.ts'), 'export const x = 1;\n'.repeat(MAX_LINES + 10));
  writeFileSync(join(root, 'report', 'small.ts'), 'export const y = 1;\n');
  t.same([...oversize(root, MAX_LINES)], [['report/big.ts', MAX_LINES + 11]]);
});
