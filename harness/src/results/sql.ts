// The one SQL connection the results store talks through, whatever answers it: PGlite in this thread
// (pglite.ts), PGlite in a worker thread (db-thread.ts) or a team's PostgreSQL (db.ts).
export interface Db {
  /** Where it is, safe to print (password masked). */
  readonly label: string;
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Runs the statements in order in one transaction (all or nothing) and gives each one's rows.
   *  A whole list, not a callback: PGlite in a worker thread runs it in one message, so the
   *  transaction never waits for the calling thread between its statements (db-thread.ts). */
  batch(statements: readonly Statement[]): Promise<unknown[][]>;
  /** Ends the connection once every request made before it has been answered. */
  close(): Promise<void>;
}

/** One statement of a batch. */
export interface Statement {
  sql: string;
  params?: unknown[];
}
