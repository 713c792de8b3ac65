// A promise-based xenstore client speaking the real wire protocol, over a unix socket (any
// xenstored: winpv's or Xen's) or in-process to a XenstoreServer (real packets through the codec,
// no socket). Used by the probes, the simulator and the benchmarks.
import { createConnection, type Socket } from 'node:net';
import { WinpvError } from '../model/errors';
import type { XenstoreView } from '../model/host';
import { XsDecoder, XsType, encodeMessage, parseErrorPayload, splitStrings, type XsMessage } from './codec';
import type { XenstoreServer } from './server';

/** An error answer of the daemon: kind 'host', code `XS_<ERRNO>`, and the errno name. */
export class XenstoreError extends WinpvError {
  constructor(
    readonly errno: string,
    message: string,
  ) {
    super('host', `XS_${errno}`, message);
    this.name = 'XenstoreError';
  }
}

export function isXenstoreErrno(e: unknown, errno: string): boolean {
  return e instanceof XenstoreError && e.errno === errno;
}

/** The operations available inside a transaction. */
export interface XenstoreTx {
  readonly id: number;
  read(path: string): Promise<string | null>;
  write(path: string, value: string | Buffer): Promise<void>;
  directory(path: string): Promise<string[]>;
  rm(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  getPerms(path: string): Promise<string[]>;
  setPerms(path: string, perms: readonly string[]): Promise<void>;
  exists(path: string): Promise<boolean>;
}

interface Pending {
  type: number;
  what: string;
  resolve(payload: Buffer): void;
  reject(e: Error): void;
}

type WatchCallback = (path: string, token: string) => void;

const nul = (...parts: string[]) => Buffer.from(parts.map((p) => p + '\0').join(''), 'utf8');

export class XenstoreClient implements XenstoreView {
  private readonly decoder = new XsDecoder();
  private readonly pending = new Map<number, Pending>();
  private readonly watchers = new Map<string, Set<WatchCallback>>();
  private nextReq = 1;
  private nextToken = 0;
  private closed: Error | undefined;

  private constructor(
    private readonly sendBytes: (b: Buffer) => void,
    private readonly closeTransport: () => Promise<void>,
  ) {}

  /** Connects to a xenstored's unix socket (what XENSTORED_PATH names). */
  static connectSocket(path: string): Promise<XenstoreClient> {
    return new Promise((resolve, reject) => {
      const sock: Socket = createConnection(path);
      sock.setNoDelay?.(true);
      const client = new XenstoreClient(
        (b) => sock.write(b),
        () =>
          new Promise<void>((res) => {
            if (sock.destroyed) return res();
            sock.once('close', () => res());
            sock.end();
          }),
      );
      sock.once('error', (e) => reject(new WinpvError('host', 'XS_CONNECT', `cannot connect to xenstored at ${path}: ${e.message}`, { cause: e })));
      sock.once('connect', () => {
        sock.on('error', (e) => client.fail(e));
        resolve(client);
      });
      sock.on('data', (chunk: Buffer) => client.onBytes(chunk));
      sock.on('close', () => client.fail(new Error('connection closed')));
    });
  }

