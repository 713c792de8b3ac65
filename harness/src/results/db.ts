// One SQL connection to the results store, embedded (PGlite in a data directory) or a team's
// PostgreSQL (`postgres://`, through `pg`). Both speak the same SQL, so the store above this file
// never asks which one it has. Errors are WinpvErrors that say how to fix them; a URL is always
// shown with its password masked. PGlite runs in this thread, or (`thread: true`, for `winpv run`)
// in a worker thread of its own (db-thread.ts), so its start-up overlaps the run.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WinpvError, infraError, usageError } from '../model/errors';
import { openThreadDb } from './db-thread';
import { openPglite } from './pglite';
import type { BackgroundPriority } from './thread-priority';

import type { Db, Statement } from './sql';
export type { Db } from './sql';

export const isPostgresUrl = (s: string) => /^postgres(ql)?:\/\//i.test(s);

/** The URL with any password replaced by ***. */
export function maskUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/i, '$1:***@').replace(/([?&]password=)[^&]*/i, '$1***');
}

/** Removes every occurrence of the URL's password from a message (pg puts none there, but a driver might). */
function scrub(message: string, url: string): string {
  const m = /^postgres(?:ql)?:\/\/[^:@/]*:([^@/]*)@/i.exec(url);
  let out = message.split(url).join(maskUrl(url));
  if (m && m[1]) out = out.split(m[1]).join('***').split(decodeURIComponent(m[1])).join('***');
  return out;
}

export interface OpenOptions {
  /** PGlite in a worker thread (results/db-thread.ts) instead of this one; PostgreSQL ignores it. */
  thread?: boolean;
  /** That thread at the lowest CPU priority until this says something waits for it (thread-priority.ts). */
  background?: BackgroundPriority;
}

/** Opens `postgres://...` or a PGlite data directory. */
export async function openDb(target: string, opts: OpenOptions = {}): Promise<Db> {
  if (isPostgresUrl(target)) return openPostgres(target);
  const dir = resolve(target);
  checkPgliteDir(dir);
  return opts.thread ? openThreadDb(dir, undefined, opts.background) : openPglite(dir);
}

/** A directory that holds something other than a store is refused before anything writes there. */
function checkPgliteDir(dir: string): void {
  const fresh = !existsSync(dir) || readdirSync(dir).length === 0;
  if (!fresh && !existsSync(join(dir, 'PG_VERSION'))) {
    throw new WinpvError('input', 'RESULTS_DIR_NOT_A_STORE', `${dir} is not a results store (no PG_VERSION): nothing was changed there; point --db at another directory or move its contents away`);
  }
}

async function openPostgres(url: string): Promise<Db> {
  const label = maskUrl(url);
  const { Pool } = await import('pg');
  const pool = new Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 10_000, query_timeout: 60_000 });
  pool.on('error', () => undefined); // an idle client that dies is replaced on next use; queries report their own errors
  try {
    const c = await pool.connect();
    c.release();
  } catch (e) {
    await pool.end().catch(() => undefined);
    const err = e as { code?: string; message?: string };
    const why = err.code === '28P01' || err.code === '28000' ? 'authentication failed (check the user and password)'
      : err.code === '3D000' ? 'the database does not exist (createdb it first)'
      : scrub(err.message ?? String(e), url);
    throw infraError('RESULTS_DB_UNREACHABLE', `cannot connect to the results database ${label}: ${why}`);
  }
  const wrap = (run: (sql: string, params: unknown[]) => Promise<{ rows: unknown[] }>) => async <R>(sql: string, params: unknown[] = []) => {
    try {
      return (await run(sql, params)).rows as R[];
    } catch (e) {
      if (e instanceof WinpvError) throw e;
      throw infraError('RESULTS_DB_ERROR', `results database ${label}: ${scrub((e as Error).message, url)}`);
    }
  };
  // close() waits for what was asked before it (sql.ts): pool.end() would refuse a batch still waiting for its client
  const asked = new Set<Promise<unknown>>();
  const tracked = <T>(p: Promise<T>): Promise<T> => {
    asked.add(p);
    p.then(() => asked.delete(p), () => asked.delete(p));
    return p;
  };
  const query = wrap((s, p) => pool.query(s, p));
  const batch = async (statements: readonly Statement[]) => {
    const c = await pool.connect().catch((e) => { throw infraError('RESULTS_DB_UNREACHABLE', `results database ${label}: ${scrub((e as Error).message, url)}`); });
    try {
      await c.query('BEGIN');
      const q = wrap((s, p) => c.query(s, p));
      const out: unknown[][] = [];
      for (const s of statements) out.push(await q(s.sql, s.params ?? []));
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  };
  return {
    label,
    query: (sql, params) => tracked(query(sql, params)),
    batch: (statements) => tracked(batch(statements)),
    async close() {
      await Promise.allSettled([...asked]);
      await pool.end();
    },
  };
}

/** The configured store (--db, WINPV_DB or the config's resultsDb, resolved by cli/config), else the
 *  default data directory (ResolvedConfig.resultsDataDir); `none` turns the store off. */
export function resolveStoreTarget(configured: string | undefined, defaultDataDir: string): string | undefined {
  if (configured === 'none' || configured === '') return undefined;
  if (configured !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(configured) && !isPostgresUrl(configured)) throw usageError(`--db takes postgres://... or a directory, not ${maskUrl(configured)}`);
  return configured ?? defaultDataDir;
}
