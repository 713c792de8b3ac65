// JIT warm-up of `winpv xenstored` before it accepts clients.
//
// Why: a freshly started Node process runs its first few thousand requests in V8's interpreter while
// TurboFan compiles the hot paths (socket read, decode, ops, watch firing, reply, socket write) on a
// background thread, with deoptimisations and recompilations on the way (`node --trace-opt
// --trace-deopt`: about 85 optimisations and a dozen deopts during the first 4,000 watched writes).
// On a 2-core dom0 that compilation competes with the clients and the daemon itself for the CPU: the
// first 2,000 watched creates of a fresh daemon had a watch-latency p99 of 1-4 ms against the C
// daemon's 0.1 ms, while the same workload on a daemon that had already served 6,000 requests had
// 0.12-0.14 ms (issue 20). A domain's frontend/backend handshake happens on exactly such a fresh
// daemon, so the daemon pays the compilation before it listens: a throwaway server on a private
// socket in a temporary directory is driven with the request mix clients send (writes of new and of
// rewritten keys under a watch, reads, directories, permissions, transactions, removals) over a real
// unix socket, so the socket layer warms too. The real store, its generation counter, its watches and
// its trace are untouched.
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { XsDecoder, XsType, encodeMessage } from './codec';
import { XenstoreServer } from './server';

export interface WarmUpResult {
  requests: number;
  ms: number;
}

/** One request of the mix; `null` transaction id means outside a transaction. */
type Req = [type: number, payload: string, tx?: number];

// V8 hands a function to TurboFan after a few thousand calls (its interrupt budget, 66 KiB of
// bytecode, spent about three times, and 500 calls after its last inline-cache change), so the
// requests a handshake repeats most (new keys under a watched node, rewrites, reads) come several
// times a round: 1000 rounds give each of those paths 2,000-3,000 calls.
function roundOf(i: number, tx: number): Req[] {
  const reqs: Req[] = [
    [XsType.WRITE, `/warm/w/k${3 * i}\0v${i}`],
    [XsType.WRITE, `/warm/w/k${3 * i + 1}\0v${i}`],
    [XsType.WRITE, `/warm/w/k${3 * i + 2}\0v${i}`],
    [XsType.WRITE, `/warm/w/same\0${i}`],
    [XsType.WRITE, `/warm/w/same2\0${i}`],
    [XsType.READ, `/warm/w/k${3 * i}\0`],
    [XsType.READ, `/warm/w/k${3 * i + 1}\0`],
    [XsType.READ, `/warm/w/same\0`],
    [XsType.READ, `/warm/w/missing\0`], // ENOENT: the error path
    [XsType.GET_PERMS, `/warm/w/k${i}\0`],
    [XsType.DIRECTORY, `/warm/d\0`],
    [XsType.MKDIR, `/warm/d/m${i % 64}\0`],
  ];
  if (i % 8 === 0) reqs.push([XsType.RM, `/warm/d/m${(i + 32) % 64}\0`], [XsType.SET_PERMS, `/warm/d\0b0\0r1\0`]);
  if (tx > 0) reqs.push([XsType.WRITE, `/warm/t/k${i % 16}\0v`, tx], [XsType.READ, `/warm/t/k${i % 16}\0`, tx]);
  return reqs;
}

/** Replies (and watch events) counted per socket: resolves when `want` non-event messages arrived. */
class Peer {
  private readonly decoder = new XsDecoder();
  private replies = 0;
  private waiting?: { want: number; done: () => void };
  lastPayload: Buffer = Buffer.alloc(0);
  private reqId = 0;
  constructor(readonly sock: Socket) {
    sock.on('data', (chunk: Buffer) => {
      for (const m of this.decoder.push(chunk).messages) {
        if (m.type === XsType.WATCH_EVENT) continue;
        this.replies++;
        this.lastPayload = m.payload;
      }
      if (this.waiting && this.replies >= this.waiting.want) this.waiting.done();
    });
  }
  /** Sends the requests in one write and waits for all their replies. */
  exchange(reqs: Req[]): Promise<void> {
    const bufs = reqs.map(([type, payload, tx]) => encodeMessage({ type, reqId: ++this.reqId, txId: tx ?? 0, payload: Buffer.from(payload, 'latin1') }));
    const want = this.replies + reqs.length;
    return new Promise<void>((done, fail) => {
      this.waiting = { want, done };
      this.sock.once('error', fail);
      this.sock.write(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs));
    }).then(() => {
      this.waiting = undefined;
      this.sock.removeAllListeners('error');
    });
  }
}