  /** A connection of domain `domid` to an in-process server: real packets, no socket. */
  static inProcess(server: XenstoreServer, domid: number): XenstoreClient {
    let conn: ReturnType<XenstoreServer['connect']> | undefined;
    const client: XenstoreClient = new XenstoreClient(
      (b) => conn!.receive(b),
      async () => conn!.close('client closed'),
    );
    conn = server.connect(domid, (b) => client.onBytes(b));
    conn.onClose = (reason) => client.fail(new Error(reason));
    return client;
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = e;
    const err = new WinpvError('host', 'XS_DISCONNECTED', `xenstore connection lost: ${e.message}`, { cause: e });
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private onBytes(chunk: Buffer): void {
    const { messages, oversize } = this.decoder.push(chunk);
    for (const m of messages) this.dispatch(m);
    if (oversize) this.fail(new Error(`daemon sent a payload of ${oversize.len} bytes`));
  }

  private dispatch(m: XsMessage): void {
    if (m.type === XsType.WATCH_EVENT) {
      const [path, token] = splitStrings(m.payload);
      for (const cb of this.watchers.get(token ?? '') ?? []) cb(path, token);
      return;
    }
    const p = this.pending.get(m.reqId);
    if (!p) return;
    this.pending.delete(m.reqId);
    if (m.type === XsType.ERROR) {
      const errno = parseErrorPayload(m.payload);
      p.reject(new XenstoreError(errno, `xenstore ${p.what}: ${errno}`));
    } else if (m.type !== p.type) {
      p.reject(new WinpvError('host', 'XS_PROTOCOL', `xenstore ${p.what}: reply of type ${m.type}`));
    } else p.resolve(Buffer.from(m.payload));
  }

  /** Sends one request and resolves with the reply payload (rejects with XenstoreError on XS_ERROR).
   *  `unchecked` sends a payload over XENSTORE_PAYLOAD_MAX as it is, as a client without a length check
   *  would (the simulator's model of a driver that has none; xenstored then drops the connection). */
  request(type: number, payload: Buffer, txId = 0, what = `request ${type}`, opts: { unchecked?: boolean } = {}): Promise<Buffer> {
    if (this.closed) return Promise.reject(new WinpvError('host', 'XS_DISCONNECTED', `xenstore connection lost: ${this.closed.message}`));
    const reqId = this.nextReq;
    this.nextReq = (this.nextReq + 1) >>> 0 || 1;
    return new Promise((resolve, reject) => {
      this.pending.set(reqId, { type, what, resolve, reject });
      this.sendBytes(encodeMessage({ type, reqId, txId, payload }, opts.unchecked === true));
    });
  }

  private ops(txId: number): Omit<XenstoreTx, 'id'> {
    return {
      read: async (path) => {
        try {
          return (await this.request(XsType.READ, nul(path), txId, `read ${path}`)).toString('utf8');
        } catch (e) {
          if (isXenstoreErrno(e, 'ENOENT')) return null;
          throw e;
        }
      },
      write: async (path, value) => {
        const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
        await this.request(XsType.WRITE, Buffer.concat([nul(path), v]), txId, `write ${path}`);
      },
      directory: async (path) => splitStrings(await this.request(XsType.DIRECTORY, nul(path), txId, `directory ${path}`)),
      rm: async (path) => void (await this.request(XsType.RM, nul(path), txId, `rm ${path}`)),
      mkdir: async (path) => void (await this.request(XsType.MKDIR, nul(path), txId, `mkdir ${path}`)),
      getPerms: async (path) => splitStrings(await this.request(XsType.GET_PERMS, nul(path), txId, `get-perms ${path}`)),
      setPerms: async (path, perms) => void (await this.request(XsType.SET_PERMS, nul(path, ...perms), txId, `set-perms ${path}`)),
      exists: async (path) => {
        try {
          await this.request(XsType.READ, nul(path), txId, `read ${path}`);
          return true;
        } catch (e) {
          if (isXenstoreErrno(e, 'ENOENT')) return false;
          throw e;
        }
      },
    };
  }

  private readonly plain = this.ops(0);
  /** The value, or null when the node does not exist. */
  read = (path: string) => this.plain.read(path);
  write = (path: string, value: string | Buffer) => this.plain.write(path, value);
  directory = (path: string) => this.plain.directory(path);
  rm = (path: string) => this.plain.rm(path);
  mkdir = (path: string) => this.plain.mkdir(path);
  /** Wire permission strings, owner first: `['n0', 'r5']`. */
  getPerms = (path: string) => this.plain.getPerms(path);
  setPerms = (path: string, perms: readonly string[]) => this.plain.setPerms(path, perms);
  exists = (path: string) => this.plain.exists(path);

  async getDomainPath(domid: number): Promise<string> {
    return splitStrings(await this.request(XsType.GET_DOMAIN_PATH, nul(String(domid)), 0, `get-domain-path ${domid}`))[0];
  }

  /** Watches `path` under a caller-chosen token; `cb` gets every event carrying that token,
   *  starting with the daemon's registration event (the watched path itself). */
  async watchToken(path: string, token: string, cb: WatchCallback): Promise<() => Promise<void>> {
    let set = this.watchers.get(token);
    if (!set) this.watchers.set(token, (set = new Set()));
    set.add(cb);
    try {
      await this.request(XsType.WATCH, nul(path, token), 0, `watch ${path}`);
    } catch (e) {
      set.delete(cb);
      throw e;
    }
    return async () => {
      set!.delete(cb);
      if (set!.size === 0) this.watchers.delete(token);
      await this.request(XsType.UNWATCH, nul(path, token), 0, `unwatch ${path}`);
    };
  }

  /** XenstoreView.watch: `onChange` gets the changed path of every event at or below `path`,
   *  including the registration event the daemon sends at once. */
  watch(path: string, onChange: (changedPath: string) => void): Promise<() => Promise<void>> {
    return this.watchToken(path, `winpv-${this.nextToken++}`, (p) => onChange(p));
  }

  /** Runs `fn` in a transaction and commits; on EAGAIN the whole of `fn` runs again, at most
   *  `maxRetries` more times. An error thrown by `fn` aborts the transaction and propagates. */
  async transaction<T>(fn: (tx: XenstoreTx) => Promise<T>, opts: { maxRetries?: number } = {}): Promise<T> {
    const maxRetries = opts.maxRetries ?? 32;
    for (let attempt = 0; ; attempt++) {
      const id = Number.parseInt(splitStrings(await this.request(XsType.TRANSACTION_START, nul(''), 0, 'transaction-start'))[0], 10);
      const tx: XenstoreTx = { id, ...this.ops(id) };
      let result: T;
      try {
        result = await fn(tx);
      } catch (e) {
        await this.request(XsType.TRANSACTION_END, nul('F'), id, 'transaction-abort').catch(() => undefined);
        throw e;
      }
      try {
        await this.request(XsType.TRANSACTION_END, nul('T'), id, 'transaction-commit');
        return result;
      } catch (e) {
        if (!isXenstoreErrno(e, 'EAGAIN')) throw e;
        if (attempt >= maxRetries) {
          throw new XenstoreError('EAGAIN', `xenstore transaction still conflicting (EAGAIN) after ${attempt + 1} attempts`);
        }
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.closeTransport();
    this.fail(new Error('client closed'));
  }
}
