// PGlite in a worker thread: the Db `winpv run` records through. Opening an existing store costs
// about a second of CPU (WASM compile, the file-system image, Postgres start-up), and the inserts and
// the trends query a few hundred ms more; in a thread of its own that work runs on another core
// while the run goes on, and the run's main thread only posts messages. Every wait on the thread has
// a deadline: a thread that does not answer in time, throws or exits fails every waiting and later
// call with RESULTS_DB_UNREACHABLE (the run then warns, its reports complete, as with an unreachable
// PostgreSQL), and is terminated. close() ends the thread, so no process is kept alive by it.
import { Worker } from 'node:worker_threads';
import { extname, join } from 'node:path';
import { WinpvError, infraError, type ErrorKind } from '../model/errors';
import type { Db } from './db';

/** Requests to the thread; `tx` names an open transaction. */
export type ToThread =
  | { id: number; op: 'query'; sql: string; params: unknown[]; tx?: number }
  | { id: number; op: 'begin' }
  | { id: number; op: 'end'; tx: number; commit: boolean }
  | { id: number; op: 'close' };

/** Answers; id 0 answers the open. */
export type FromThread = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: ThreadError };

/** An error as it crosses the thread boundary (a WinpvError keeps its kind and code). */
export interface ThreadError {
  message: string;
  code?: string;
  kind?: ErrorKind;
}

export interface ThreadDeadlines {
  /** Opening: loading PGlite, initdb on a fresh directory, start-up (slow on a loaded machine). */
  openMs: number;
  /** Each statement, as pg's query_timeout for PostgreSQL. */
  queryMs: number;
  /** A clean shutdown (checkpoint) before the thread is terminated anyway. */
  closeMs: number;
}

export const THREAD_DEADLINES: ThreadDeadlines = { openMs: 120_000, queryMs: 60_000, closeMs: 30_000 };

/** The thread's entry: beside this file, compiled or not (tests run the TypeScript through the same loader). */
const ENTRY = join(__dirname, `db-thread-main${extname(__filename)}`);

/** Opens the PGlite store in dir (checked by db.ts) in a new thread; resolves once it answers queries. */
export async function openThreadDb(dir: string, deadlines: ThreadDeadlines = THREAD_DEADLINES): Promise<ThreadDb> {
  const db = new ThreadDb(dir, deadlines);
  try {
    await db.opened;
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
  return db;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class ThreadDb implements Db {
  /** The worker thread (exposed for the tests that stop it mid-run). */
  readonly thread: Worker;
  /** Settles when the thread has exited, with its exit code. */
  readonly exited: Promise<number>;
  readonly opened: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private failure?: WinpvError;
  private closing = false;

  constructor(
    readonly label: string,
    private readonly deadlines: ThreadDeadlines,
  ) {
    this.thread = new Worker(ENTRY, { workerData: { dir: label } });
    this.exited = new Promise((done) => this.thread.once('exit', done));
    this.opened = this.wait(0, deadlines.openMs, 'opening it').then(() => undefined);
    this.thread.on('message', (m: FromThread) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.value);
      else p.reject(fromThread(m.error));
    });
    this.thread.on('error', (e) => this.fail(`its thread failed (${e.message})`));
    this.thread.on('exit', (code) => {
      if (!this.closing) this.fail(`its thread exited (code ${code})`);
    });
  }

  async query<R = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.call({ op: 'query', sql, params }, 'a query')) as R[];
  }

  async transaction<T>(fn: (q: Db['query']) => Promise<T>): Promise<T> {
    const tx = (await this.call({ op: 'begin' }, 'BEGIN')) as number;
    try {
      const out = await fn(async <R>(sql: string, params: unknown[] = []) => (await this.call({ op: 'query', sql, params, tx }, 'a query')) as R[]);
      await this.call({ op: 'end', tx, commit: true }, 'COMMIT');
      return out;
    } catch (e) {
      await this.call({ op: 'end', tx, commit: false }, 'ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  /** Shuts PGlite down cleanly (within its deadline, when it opened), then ends the thread. */
  async close(): Promise<void> {
    if (this.closing) return void (await this.exited);
    try {
      if (!this.failure && (await this.opened.then(() => true, () => false))) await this.call({ op: 'close' }, 'closing it');
    } finally {
      this.closing = true;
      await this.thread.terminate();
    }
  }

  private call(req: DistributiveOmit<ToThread, 'id'>, what: string): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = ++this.seq;
    const answer = this.wait(id, req.op === 'close' ? this.deadlines.closeMs : this.deadlines.queryMs, what);
    this.thread.postMessage({ ...req, id } as ToThread);
    return answer;
  }

  private wait(id: number, ms: number, what: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(`no answer within ${ms / 1000} s (${what}); its thread was stopped`);
        void this.thread.terminate();
      }, ms);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  /** The store is gone: every waiting call fails, and so does every later one. */
  private fail(why: string): void {
    this.failure ??= infraError('RESULTS_DB_UNREACHABLE', `the results store ${this.label} stopped answering: ${why}`);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(this.failure);
    }
  }
}

function fromThread(e: ThreadError): Error {
  if (e.kind) return new WinpvError(e.kind, e.code ?? 'RESULTS_DB_ERROR', e.message);
  return Object.assign(new Error(e.message), e.code ? { code: e.code } : {});
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