function open(path: string): Promise<Socket> {
  return new Promise((ok, fail) => {
    const s = connect(path, () => ok(s));
    s.once('error', fail);
  });
}

/** One pass: a throwaway server on a private socket, two client connections driven with `rounds`
 *  rounds of the mix, then everything closed and torn down. */
async function pass(rounds: number, t0: number, deadlineMs: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-xs-warmup-'));
  const server = new XenstoreServer();
  const net = await server.listen(join(dir, 'socket'));
  let requests = 0;
  const socks: Socket[] = [];
  try {
    const a = new Peer(await open(join(dir, 'socket')));
    const b = new Peer(await open(join(dir, 'socket')));
    socks.push(a.sock, b.sock);
    await b.exchange([[XsType.WATCH, '/warm/w\0tok\0']]);
    await a.exchange([[XsType.WRITE, '/warm/d\0'], [XsType.WRITE, '/warm/t\0']]);
    let tx = 0;
    for (let i = 0; i < rounds && Date.now() - t0 < deadlineMs; i++) {
      if (i % 16 === 0) {
        await a.exchange([[XsType.TRANSACTION_START, '\0']]);
        tx = Number.parseInt(a.lastPayload.toString('latin1'), 10) || 0;
      }
      const reqs = roundOf(i, tx);
      // Half the rounds one request at a time (a client waiting for each reply: the latency path,
      // one socket read and write per request), half in one write (several messages per socket
      // read, several replies per flush).
      if (i % 2 === 0) await a.exchange(reqs);
      else for (const r of reqs) await a.exchange([r]);
      requests += reqs.length;
      if (i % 16 === 15 && tx > 0) {
        await a.exchange([[XsType.TRANSACTION_END, 'T\0', tx]]);
        tx = 0;
      }
      // Short-lived connections too (each xenstore-read is one): connect, a request, close.
      if (i % 64 === 32) {
        const c = new Peer(await open(join(dir, 'socket')));
        await c.exchange([[XsType.READ, `/warm/w/k${i}\0`]]);
        c.sock.destroy();
        requests++;
      }
      // Clients add and remove watches too (a frontend watches its backend's state, then stops).
      if (i % 8 === 4) {
        await b.exchange([[XsType.WATCH, `/warm/d/m${i % 64}\0t${i}\0`]]);
        await b.exchange([[XsType.UNWATCH, `/warm/d/m${i % 64}\0t${i}\0`]]);
        requests += 2;
      }
    }
    // The watched subtree goes at the end: removal and its watch events are warmed too.
    await a.exchange([[XsType.RM, '/warm/w\0']]);
  } finally {
    for (const s of socks) s.destroy();
    for (const c of server.connections()) c.close('warm-up done');
    await new Promise<void>((done) => net.close(() => done()));
    rmSync(dir, { recursive: true, force: true });
  }
  return requests;
}

/**
 * Drives throwaway servers with `rounds` rounds of the request mix (about 14 requests each), giving
 * up (without failing) after `deadlineMs`. Returns how many requests were answered and the time.
 *
 * Two passes: a short one whose end (sockets destroyed, connections closed, the server closed)
 * changes what V8 had assumed of those objects' fields, which throws away the code compiled so far
 * (`--trace-deopt`: "marking dependent code ... code dependencies" for receive, reply, enqueue,
 * deliverWatchEvent and the stream writes, then "wrong map" in handleRequest and Socket.read at the
 * first real client); then the main pass, compiled against the objects as they stay, so the real
 * server's first clients meet finished code.
 */
export async function warmUp(rounds = 1000, deadlineMs = 5000): Promise<WarmUpResult> {
  const t0 = Date.now();
  let requests = await pass(Math.ceil(rounds / 10), t0, deadlineMs);
  requests += await pass(rounds, t0, deadlineMs);
  collectGarbage();
  return { requests, ms: Date.now() - t0 };
}

/**
 * A full collection now, before the daemon listens. The throwaway stores (some 6,000 nodes) are old
 * garbage by now, and the collection that reclaims them otherwise came a second or two into the
 * first client's traffic: a mark-compact pause of 1-10 ms (`--trace-gc`), the largest in its
 * watch-latency tail. V8 offers the collector to scripts only under --expose-gc, and a context made
 * while that flag is set gets `gc`; the flag is cleared again straight after.
 */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  try {
    (runInNewContext('gc') as () => void)();
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
