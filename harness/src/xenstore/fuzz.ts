// A seeded fuzzer for the server: random and mutated packets, split and coalesced at random, sent
// by several connections of dom0 and of guests, with a canary connection that must keep working.
// Every reply is checked: a well-formed packet, the request's type or XS_ERROR with an errno name
// from xs_wire.h, answered in order; a connection may only be dropped where the C daemon drops one
// (a header announcing more than XENSTORE_PAYLOAD_MAX) or when its domain was released.
import { XENSTORE_PAYLOAD_MAX, XS_TYPE_COUNT, XsDecoder, XsType, encodeMessage, isXsErrno, parseErrorPayload, typeName } from './codec';
import { XenstoreServer, type ServerConnection } from './server';
import { mulberry32 } from '../model/mulberry32';


export interface FuzzOptions {
  seed: number;
  count: number;
  /** Test hook: rewrite what the server sends to fuzz connections (to prove the checks fire). */
  tamper?: (bytes: Buffer) => Buffer;
  /** Progress every this many packets. */
  onProgress?: (sent: number) => void;
}

export interface FuzzResult {
  packets: number;
  replies: number;
  events: number;
  disconnects: number;
  canaryChecks: number;
  violations: string[];
}

const SEGMENTS = ['a', 'b', 'c', 'tool', 'local', 'domain', '0', '7', '9', 'x-y', '_', '@introduceDomain', '', ' ', '.', 'é'];
const TOKENS = ['t0', 't1', 'tok', ''];
const DOMIDS = [1, 7, 9];

interface FuzzConn {
  conn: ServerConnection;
  domid: number;
  expected: { reqId: number; type: number }[];
  decoder: XsDecoder;
  closedReason?: string;
  oversizeSent: boolean;
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const run = new FuzzRun(opts);
  const res = run.res;
  while (res.packets < opts.count) {
    run.replaceDropped();
    const n = run.sendBatch();
    // Let the server flush (replies go out through queueMicrotask), so replies are checked batch by batch.
    await Promise.resolve();
    if (res.packets % 2000 < n || res.packets >= opts.count) {
      await run.checkpoint();
      opts.onProgress?.(res.packets);
      if (res.packets % 20000 < n) run.reset();
    }
  }
  run.close();
  return res;
}

/** Random requests from one seeded generator: the order of the draws is what a seed reproduces. */
class PacketMaker {
  constructor(private readonly rand: () => number) {}

  chance(p: number): boolean {
    return this.rand() < p;
  }

  int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  pick<X>(xs: readonly X[]): X {
    return xs[this.int(xs.length)];
  }

  /** A node name: mostly absolute, sometimes under a domain's home, now and then far too long. */
  name(): string {
    const depth = 1 + this.int(4);
    let s = Array.from({ length: depth }, () => this.pick(SEGMENTS)).join('/');
    const r = this.rand();
    if (r < 0.7) s = '/' + s;
    else if (r < 0.75) s = '/local/domain/' + this.pick(['0', '7', '1']) + '/' + s;
    else if (r < 0.78) s = '/' + 'p'.repeat(this.int(3200));
    return s;
  }

  /** A request of a random type (a few beyond the known ones) with arguments shaped for that type. */
  structured(): { type: number; payload: Buffer } {
    const type = this.rand() < 0.95 ? this.int(XS_TYPE_COUNT + 2) : this.int(0xffffffff);
    return { type, payload: this.payloadFor(type) };
  }

  private payloadFor(type: number): Buffer {
    const z = (...p: string[]) => Buffer.from(p.map((x) => x + '\0').join(''), 'utf8');
    switch (type) {
      case XsType.WRITE:
        return Buffer.concat([z(this.name()), Buffer.from(this.pick(['', 'v', 'value', 'x'.repeat(this.int(5000))]))]);
      case XsType.WATCH:
      case XsType.UNWATCH:
        return z(this.rand() < 0.1 ? this.pick(['@introduceDomain', '@releaseDomain']) : this.name(), this.pick(TOKENS));
      case XsType.SET_PERMS:
        return z(this.name(), ...Array.from({ length: this.int(7) }, () => this.pick(['n', 'r', 'w', 'b', 'x']) + this.pick(['0', '7', '1', '0x7', '', '-1', '99999999999'])));
      case XsType.TRANSACTION_END:
        return z(this.pick(['T', 'F', 'X', '']));
      case XsType.INTRODUCE:
        return z(String(this.pick(DOMIDS)), String(this.int(100)), String(this.int(3)));
      case XsType.RELEASE:
      case XsType.RESUME:
      case XsType.IS_DOMAIN_INTRODUCED:
      case XsType.GET_DOMAIN_PATH:
        return z(this.pick(['0', '1', '7', '9', 'x', '-5', '32752']));
      case XsType.SET_TARGET:
        return z(String(this.pick(DOMIDS)), String(this.pick(DOMIDS)));
      case XsType.DIRECTORY_PART:
        return z(this.name(), String(this.int(50)));
      case XsType.CONTROL:
        return z(...this.pick([['check'], ['help'], ['quota'], ['quota', 'set', 'nodes', '5000'], ['quota', '7'], ['log', 'on'], ['print', 'x'], ['nonsense'], ['quota-soft']]));
      default:
        return z(this.name());
    }
  }

