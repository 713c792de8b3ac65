// PGlite in a worker thread: the Db `winpv run` records through. Opening an existing store costs
// about a second of CPU (WASM compile, the file-system image, Postgres start-up), and the inserts and
// the trends query a few hundred ms more; in a thread of its own that work runs on another core
// while the run goes on, and the run's main thread only posts messages. Every wait on the thread has
// a deadline (held while the thread runs lowered, nobody waiting for it: thread-priority.ts): a thread
// that does not answer in time, throws or exits fails every waiting and later call with
// RESULTS_DB_UNREACHABLE (the run then warns, its reports complete, as with an unreachable
// PostgreSQL), and is terminated. close() ends the thread, so no process is kept alive by it.
import { Worker } from 'node:worker_threads';
import { mkdirSync } from 'node:fs';
import { infraError, isWinpvError, type WinpvError } from '../model/errors';
import type { Db, Statement } from './sql';
import { PGLITE_SETTINGS, PGLITE_V8_FLAGS, runBatch, storeCorrupt, type PgliteTx } from './pglite';
import type { BackgroundPriority } from './thread-priority';

/** Requests to the thread. A batch is a whole transaction in one message (sql.ts Db.batch). */
export type ToThread =
  | { id: number; op: 'query'; sql: string; params: unknown[] }
  | { id: number; op: 'batch'; statements: readonly Statement[] }
  | { id: number; op: 'close' };

/** What the thread is started with. */
interface ThreadInit {
  dir: string;
  /** PGlite's CommonJS entry, resolved here (the thread runs from source text, with no module of its own to resolve from). */
  pglite: string;
  startParams: readonly string[];
  /** V8 flags set before PGlite compiles (pglite.ts PGLITE_V8_FLAGS). */
  v8Flags: readonly string[];
}

/** Answers; id 0 answers the open. The thread's first message (id -1) gives its kernel thread id. */
export type FromThread = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: ThreadError } | { id: -1; tid?: number };

/** An error as it crosses the thread boundary (PGlite's message and SQLSTATE). */
export interface ThreadError {
  message: string;
  code?: string;
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

/** Opens the PGlite store in dir (checked by db.ts) in a new thread; resolves once it answers queries.
 *  With `background`, the thread runs at the lowest priority until that says something waits for it. */
export async function openThreadDb(dir: string, deadlines: ThreadDeadlines = THREAD_DEADLINES, background?: BackgroundPriority): Promise<ThreadDb> {
  const db = new ThreadDb(dir, deadlines, background);
  try {
    await db.opened;
  } catch (e) {
    await db.close().catch(() => undefined);
    throw isWinpvError(e) ? e : storeCorrupt(dir, e);
  }
  return db;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** Its deadline, and what it waits for (the message of a missed deadline). */
  ms: number;
  what: string;
  /** Unset while the thread runs lowered: no deadline runs then. */
  timer?: NodeJS.Timeout;
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
  /** True while the thread runs, or may yet run, at the lowest priority: its deadlines wait. */
  private lowered: boolean;
  /** The thread's kernel thread id, once it has said it (Linux). */
  tid?: number;

  constructor(
    readonly label: string,
    private readonly deadlines: ThreadDeadlines,
    private readonly background?: BackgroundPriority,
  ) {
    mkdirSync(label, { recursive: true });
    // with a background priority, the deadlines wait until the thread has said whether it was lowered
    this.lowered = background !== undefined;
    // The thread runs threadMain from its source text with no command-line options: it loads PGlite
    // and nothing else (no module of winpv, no loader a test runner put on this process).
    const init: ThreadInit = { dir: label, pglite: require.resolve('@electric-sql/pglite'), startParams: PGLITE_SETTINGS, v8Flags: PGLITE_V8_FLAGS };
    this.thread = new Worker(THREAD_SOURCE, { eval: true, execArgv: [], workerData: init });
    this.exited = new Promise((done) => this.thread.once('exit', done));
    this.opened = this.wait(0, deadlines.openMs, 'opening it').then(() => undefined);
    this.thread.on('message', (m: FromThread) => {
      if (m.id === -1) {
        this.tid = 'tid' in m ? m.tid : undefined;
        if (this.tid !== undefined) this.background?.lowered(this.tid);
        if (this.background?.isLowered) this.background.onRaised(() => this.resumeDeadlines());
        else this.resumeDeadlines();
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if ('error' in m) p.reject(fromThread(m.error));
      else p.resolve((m as { value?: unknown }).value);
    });
    this.thread.on('error', (e) => this.fail(`its thread failed (${e.message})`));
    this.thread.on('exit', (code) => {
      if (!this.closing) this.fail(`its thread exited (code ${code})`);
    });
  }

  async query<R = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.call({ op: 'query', sql, params }, 'a query')) as R[];
  }

