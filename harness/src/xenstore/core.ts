// The core of winpv's xenstored: connections, domains, permissions and watch delivery. The server
// (server.ts) adds the request loop (ops.ts) and the unix socket (socket.ts) on top.
//
// A connection belongs to a domain: socket clients are dom0 (privileged, like the C daemon's socket
// connections), in-process connections made by the simulator carry the guest's domid, so every
// permission and quota check is the real one. Replies and watch events are queued per connection
// and handed to `send` through `schedule`, which the simulator replaces with its seeded scheduler.
import {
  XsDecoder,
  XsType,
  encodeMessage,
  encodePacket,
  errorPayload,
  typeName,
  type XsErrno,
  type XsMessage,
} from './codec';
import { domainPath, relativeTo } from './paths';
import { PERM_IGNORE, PERM_READ, permForConn, type Perms } from './perms';
import { DEFAULT_QUOTA, type XenstoreQuota } from './quota';
import { Store, type NodeData } from './store';
import type { Transaction } from './transactions';
import { WatchRegistry, type Watch } from './watches';

export interface XenstoreHooks {
  /** Called when a transaction commits; 'eagain' forces a conflict (fault injection: eagain-storm). */
  beforeCommit?(domid: number, txId: number): 'ok' | 'eagain';
  /** Called before a watch event is queued; 'drop' swallows it, 'hold' gives it to the caller to
   *  deliver later via ServerConnection.deliverWatchEvent (fault injection: watch-drop / watch-delay). */
  onWatchEvent?(domid: number, path: string, token: string): 'deliver' | 'drop' | 'hold';
}

export interface XenstoreServerOptions {
  quota?: Partial<XenstoreQuota>;
  /** Runs `fn` later (never synchronously). Default: a microtask (`microtask` below). */
  schedule?: (fn: () => void) => void;
  hooks?: XenstoreHooks;
  /** One object per request, reply, watch event and connection event (for --trace). */
  trace?: (line: object) => void;
}

// The default `schedule`: a promise reaction, run after the current callback as queueMicrotask's
// would be. Node's queueMicrotask wraps every callback in an AsyncResource (an async id, a bound
// function, a destroy hook): with one flush per reply that was a third of the daemon's allocations
// per watched write (issue 20; the allocation profile is in docs/performance.md).
const resolved = Promise.resolve();
function microtask(fn: () => void): void {
  void resolved.then(fn);
}

interface DomainState {
  introduced: boolean;
  /** Generation at (re)introduction: permission entries on older nodes naming it are stale. */
  bornGen: number;
  released: boolean;
}

export class ServerConnection {
  readonly seq: number;
  readonly home: string;
  readonly privileged: boolean;
  /** Domain whose nodes this one may act on as if it owned them (SET_TARGET). */
  target?: number;
  readonly transactions = new Map<number, Transaction>();
  nextTxId = 1;
  readonly watches: Watch<ServerConnection>[] = [];
  private readonly decoder = new XsDecoder();
  private out: Buffer[] = [];
  private readonly queuedEvents = new Set<string>();
  private flushScheduled = false;
  /** flush() bound once, not a new closure per scheduled flush. */
  private readonly flushLater = (): void => this.flush();
  private closedFlag = false;
  /** Called once when the connection ends (the socket layer closes its socket). */
  onClose?: (reason: string) => void;