  /** A byte changed, the packet cut or extended, a NUL planted, or noise instead. */
  mutate(p: Buffer): Buffer {
    const b = Buffer.from(p);
    const r = this.rand();
    if (r < 0.3 && b.length) b[this.int(b.length)] = this.int(256);
    else if (r < 0.45) return b.subarray(0, this.int(b.length + 1));
    else if (r < 0.6) return Buffer.concat([b, Buffer.from(Array.from({ length: this.int(20) }, () => this.int(256)))]);
    else if (r < 0.7 && b.length) b[this.int(b.length)] = 0;
    else if (r < 0.8) return Buffer.from(Array.from({ length: this.int(64) }, () => this.int(256)));
    return b;
  }
}

/** One fuzz run: the server, the fuzzing connections and the canary, and what was seen. */
class FuzzRun {
  readonly res: FuzzResult = { packets: 0, replies: 0, events: 0, disconnects: 0, canaryChecks: 0, violations: [] };
  private readonly make: PacketMaker;
  private readonly server = new XenstoreServer({ schedule: (fn) => queueMicrotask(fn) });
  private readonly conns: FuzzConn[] = [];
  private readonly canary: ServerConnection;
  private readonly canaryDec = new XsDecoder();
  private canaryReplies: string[] = [];
  private reqId = 1;

  constructor(private readonly opts: FuzzOptions) {
    this.make = new PacketMaker(mulberry32(opts.seed));
    this.canary = this.server.connect(0, (b) => {
      for (const m of this.canaryDec.push(b).messages) if (m.type !== XsType.WATCH_EVENT) this.canaryReplies.push(`${m.type}:${m.payload.toString('latin1')}`);
    });
    this.openAll();
  }

  private violation(s: string): void {
    if (this.res.violations.length < 50) this.res.violations.push(s);
  }

  private openAll(): void {
    for (const d of [0, 0, ...DOMIDS]) this.open(d);
  }

  private open(domid: number): FuzzConn {
    const fc: FuzzConn = { conn: undefined as unknown as ServerConnection, domid, expected: [], decoder: new XsDecoder(), oversizeSent: false };
    fc.conn = this.server.connect(domid, (bytes) => this.check(fc, this.opts.tamper ? this.opts.tamper(bytes) : bytes));
    fc.conn.onClose = (reason) => {
      fc.closedReason = reason;
      this.res.disconnects++;
    };
    this.conns.push(fc);
    return fc;
  }

  /** Every reply well-formed and in order, every watch event well-formed. */
  private check(fc: FuzzConn, bytes: Buffer): void {
    const { messages, oversize } = fc.decoder.push(bytes);
    if (oversize) this.violation(`conn domid ${fc.domid}: server sent a payload of ${oversize.len} bytes`);
    for (const m of messages) {
      if (m.payload.length > XENSTORE_PAYLOAD_MAX) this.violation(`reply over ${XENSTORE_PAYLOAD_MAX} bytes`);
      if (m.type === XsType.WATCH_EVENT) {
        this.res.events++;
        const parts = m.payload.toString('latin1').split('\0');
        if (m.reqId !== 0 || parts.length !== 3 || parts[2] !== '') this.violation(`malformed watch event ${JSON.stringify(m.payload.toString('latin1'))}`);
        continue;
      }
      this.res.replies++;
      const want = fc.expected.shift();
      if (!want) {
        this.violation(`conn domid ${fc.domid}: unsolicited reply ${typeName(m.type)} req ${m.reqId}`);
        continue;
      }
      if (m.reqId !== want.reqId) this.violation(`conn domid ${fc.domid}: reply for req ${m.reqId}, expected ${want.reqId}`);
      if (m.type === XsType.ERROR) {
        const errno = parseErrorPayload(m.payload);
        if (!isXsErrno(errno) || m.payload.length !== errno.length + 1) this.violation(`bad error payload ${JSON.stringify(m.payload.toString('latin1'))}`);
      } else if (m.type !== want.type) this.violation(`reply type ${typeName(m.type)} to a ${typeName(want.type)} request`);
    }
  }

