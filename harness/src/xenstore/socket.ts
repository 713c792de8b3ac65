// The unix-socket front of the server: each accepted connection is a dom0 connection (as the C
// daemon treats socket clients). Replies are written as the connection flushes them.
import { createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import type { XenstoreCore } from './core';

function attachSocket(server: XenstoreCore, sock: Socket): void {
  sock.setNoDelay?.(true);
  const conn = server.connect(0, (bytes) => {
    if (!sock.destroyed) sock.write(bytes);
  });
  conn.onClose = () => sock.destroy();
  sock.on('data', (chunk: Buffer) => conn.receive(chunk));
  sock.on('error', () => conn.close('socket error'));
  sock.on('close', () => conn.close('socket closed'));
}

/** Listens on `socketPath` (a stale socket file there is replaced). */
export function listenUnix(server: XenstoreCore, socketPath: string): Promise<Server> {
  rmSync(socketPath, { force: true });
  const net = createServer((sock) => attachSocket(server, sock));
  return new Promise((resolve, reject) => {
    net.once('error', reject);
    net.listen(socketPath, () => {
      net.off('error', reject);
      resolve(net);
    });
  });
}
