// Test helper: both daemons driven by the same request steps, each connection recording every
// packet it receives (DIRECTORY_PART's generation normalised), for byte-for-byte comparison.
import { createConnection, type Socket } from 'node:net';
import { XsDecoder, XsType as T, type XsMessage } from '../../src/xenstore/codec';
import { pkt } from './wire';

/** A socket connection recording every packet it receives, in order. */
export class Recorder {
  readonly log: string[] = [];
  private readonly dec = new XsDecoder(1 << 30);
  private waiting?: { reqId: number; done: (closed: boolean) => void };
  closed = false;
  private constructor(private readonly sock: Socket) {
    sock.on('data', (b: Buffer) => {
      for (const m of this.dec.push(b).messages) this.onPacket(m);
    });
    sock.on('close', () => {
      this.closed = true;
      this.log.push('<closed>');
      this.waiting?.done(true);
    });
    sock.on('error', () => undefined);
  }
  /** Connects, retrying while the listen backlog is full (the C daemon listens with a backlog of 1). */
  static async open(path: string): Promise<Recorder> {
    for (let i = 0; ; i++) {
      try {
        return await new Promise<Recorder>((resolve, reject) => {
          const s = createConnection(path);
          s.once('error', reject);
          s.once('connect', () => resolve(new Recorder(s)));
        });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || i > 200) throw e;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }
  private onPacket(m: XsMessage): void {
    let payload = m.payload.toString('latin1');
    if (m.type === T.DIRECTORY_PART) payload = payload.replace(/^\d+/, 'G');
    this.log.push(`${m.type}/${m.reqId}/${m.txId}/${JSON.stringify(payload)}`);
    if (m.type !== T.WATCH_EVENT && this.waiting && m.reqId === this.waiting.reqId) {
      const w = this.waiting;
      this.waiting = undefined;
      w.done(false);
    }
  }
  /** Sends and waits for the reply with this req id (or the connection closing). */
  request(bytes: Buffer, reqId: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((done) => {
      this.waiting = { reqId, done };
      this.sock.write(bytes);
    });
  }
  close(): void {
    this.sock.destroy();
  }
}

export interface Step {
  conn: number;
  type: number;
  payload: string | Buffer;
  tx?: number;
  /** Raw bytes instead of a packet (oversize headers). */
  raw?: Buffer;
}

export class Side {
  private reqId = 1000;
  constructor(readonly conns: Recorder[]) {}
  static async open(path: string, n: number): Promise<Side> {
    const conns: Recorder[] = [];
    for (let i = 0; i < n; i++) conns.push(await Recorder.open(path));
    return new Side(conns);
  }
  /** One step, then a ping on every connection so that events it caused have arrived. */
  async step(s: Step): Promise<void> {
    const c = this.conns[s.conn];
    const id = this.reqId++;
    const bytes = s.raw ?? pkt(s.type, s.payload, id, s.tx ?? 0);
    const closed = await c.request(bytes, s.raw ? -1 : id);
    if (s.raw && !closed) await c.request(pkt(T.GET_DOMAIN_PATH, '0\0', this.reqId, 0), this.reqId++);
    for (const other of this.conns) {
      if (other.closed) continue;
      const pid = this.reqId++;
      await other.request(pkt(T.GET_DOMAIN_PATH, '0\0', pid, 0), pid);
    }
  }
  close(): void {
    for (const c of this.conns) c.close();
  }
}

