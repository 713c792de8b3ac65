// winpv's xenstored: the core (core.ts: connections, domains, watch delivery) with the request loop.
// The requests themselves are in ops.ts; the node tree in store.ts; transactions in transactions.ts.
import type { Server as NetServer } from 'node:net';
import { typeName, type XsMessage } from './codec';
import { XenstoreCore, type ServerConnection } from './core';
import { handleRequest } from './ops';
import { listenUnix } from './socket';
import { XsFail } from './xs-fail';

export { ServerConnection, type XenstoreHooks, type XenstoreServerOptions } from './core';
export { DOMID_SELF } from './ops';
export type { XenstoreQuota } from './quota';

export class XenstoreServer extends XenstoreCore {
  /** Processes one request of `conn` (ops.ts), answering it or its error. */
  process(conn: ServerConnection, msg: XsMessage): void {
    if (this.traceFn) {
      this.traceFn({ ev: 'in', conn: conn.seq, domid: conn.domid, type: typeName(msg.type), req: msg.reqId, tx: msg.txId, payload: msg.payload.toString('latin1') });
    }
    try {
      handleRequest(this, conn, msg);
    } catch (e) {
      if (e instanceof XsFail) conn.replyError(msg, e.errno);
      else {
        // A bug in winpv must not take the daemon down; the client gets EIO (in xs_wire.h's table).
        this.traceLine({ ev: 'internal-error', conn: conn.seq, message: (e as Error)?.message });
        conn.replyError(msg, 'EIO');
      }
    }
  }

  /** Serves dom0 connections on a unix socket (socket.ts). */
  listen(socketPath: string): Promise<NetServer> {
    return listenUnix(this, socketPath);
  }
}
