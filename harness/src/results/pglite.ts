// The embedded store: PGlite (Postgres compiled to WASM) on a data directory, in this thread. Its
// settings and the error a directory it cannot open gives are shared with the PGlite that runs in a
// thread of its own (db-thread.ts), so both open a store alike.
import { mkdirSync } from 'node:fs';
import { WinpvError } from '../model/errors';
import type { Db } from './sql';

/** Postgres' default shared_buffers (128 MB) is zeroed by every start of the WASM build: measured,
 *  0.7 s of the 1.5 s CPU an open of an existing store cost (docs/performance.md). The store's working
 *  set is a few MB (10,000 recorded runs included), so 16 MB keeps it cached for a tenth of that. */
export const PGLITE_SETTINGS: readonly string[] = ['-c', 'shared_buffers=16MB'];

/** A store PGlite could not start on (a corrupt data directory): left as it is, and how to go on. */
export function storeCorrupt(dir: string, e: unknown): WinpvError {
  return new WinpvError('input', 'RESULTS_DIR_CORRUPT',
    `the results store in ${dir} cannot be opened (${(e as Error)?.message ?? e}); it was left as it is. ` +
    `Move it aside (mv ${dir} ${dir}.broken) and load the runs again with winpv results import reports/<run> for each run, or point --db at another store`, { cause: e });
}

/** PGlite on a data directory checked by db.ts, in the calling thread. */
export async function openPglite(dir: string): Promise<Db> {
  mkdirSync(dir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  let pg: InstanceType<typeof PGlite>;
  try {
    pg = new PGlite(dir, { startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS] });
    await pg.waitReady;
    await pg.query('SELECT 1');
  } catch (e) {
    throw storeCorrupt(dir, e);
  }
  return {
    label: dir,
    async query<R>(sql: string, params: unknown[] = []) {
      return (await pg.query(sql, params)).rows as R[];
    },
    async transaction<T>(fn: (q: Db['query']) => Promise<T>) {
      return pg.transaction(async (tx) => fn(async <R>(sql: string, params: unknown[] = []) => (await tx.query(sql, params)).rows as R[]));
    },
    async close() {
      await pg.close();
    },
  };
}
