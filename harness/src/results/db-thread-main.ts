// The worker thread of db-thread.ts: opens PGlite on the directory it is given, answers id 0 when it
// is ready (or with the error that says why not), then runs each request in the order it came.
// A transaction is held open in PGlite's own transaction() until the main thread ends it.
import { parentPort, workerData } from 'node:worker_threads';
import { isWinpvError } from '../model/errors';
import { openPglite, type Db } from './db';
import type { FromThread, ThreadError, ToThread } from './db-thread';

const port = parentPort!;
const reply = (m: FromThread) => port.postMessage(m);
const errorOf = (e: unknown): ThreadError => {
  if (isWinpvError(e)) return { message: e.message, code: e.code, kind: e.kind };
  const err = e as { message?: string; code?: unknown };
  return { message: err?.message ?? String(e), ...(typeof err?.code === 'string' ? { code: err.code } : {}) };
};

interface OpenTx {
  q: Db['query'];
  end(commit: boolean): void;
  done: Promise<void>;
}
const ROLLBACK = Symbol('rollback');
const txs = new Map<number, OpenTx>();
let txSeq = 0;

async function begin(db: Db): Promise<number> {
  let began!: (q: Db['query']) => void;
  let end!: (commit: boolean) => void;
  const ready = new Promise<Db['query']>((r) => (began = r));
  const ended = new Promise<boolean>((r) => (end = r));
  const done = db
    .transaction(async (q) => {
      began(q);
      if (!(await ended)) throw ROLLBACK;
    })
    .catch((e) => {
      if (e !== ROLLBACK) throw e;
    });
  const q = await Promise.race([ready, done.then(() => undefined)]);
  if (!q) throw new Error('the transaction ended before it began');
  const id = ++txSeq;
  txs.set(id, { q, end, done });
  return id;
}

async function serve(db: Db, m: ToThread): Promise<unknown> {
  switch (m.op) {
    case 'query': {
      if (m.tx === undefined) return db.query(m.sql, m.params);
      const tx = txs.get(m.tx);
      if (!tx) throw new Error(`no open transaction ${m.tx}`);
      return tx.q(m.sql, m.params);
    }
    case 'begin':
      return begin(db);
    case 'end': {
      const tx = txs.get(m.tx);
      if (!tx) throw new Error(`no open transaction ${m.tx}`);
      txs.delete(m.tx);
      tx.end(m.commit);
      return tx.done;
    }
    case 'close':
      return db.close();
  }
}

openPglite((workerData as { dir: string }).dir).then(
  (db) => {
    port.on('message', (m: ToThread) => {
      serve(db, m).then(
        (value) => reply({ id: m.id, ok: true, value }),
        (e) => reply({ id: m.id, ok: false, error: errorOf(e) }),
      );
    });
    reply({ id: 0, ok: true });
  },
  (e) => reply({ id: 0, ok: false, error: errorOf(e) }),
);