  constructor(
    private readonly server: XenstoreCore,
    readonly domid: number,
    private readonly sendBytes: (bytes: Buffer) => void,
    seq: number,
  ) {
    this.seq = seq;
    this.home = domainPath(domid);
    this.privileged = domid === 0;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Wire bytes from the client: any split or coalescing of packets. */
  receive(bytes: Buffer): void {
    if (this.closedFlag) return;
    const { messages, oversize } = this.decoder.push(bytes);
    for (const m of messages) {
      if (this.closedFlag) return;
      this.server.process(this, m);
    }
    if (oversize) {
      // xenstored_core.c handle_input: a header announcing more than XENSTORE_PAYLOAD_MAX is a
      // protocol violation; the connection is dropped without a reply.
      this.server.traceLine({ ev: 'drop', conn: this.seq, domid: this.domid, reason: 'oversize', type: typeName(oversize.type), len: oversize.len });
      this.close(`payload of ${oversize.len} bytes exceeds XENSTORE_PAYLOAD_MAX`);
    }
  }

  reply(req: XsMessage, type: number, payload: Buffer): void {
    this.enqueue(encodeMessage({ type, reqId: req.reqId, txId: req.txId, payload }));
    // Built only when tracing: an object and a string per reply were young-generation garbage that
    // made scavenges (and their pauses in the watch-latency tail) several times more frequent.
    if (this.server.tracing) this.server.traceLine({ ev: 'out', conn: this.seq, domid: this.domid, type: typeName(type), req: req.reqId, tx: req.txId, payload: payload.toString('latin1') });
  }

  replyError(req: XsMessage, errno: XsErrno): void {
    this.reply(req, XsType.ERROR, errorPayload(errno));
  }

  /** Queues a watch event after the hook had its say. */
  queueWatchEvent(path: string, token: string): void {
    const verdict = this.server.hooks.onWatchEvent?.(this.domid, path, token) ?? 'deliver';
    if (verdict === 'deliver') this.deliverWatchEvent(path, token);
    else this.server.traceLine({ ev: 'event-' + verdict, conn: this.seq, domid: this.domid, path, token });
  }

  /** Sends a watch event now (also how a held event is released). An identical event still waiting
   *  in the queue is not sent twice, as in the C daemon's send_event; special (`@`) events always are. */
  deliverWatchEvent(path: string, token: string): void {
    if (this.closedFlag) return;
    const text = `${path}\0${token}\0`;
    if (Buffer.byteLength(text, 'utf8') > 4096) return; // send_event: over-long events are not sent
    if (!path.startsWith('@')) {
      if (this.queuedEvents.has(text)) return;
      this.queuedEvents.add(text);
    }
    this.enqueue(encodePacket(XsType.WATCH_EVENT, 0, 0, text));
    if (this.server.tracing) this.server.traceLine({ ev: 'event', conn: this.seq, domid: this.domid, path, token });
  }

  private enqueue(packet: Buffer): void {
    if (this.closedFlag) return;
    this.out.push(packet);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.server.schedule(this.flushLater);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closedFlag || this.out.length === 0) return;
    const bufs = this.out;
    this.out = [];
    if (this.queuedEvents.size > 0) this.queuedEvents.clear(); // clear() allocates a new table
    this.sendBytes(bufs.length === 1 ? bufs[0] : Buffer.concat(bufs));
  }

  /** Drops the connection: its watches and open transactions go with it. */
  close(reason = 'closed'): void {
    if (this.closedFlag) return;
    this.flush();
    this.closedFlag = true;
    this.server.detach(this);
    this.onClose?.(reason);
  }
}

/**
 * The daemon's state the requests act on: connections, domains, permissions and watch delivery.
 * How a request is answered is not here (ops.ts, through XenstoreServer.process), so the request
 * handlers can depend on this without the server depending back on them.
 */
export abstract class XenstoreCore {
  readonly store = new Store();
  readonly quota: XenstoreQuota;
  readonly hooks: XenstoreHooks;
  readonly schedule: (fn: () => void) => void;
  protected readonly traceFn?: (line: object) => void;
  readonly watches = new WatchRegistry<ServerConnection>();
  private readonly conns = new Set<ServerConnection>();
  private readonly domains = new Map<number, DomainState>();
  /** Permissions of the special watch names (set_perms_special): dom0 only by default. */
  readonly specialPerms = new Map<string, Perms>([
    ['@introduceDomain', [{ id: 0, bits: 0 }]],
    ['@releaseDomain', [{ id: 0, bits: 0 }]],
  ]);
  private nextConnSeq = 0;

  /** Answers one request of `conn` (or its error). */
  abstract process(conn: ServerConnection, msg: XsMessage): void;

  constructor(opts: XenstoreServerOptions = {}) {
    this.quota = { ...DEFAULT_QUOTA, ...opts.quota };
    this.hooks = opts.hooks ?? {};
    this.schedule = opts.schedule ?? microtask;
    this.traceFn = opts.trace;
    this.domains.set(0, { introduced: true, bornGen: 0, released: false });
  }

  traceLine(line: object): void {
    this.traceFn?.(line);
  }

  get tracing(): boolean {
    return this.traceFn !== undefined;
  }

  /** A connection for a domain: the caller feeds it wire bytes and receives wire bytes through `send`. */
  connect(domid: number, send: (bytes: Buffer) => void): ServerConnection {
    const c = new ServerConnection(this, domid >>> 0, send, this.nextConnSeq++);
    this.conns.add(c);
    this.traceLine({ ev: 'connect', conn: c.seq, domid: c.domid });
    return c;
  }

  connections(): ServerConnection[] {
    return [...this.conns];
  }

  /** Called by ServerConnection.close(). */
  detach(c: ServerConnection): void {
    if (!this.conns.delete(c)) return;
    this.dropWatchesAndTransactions(c);
    this.traceLine({ ev: 'disconnect', conn: c.seq, domid: c.domid });
  }

