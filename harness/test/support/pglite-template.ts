// Fresh PGlite stores for the tests, copied from one data directory PGlite initialised. PGlite's
// initdb costs 3.7-4.5 s of CPU per new data directory on this project's 2-core machines, against
// 0.4 s to open an existing one (docs/performance.md, "The test suite"), and the suite made about
// twenty; a copy of a directory initdb made once per PGlite version costs a few tens of ms. The
// copy holds PGlite's own initialisation and nothing of winpv's: the store's schema is still made
// by winpv's migrations when a test opens it. The first open of an empty directory (initdb in the
// product's path) stays tested where a test names an empty directory itself (thread-store.test.ts,
// the CLI tests that pass `--db` a new directory).
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { openPglite } from '../../src/results/pglite';

let ready: Promise<string> | undefined;

function pgliteVersion(): string {
  const pkg = join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

/** The initialised data directory, made once per PGlite version and user; test files running side
 *  by side may both make one, and the first rename wins (a rename is atomic, so no copy ever sees
 *  a template half made). */
async function template(): Promise<string> {
  const final = join(tmpdir(), `winpv-test-pglite-${pgliteVersion()}-${process.getuid?.() ?? 0}`);
  if (existsSync(join(final, 'PG_VERSION'))) return final;
  const work = mkdtempSync(join(tmpdir(), 'winpv-test-pglite-making-'));
  const db = await openPglite(join(work, 'store'));
  await db.close();
  try {
    renameSync(join(work, 'store'), final);
  } catch (e) {
    if (!existsSync(join(final, 'PG_VERSION'))) throw e; // not another file's template: a real failure
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return final;
}

/** A new PGlite data directory at `<a new temporary directory>/store`, PGlite-initialised and
 *  without winpv's schema; `root` is the temporary directory (remove it to clean up). */
export async function freshPgliteStore(prefix = 'winpv-store-'): Promise<{ root: string; target: string }> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  return { root, target: await pgliteStoreAt(join(root, 'store')) };
}

/** The same, at `target` (a path not yet there, in a directory the test made); returns target. */
export async function pgliteStoreAt(target: string): Promise<string> {
  cpSync(await (ready ??= template()), target, { recursive: true });
  return target;
}