  /** Replaces dropped connections; one dropped with requests unanswered must have earned it. */
  replaceDropped(): void {
    const conns = this.conns;
    for (let i = 0; i < conns.length; i++) {
      if (conns[i].closedReason === undefined) continue;
      const old = conns[i];
      if (old.expected.length && !old.oversizeSent && old.closedReason !== 'domain released') {
        this.violation(`conn domid ${old.domid} dropped (${old.closedReason}) with ${old.expected.length} requests unanswered`);
      }
      conns.splice(i, 1);
      this.open(old.domid);
      i--;
    }
  }

  /** Up to six packets to one connection, delivered in random pieces; how many were sent. */
  sendBatch(): number {
    const { make, res } = this;
    const fc = make.pick(this.conns);
    const n = 1 + make.int(6);
    const parts: Buffer[] = [];
    for (let i = 0; i < n && res.packets < this.opts.count; i++) {
      res.packets++;
      if (make.chance(0.002)) {
        parts.push(this.oversizeHeader());
        fc.oversizeSent = true;
        break;
      }
      let { type, payload } = make.structured();
      if (make.chance(0.4)) payload = make.mutate(payload);
      if (payload.length > XENSTORE_PAYLOAD_MAX) payload = payload.subarray(0, XENSTORE_PAYLOAD_MAX);
      const txId = make.chance(0.8) ? 0 : make.int(4);
      const id = this.reqId++ >>> 0;
      fc.expected.push({ reqId: id, type });
      parts.push(encodeMessage({ type, reqId: id, txId, payload }));
    }
    this.deliver(fc, Buffer.concat(parts));
    return n;
  }

  /** A header announcing a payload over the limit: the daemon drops the connection. */
  private oversizeHeader(): Buffer {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(this.make.int(XS_TYPE_COUNT), 0);
    h.writeUInt32LE(XENSTORE_PAYLOAD_MAX + 1 + this.make.int(1 << 20), 12);
    return h;
  }

  /** Delivers in random pieces: split packets and coalesced ones. */
  private deliver(fc: FuzzConn, stream: Buffer): void {
    for (let off = 0; off < stream.length && fc.closedReason === undefined; ) {
      const len = this.make.chance(0.5) ? stream.length - off : 1 + this.make.int(stream.length - off);
      fc.conn.receive(stream.subarray(off, off + len));
      off += len;
    }
  }

  /** Every request answered (or its connection legitimately gone): nothing hangs; and the canary,
   *  a dom0 connection of its own, still reads back what it writes. */
  async checkpoint(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    for (const c of this.conns) {
      if (c.closedReason === undefined && c.expected.length) this.violation(`conn domid ${c.domid}: ${c.expected.length} requests unanswered`);
      c.expected.length = 0;
    }
    this.canaryReplies = [];
    const v = `v${this.res.packets}`;
    this.canary.receive(encodeMessage({ type: XsType.WRITE, reqId: 1, txId: 0, payload: Buffer.from(`/canary/node\0${v}`) }));
    this.canary.receive(encodeMessage({ type: XsType.READ, reqId: 2, txId: 0, payload: Buffer.from('/canary/node\0') }));
    await new Promise((r) => setImmediate(r));
    this.res.canaryChecks++;
    if (this.canary.closed || this.canaryReplies.join('|') !== `${XsType.WRITE}:OK\0|${XsType.READ}:${v}`) this.violation(`canary failed after ${this.res.packets} packets: ${JSON.stringify(this.canaryReplies)}`);
  }

  /** Starts afresh now and then to bound the state. */
  reset(): void {
    for (const c of this.conns) c.conn.close('fuzz reset');
    this.conns.length = 0;
    this.openAll();
  }

  close(): void {
    for (const c of this.conns) c.conn.close('fuzz end');
    this.canary.close();
  }
}
