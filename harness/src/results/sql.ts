// The one SQL connection the results store talks through, whatever answers it: PGlite in this thread
// (pglite.ts), PGlite in a worker thread (db-thread.ts) or a team's PostgreSQL (db.ts).
export interface Db {
  /** Where it is, safe to print (password masked). */
  readonly label: string;
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Runs fn inside one transaction (all or nothing). */
  transaction<T>(fn: (q: Db['query']) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
