// Test helper: a raw wire connection (packets in, packets out) to an in-process server or a socket.
import { createConnection, type Socket } from 'node:net';
import { XsDecoder, encodeMessage, type XsMessage } from '../../src/xenstore/codec';
import type { XenstoreServer } from '../../src/xenstore/server';

export interface RawConn {
  /** Sends one request and returns the next non-event packet (events are collected in `events`). */
  req(type: number, payload: string | Buffer, txId?: number): Promise<XsMessage>;
  sendRaw(bytes: Buffer): void;
  events: XsMessage[];
  closed(): boolean;
  close(): void;
  /** Waits until the transport delivered everything queued so far. */
  settle(): Promise<void>;
}

export function pkt(type: number, payload: string | Buffer, reqId = 1, txId = 0): Buffer {
  return encodeMessage({ type, reqId, txId, payload: typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload }, true);
}

function makeRaw(send: (b: Buffer) => void, close: () => void): RawConn & { onBytes(b: Buffer): void; onClose(): void } {
  const dec = new XsDecoder(1 << 30);
  const replies: XsMessage[] = [];
  const waiters: ((m: XsMessage | undefined) => void)[] = [];
  let isClosed = false;
  let reqId = 100;
  const raw = {
    events: [] as XsMessage[],
    onBytes(b: Buffer) {
      for (const m of dec.push(b).messages) {
        const copy = { ...m, payload: Buffer.from(m.payload) };
        if (m.type === 15) raw.events.push(copy);
        else if (waiters.length) waiters.shift()!(copy);
        else replies.push(copy);
      }
    },
    onClose() {
      isClosed = true;
      while (waiters.length) waiters.shift()!(undefined);
    },
    req(type: number, payload: string | Buffer, txId = 0) {
      return new Promise<XsMessage>((resolve, reject) => {
        const done = (m: XsMessage | undefined) => (m ? resolve(m) : reject(new Error('connection closed')));
        if (isClosed) return reject(new Error('connection closed'));
        waiters.push(done);
        send(pkt(type, payload, reqId++, txId));
      });
    },
    sendRaw: send,
    closed: () => isClosed,
    close,
    settle: () => new Promise<void>((r) => setImmediate(() => setImmediate(r))),
  };
  return raw;
}

export function rawInProcess(server: XenstoreServer, domid: number): RawConn {
  let conn: ReturnType<XenstoreServer['connect']>;
  const raw = makeRaw(
    (b) => conn.receive(b),
    () => conn.close(),
  );
  conn = server.connect(domid, (b) => raw.onBytes(b));
  conn.onClose = () => raw.onClose();
  return raw;
}

export function rawSocket(path: string): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const sock: Socket = createConnection(path);
    const raw = makeRaw(
      (b) => sock.write(b),
      () => sock.destroy(),
    );
    sock.on('data', (b: Buffer) => raw.onBytes(b));
    sock.on('close', () => raw.onClose());
    sock.once('error', reject);
    sock.once('connect', () => {
      sock.on('error', () => undefined);
      resolve(raw);
    });
  });
}

/** Payload as text with NULs shown as \0, for readable assertions. */
export const show = (m: XsMessage) => m.payload.toString('latin1').replace(/\0/g, '\\0');