  dropWatchesAndTransactions(c: ServerConnection): void {
    for (const w of c.watches) this.watches.remove(w);
    c.watches.length = 0;
    c.transactions.clear();
  }

  isIntroduced(domid: number): boolean {
    return this.domains.get(domid)?.introduced ?? false;
  }

  /** The toolstack's INTRODUCE: the domain becomes known and @introduceDomain fires (not for dom0).
   *  Introducing it again resets its connections' watches and transactions, as the daemon does. */
  introduceDomain(domid: number): void {
    const d = this.domains.get(domid);
    if (d?.introduced) {
      for (const c of this.conns) if (c.domid === domid) this.dropWatchesAndTransactions(c);
      return;
    }
    this.domains.set(domid, { introduced: true, bornGen: this.store.nextGen(), released: false });
    if (domid !== 0) this.fireWatches(undefined, '@introduceDomain', true);
  }

  /** The domain is gone: its connections close (dropping their watches and transactions),
   *  permission entries naming it stop applying, and @releaseDomain fires. */
  releaseDomain(domid: number): void {
    const d = this.domains.get(domid);
    this.domains.set(domid, { introduced: false, bornGen: d?.bornGen ?? 0, released: true });
    for (const c of [...this.conns]) if (c.domid === domid) c.close('domain released');
    this.fireWatches(undefined, '@releaseDomain', true);
  }

  /** Permission bits of `conn` on a node, skipping entries for domains that no longer exist or were
   *  created after the node was last written (domain_adjust_node_perms). */
  permFor(conn: ServerConnection, node: NodeData | Perms): number {
    const perms = 'perms' in node ? node.perms : node;
    const gen = 'perms' in node ? node.gen : Number.MAX_SAFE_INTEGER;
    if (conn.privileged) return permForConn(perms, conn.domid, true);
    let effective = perms;
    for (let i = 1; i < perms.length; i++) {
      const d = this.domains.get(perms[i].id);
      if (d && (d.released || d.bornGen > gen)) {
        effective = perms.map((p, j) => {
          const dj = j > 0 ? this.domains.get(p.id) : undefined;
          return dj && (dj.released || dj.bornGen > gen) ? { id: p.id, bits: p.bits | PERM_IGNORE } : p;
        });
        break;
      }
    }
    return permForConn(effective, conn.domid, false, conn.target);
  }

  /** A domain exists unless it was released (winpv has no hypervisor to ask). */
  domainExists(domid: number): boolean {
    return !(this.domains.get(domid)?.released ?? false);
  }

  /** fire_watches (xenstored_watch.c). `changer` is the connection whose request changed the node
   *  (its transaction queues the events instead); `node`/`oldPerms` decide whether a watcher may see it. */
  fireWatches(changer: ServerConnection | undefined, name: string, exact: boolean, node?: NodeData, oldPerms?: Perms, tx?: Transaction): void {
    if (tx) {
      tx.queueWatch(name, exact);
      return;
    }
    const matches = this.watches.matching(name, exact);
    if (matches.length === 0) return;
    const special = name.startsWith('@');
    let lastConn: ServerConnection | undefined;
    let permitted = false;
    for (const w of matches) {
      if (w.conn !== lastConn) {
        lastConn = w.conn;
        permitted = special ? this.canSeeSpecial(w.conn, name) : this.watchPermitted(w.conn, name, node, oldPerms);
      }
      if (!permitted) continue;
      const path = w.relativeTo !== undefined ? relativeTo(w.relativeTo, name) : name;
      w.conn.queueWatchEvent(path, w.token);
    }
  }

  private canSeeSpecial(conn: ServerConnection, name: string): boolean {
    const p = this.specialPerms.get(name);
    return p !== undefined && (this.permFor(conn, p) & PERM_READ) !== 0;
  }

  /** watch_permitted: the watcher may read the node's old perms, its current perms, or its parent's. */
  private watchPermitted(conn: ServerConnection, name: string, node?: NodeData, oldPerms?: Perms): boolean {
    if (conn.privileged) {
      // perm_for_conn grants everything to privileged connections, but the daemon still needs a
      // node (or old perms) to look at: a node created and removed inside one transaction fires nothing.
      return oldPerms !== undefined || node !== undefined || this.store.get(name) !== undefined;
    }
    if (oldPerms && this.permFor(conn, oldPerms) & PERM_READ) return true;
    const n = node ?? this.store.get(name);
    if (!n) return false;
    if (this.permFor(conn, n) & PERM_READ) return true;
    const slash = name.lastIndexOf('/');
    const parent = this.store.get(slash <= 0 ? '/' : name.slice(0, slash));
    return parent !== undefined && (this.permFor(conn, parent) & PERM_READ) !== 0;
  }
}
