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
import { XsDecoder, XsType, encodeMessage } from './codec';
import { XenstoreServer } from './server';

export interface WarmUpResult {
  requests: number;
  ms: number;
}

/** One request of the mix; `null` transaction id means outside a transaction. */
type Req = [type: number, payload: string, tx?: number];

function roundOf(i: number, tx: number): Req[] {
  const reqs: Req[] = [
    [XsType.WRITE, `/warm/w/k${i}\0v${i}`],
    [XsType.WRITE, `/warm/w/same\0${i}`],
    [XsType.READ, `/warm/w/k${i}\0`],
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

/**
 * Drives a throwaway server with `rounds` rounds of the request mix (about 8 requests each), giving
 * up (without failing) after `deadlineMs`. Returns how many requests were answered and the time.
 */
export async function warmUp(rounds = 1000, deadlineMs = 5000): Promise<WarmUpResult> {
  const t0 = Date.now();
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
      // Half the rounds one request at a time (a client waiting for each reply, the latency path),
      // half in one write (several messages per socket read, several replies per flush).
      if (i % 2 === 0) await a.exchange(reqs);
      else for (const r of reqs) await a.exchange([r]);
      requests += reqs.length;
      if (i % 16 === 15 && tx > 0) {
        await a.exchange([[XsType.TRANSACTION_END, 'T\0', tx]]);
        tx = 0;
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
  return { requests, ms: Date.now() - t0 };
}
