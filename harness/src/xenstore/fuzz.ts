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
  const rand = mulberry32(opts.seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <X>(xs: readonly X[]): X => xs[int(xs.length)];
  const server = new XenstoreServer({ schedule: (fn) => queueMicrotask(fn) });
  const res: FuzzResult = { packets: 0, replies: 0, events: 0, disconnects: 0, canaryChecks: 0, violations: [] };
  const violation = (s: string) => {
    if (res.violations.length < 50) res.violations.push(s);
  };

  const name = (): string => {
    const depth = 1 + int(4);
    let s = Array.from({ length: depth }, () => pick(SEGMENTS)).join('/');
    const r = rand();
    if (r < 0.7) s = '/' + s;
    else if (r < 0.75) s = '/local/domain/' + pick(['0', '7', '1']) + '/' + s;
    else if (r < 0.78) s = '/' + 'p'.repeat(int(3200));
    return s;
  };

  const structured = (): { type: number; payload: Buffer } => {
    const type = rand() < 0.95 ? int(XS_TYPE_COUNT + 2) : int(0xffffffff);
    const z = (...p: string[]) => Buffer.from(p.map((x) => x + '\0').join(''), 'utf8');
    let payload: Buffer;
    switch (type) {
      case XsType.WRITE:
        payload = Buffer.concat([z(name()), Buffer.from(pick(['', 'v', 'value', 'x'.repeat(int(5000))]))]);
        break;
      case XsType.WATCH:
      case XsType.UNWATCH:
        payload = z(rand() < 0.1 ? pick(['@introduceDomain', '@releaseDomain']) : name(), pick(TOKENS));
        break;
      case XsType.SET_PERMS:
        payload = z(name(), ...Array.from({ length: int(7) }, () => pick(['n', 'r', 'w', 'b', 'x']) + pick(['0', '7', '1', '0x7', '', '-1', '99999999999'])));
        break;
      case XsType.TRANSACTION_END:
        payload = z(pick(['T', 'F', 'X', '']));
        break;
      case XsType.INTRODUCE:
        payload = z(String(pick(DOMIDS)), String(int(100)), String(int(3)));
        break;
      case XsType.RELEASE:
      case XsType.RESUME:
      case XsType.IS_DOMAIN_INTRODUCED:
      case XsType.GET_DOMAIN_PATH:
        payload = z(pick(['0', '1', '7', '9', 'x', '-5', '32752']));
        break;
      case XsType.SET_TARGET:
        payload = z(String(pick(DOMIDS)), String(pick(DOMIDS)));
        break;
      case XsType.DIRECTORY_PART:
        payload = z(name(), String(int(50)));
        break;
      case XsType.CONTROL:
        payload = z(...pick([['check'], ['help'], ['quota'], ['quota', 'set', 'nodes', '5000'], ['quota', '7'], ['log', 'on'], ['print', 'x'], ['nonsense'], ['quota-soft']]));
        break;
      default:
        payload = z(name());
    }
    return { type, payload };
  };

  const mutate = (p: Buffer): Buffer => {
    const b = Buffer.from(p);
    const r = rand();
    if (r < 0.3 && b.length) b[int(b.length)] = int(256);
    else if (r < 0.45) return b.subarray(0, int(b.length + 1));
    else if (r < 0.6) return Buffer.concat([b, Buffer.from(Array.from({ length: int(20) }, () => int(256)))]);
    else if (r < 0.7 && b.length) b[int(b.length)] = 0;
    else if (r < 0.8) return Buffer.from(Array.from({ length: int(64) }, () => int(256)));
    return b;
  };

  const conns: FuzzConn[] = [];
  const open = (domid: number): FuzzConn => {
    const fc: FuzzConn = { conn: undefined as unknown as ServerConnection, domid, expected: [], decoder: new XsDecoder(), oversizeSent: false };
    fc.conn = server.connect(domid, (bytes) => check(fc, opts.tamper ? opts.tamper(bytes) : bytes));
    fc.conn.onClose = (reason) => {
      fc.closedReason = reason;
      res.disconnects++;
    };
    conns.push(fc);
    return fc;
  };

  const check = (fc: FuzzConn, bytes: Buffer) => {
    const { messages, oversize } = fc.decoder.push(bytes);
    if (oversize) violation(`conn domid ${fc.domid}: server sent a payload of ${oversize.len} bytes`);
    for (const m of messages) {
      if (m.payload.length > XENSTORE_PAYLOAD_MAX) violation(`reply over ${XENSTORE_PAYLOAD_MAX} bytes`);
      if (m.type === XsType.WATCH_EVENT) {
        res.events++;
        const parts = m.payload.toString('latin1').split('\0');
        if (m.reqId !== 0 || parts.length !== 3 || parts[2] !== '') violation(`malformed watch event ${JSON.stringify(m.payload.toString('latin1'))}`);
        continue;
      }
      res.replies++;
      const want = fc.expected.shift();
      if (!want) {
        violation(`conn domid ${fc.domid}: unsolicited reply ${typeName(m.type)} req ${m.reqId}`);
        continue;
      }
      if (m.reqId !== want.reqId) violation(`conn domid ${fc.domid}: reply for req ${m.reqId}, expected ${want.reqId}`);
      if (m.type === XsType.ERROR) {
        const errno = parseErrorPayload(m.payload);
        if (!isXsErrno(errno) || m.payload.length !== errno.length + 1) violation(`bad error payload ${JSON.stringify(m.payload.toString('latin1'))}`);
      } else if (m.type !== want.type) violation(`reply type ${typeName(m.type)} to a ${typeName(want.type)} request`);
    }
  };

  const canary = server.connect(0, (bytes) => canaryBytes(bytes));
  const canaryDec = new XsDecoder();
  let canaryReplies: string[] = [];
  const canaryBytes = (b: Buffer) => {
    for (const m of canaryDec.push(b).messages) if (m.type !== XsType.WATCH_EVENT) canaryReplies.push(`${m.type}:${m.payload.toString('latin1')}`);
  };

  for (const d of [0, 0, ...DOMIDS]) open(d);
  let reqId = 1;
  while (res.packets < opts.count) {
    // Replace dropped connections, and now and then start afresh to bound the state.
    for (let i = 0; i < conns.length; i++) {
      if (conns[i].closedReason !== undefined) {
        const old = conns[i];
        if (old.expected.length && !old.oversizeSent && old.closedReason !== 'domain released') {
          violation(`conn domid ${old.domid} dropped (${old.closedReason}) with ${old.expected.length} requests unanswered`);
        }
        conns.splice(i, 1);
        open(old.domid);
        i--;
      }
    }
    const fc = pick(conns);
    const n = 1 + int(6);
    const parts: Buffer[] = [];
    for (let i = 0; i < n && res.packets < opts.count; i++) {
      res.packets++;
      if (rand() < 0.002) {
        // A header announcing a payload over the limit: the daemon drops the connection.
        const h = Buffer.alloc(16);
        h.writeUInt32LE(int(XS_TYPE_COUNT), 0);
        h.writeUInt32LE(XENSTORE_PAYLOAD_MAX + 1 + int(1 << 20), 12);
        parts.push(h);
        fc.oversizeSent = true;
        break;
      }
      let { type, payload } = structured();
      if (rand() < 0.4) payload = mutate(payload);
      if (payload.length > XENSTORE_PAYLOAD_MAX) payload = payload.subarray(0, XENSTORE_PAYLOAD_MAX);
      const txId = rand() < 0.8 ? 0 : int(4);
      const id = reqId++ >>> 0;
      fc.expected.push({ reqId: id, type });
      parts.push(encodeMessage({ type, reqId: id, txId, payload }));
    }
    const stream = Buffer.concat(parts);
    // Deliver in random pieces: split packets and coalesced ones.
    for (let off = 0; off < stream.length && fc.closedReason === undefined; ) {
      const len = rand() < 0.5 ? stream.length - off : 1 + int(stream.length - off);
      fc.conn.receive(stream.subarray(off, off + len));
      off += len;
    }
    // Let the server flush (replies go out through queueMicrotask), so replies are checked batch by batch.
    await Promise.resolve();
    if (res.packets % 2000 < n || res.packets >= opts.count) {
      await new Promise((r) => setImmediate(r));
      // Every request answered (or its connection legitimately gone): nothing hangs.
      for (const c of conns) {
        if (c.closedReason === undefined && c.expected.length) violation(`conn domid ${c.domid}: ${c.expected.length} requests unanswered`);
        c.expected.length = 0;
      }
      // The canary, a dom0 connection of its own, still reads back what it writes.
      canaryReplies = [];
      const v = `v${res.packets}`;
      canary.receive(encodeMessage({ type: XsType.WRITE, reqId: 1, txId: 0, payload: Buffer.from(`/canary/node\0${v}`) }));
      canary.receive(encodeMessage({ type: XsType.READ, reqId: 2, txId: 0, payload: Buffer.from('/canary/node\0') }));
      await new Promise((r) => setImmediate(r));
      res.canaryChecks++;
      if (canary.closed || canaryReplies.join('|') !== `${XsType.WRITE}:OK\0|${XsType.READ}:${v}`) violation(`canary failed after ${res.packets} packets: ${JSON.stringify(canaryReplies)}`);
      opts.onProgress?.(res.packets);
      if (res.packets % 20000 < n) {
        for (const c of conns) c.conn.close('fuzz reset');
        conns.length = 0;
        for (const d of [0, 0, ...DOMIDS]) open(d);
      }
    }
  }
  for (const c of conns) c.conn.close('fuzz end');
  canary.close();
  return res;
}