  async batch(statements: readonly Statement[]): Promise<unknown[][]> {
    return (await this.call({ op: 'batch', statements }, 'a transaction')) as unknown[][];
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
      const p: Pending = { resolve, reject, ms, what };
      if (!this.lowered) this.arm(p);
      this.pending.set(id, p);
    });
  }

  /** A call's deadline: past it, the store is gone and the thread stopped. */
  private arm(p: Pending): void {
    p.timer = setTimeout(() => {
      this.fail(`no answer within ${p.ms / 1000} s (${p.what}); its thread was stopped`);
      void this.thread.terminate();
    }, p.ms);
  }

  /** While the thread runs at nice 19 (thread-priority.ts) nothing waits for it, and a machine busy
   *  with other work may give it next to no CPU: its deadlines, made to catch a thread that hangs,
   *  wait till it is raised back (or found not lowered), and then run in full. */
  private resumeDeadlines(): void {
    if (!this.lowered) return;
    this.lowered = false;
    for (const p of this.pending.values()) this.arm(p);
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
  return Object.assign(new Error(e.message), e.code ? { code: e.code } : {});
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A Postgres connection as the thread holds it (PGlite's own type, which the thread cannot import). */
interface ThreadPg extends PgliteTx {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  close(): Promise<void>;
  waitReady: Promise<void>;
}

/** The thread's program, run from its source text (THREAD_SOURCE): it may use nothing from outside
 *  its body but threadServer. Opens PGlite, answers id 0 when it is ready (or with PGlite's error),
 *  then runs each request as it comes. */
function threadMain(): void {
  const { parentPort, workerData } = require('node:worker_threads') as typeof import('node:worker_threads');
  const init = workerData as ThreadInit;
  const port = parentPort!;
  const errorOf = (e: unknown): ThreadError => {
    const err = e as { message?: string; code?: unknown };
    return { message: err?.message ?? String(e), ...(typeof err?.code === 'string' ? { code: err.code } : {}) };
  };
  try {
    // its kernel thread id, for the priority the main thread gives it (thread-priority.ts)
    const tid = Number((require('node:fs') as typeof import('node:fs')).readlinkSync('/proc/thread-self').split('/').pop());
    port.postMessage({ id: -1, ...(Number.isInteger(tid) && tid > 0 ? { tid } : {}) } satisfies FromThread);
  } catch {
    port.postMessage({ id: -1 } satisfies FromThread); // not Linux
  }
  void (async () => {
    let pg: ThreadPg;
    try {
      const v8 = require('node:v8') as typeof import('node:v8');
      for (const f of init.v8Flags) v8.setFlagsFromString(f);
      const { PGlite } = require(init.pglite) as { PGlite: { new (dir: string, o: object): ThreadPg; defaultStartParams: string[] } };
      pg = new PGlite(init.dir, { startParams: [...PGlite.defaultStartParams, ...init.startParams] });
      await pg.waitReady; // ends with PGlite's own first query (its array types): a store it cannot start on fails here
    } catch (e) {
      port.postMessage({ id: 0, ok: false, error: errorOf(e) } satisfies FromThread);
      return;
    }
    const serve = threadServer(pg);
    // one request at a time, in the order they came: a close posted behind a batch (record-run.ts)
    // waits for it, whatever PGlite's close does with a transaction still running
    let previous: Promise<unknown> = Promise.resolve();
    port.on('message', (m: ToThread) => {
      previous = previous.then(() => serve(m)).then(
        (value) => port.postMessage({ id: m.id, ok: true, value } satisfies FromThread),
        (e) => port.postMessage({ id: m.id, ok: false, error: errorOf(e) } satisfies FromThread),
      );
    });
    port.postMessage({ id: 0, ok: true } satisfies FromThread);
  })();
}

/** runBatch under a name of this module: the thread's source defines it under this name (an
 *  imported function would be compiled into a property read of a module the thread does not have). */
const threadBatch = runBatch;

/** The thread's answer to each request, run from its source text beside threadMain (it may use
 *  nothing from outside its body but threadBatch). */
function threadServer(pg: ThreadPg): (m: ToThread) => Promise<unknown> {
  return async (m) => {
    if (m.op === 'query') return (await pg.query(m.sql, m.params)).rows;
    if (m.op === 'batch') return threadBatch(pg, m.statements);
    return pg.close();
  };
}

/** What the thread runs: its functions' source text (compiled), then the call of threadMain. */
const THREAD_SOURCE = `const threadBatch = ${runBatch.toString()};\n${threadServer.toString()}\n(${threadMain.toString()})()`;
