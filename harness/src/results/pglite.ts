// The embedded store: PGlite (Postgres compiled to WASM) on a data directory, in this thread. Its
// settings and the error a directory it cannot open gives are shared with the PGlite that runs in a
// thread of its own (db-thread.ts), so both open a store alike.
import { mkdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { WinpvError } from '../model/errors';
import type { Db, Statement } from './sql';

/** Postgres' default shared_buffers (128 MB) is zeroed by every start of the WASM build: measured,
 *  0.7 s of the 1.5 s CPU an open of an existing store cost (docs/performance.md). The store's working
 *  set is a few MB (10,000 recorded runs included), so 16 MB keeps it cached for a tenth of that. */
export const PGLITE_SETTINGS: readonly string[] = ['-c', 'shared_buffers=16MB'];

/** V8 flags set before PGlite's WASM is compiled: Liftoff (V8's baseline WASM compiler) only, no
 *  TurboFan tier-up. A store session is short (open, a few queries, close), and V8's dynamic tiering
 *  spent more CPU compiling Postgres' hot functions with TurboFan, on its background threads, than
 *  the optimised code saved: measured (docs/performance.md, round 3) an open of an existing store
 *  1.2-1.5 -> 0.73-0.93 s CPU, and the run's history query, insert and schema check about a third of
 *  their CPU each. The flags are process-wide (V8 has no other way); PGlite is the only WASM winpv
 *  runs. x64 and arm64 only: where Liftoff compiles every function PGlite has (measured on x64;
 *  elsewhere V8 keeps its default). */
export const PGLITE_V8_FLAGS: readonly string[] = process.arch === 'x64' || process.arch === 'arm64' ? ['--liftoff-only'] : [];

/** Sets PGLITE_V8_FLAGS in this process (before its first PGlite). */
export function setPgliteV8Flags(): void {
  for (const f of PGLITE_V8_FLAGS) setFlagsFromString(f);
}

/** A store PGlite could not start on (a corrupt data directory): left as it is, and how to go on. */
export function storeCorrupt(dir: string, e: unknown): WinpvError {
  return new WinpvError('input', 'RESULTS_DIR_CORRUPT',
    `the results store in ${dir} cannot be opened (${(e as Error)?.message ?? e}); it was left as it is. ` +
    `Move it aside (mv ${dir} ${dir}.broken) and load the runs again with winpv results import reports/<run> for each run, or point --db at another store`, { cause: e });
}

/** PGlite on a data directory checked by db.ts, in the calling thread. */
export async function openPglite(dir: string): Promise<Db> {
  mkdirSync(dir, { recursive: true });
  setPgliteV8Flags();
  const { PGlite } = await import('@electric-sql/pglite');
  let pg: InstanceType<typeof PGlite>;
  try {
    pg = new PGlite(dir, { startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS] });
    await pg.waitReady; // ends with PGlite's own first query (its array types): a store it cannot start on fails here
  } catch (e) {
    throw storeCorrupt(dir, e);
  }
  return {
    label: dir,
    async query<R>(sql: string, params: unknown[] = []) {
      return (await pg.query(sql, params)).rows as R[];
    },
    batch(statements) {
      return runBatch(pg, statements);
    },
    async close() {
      await pg.close();
    },
  };
}

/** A PGlite connection as runBatch needs it (PGlite's own type, which the store's thread, running
 *  this function from its source text, cannot import). */
export interface PgliteTx {
  transaction<T>(fn: (tx: { query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }> }) => Promise<T>): Promise<T>;
}

/** Db.batch on a PGlite connection: the statements in order in one of its transactions. Also run in
 *  the store's thread from its source text (db-thread.ts), so it uses nothing from outside its body. */
export function runBatch(pg: PgliteTx, statements: readonly Statement[]): Promise<unknown[][]> {
  return pg.transaction(async (tx) => {
    const rows: unknown[][] = [];
    for (const s of statements) rows.push((await tx.query(s.sql, s.params ?? [])).rows);
    return rows;
  });
}
