// The Perl watch reader that runs in dom0, against winpv's own xenstored on a unix socket: the
// watch is registered, every change arrives with the value read at once, removals as N lines; and
// against winpv's and the C xenstored, values read late arrive as one batch.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PERL_WATCHER } from '../../../src/hosts/dom0-xenstore';
import { XenstoreServer } from '../../../src/xenstore/server';
import { listenUnix } from '../../../src/xenstore/socket';
import { XenstoreClient } from '../../../src/xenstore/client';
import { missing, skipUnlessTool } from '../../support/tools';
import { readWatchStream } from '../../support/watch-stream';
import { cXenstoredPath, startCXenstored } from '../../xenstore/cpeer';

const skip = skipUnlessTool('perl');

/** The reader on `socket`, and its changes as the xl and XenAPI backends read them. */
function watchReader(socket: string, root: string) {
  const child = spawn('perl', ['-e', PERL_WATCHER, root, socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { child, ...readWatchStream(child) };
}

t.test('watch, immediate reads, removals over the xenstored wire protocol', { skip }, async (t) => {
  const server = new XenstoreServer();
  const sock = join(mkdtempSync(join(tmpdir(), 'winpv-xsw-')), 'socket');
  const listener = await listenUnix(server, sock);
  t.teardown(() => listener.close());
  const client = XenstoreClient.inProcess(server, 0);
  t.teardown(() => client.close());
  await client.write('/local/domain/1/device/vbd/51712/state', '1');
  const w = watchReader(sock, '/local/domain/1');
  t.teardown(() => w.child.kill());
  await w.next(1);
  t.same(w.changes[0], { path: '/local/domain/1', value: '' }, 'the registration event for the root');
  for (const [i, v] of ['3', '4', 'a "q" é\n'].entries()) {
    await client.write('/local/domain/1/device/vbd/51712/state', v);
    await w.next(i + 2);
    t.same(w.changes[i + 1], { path: '/local/domain/1/device/vbd/51712/state', value: v });
  }
  await client.rm('/local/domain/1/device');
  await w.next(5);
  t.equal(w.changes[4]!.value, null, 'a removal reads as removed');
});

t.test('@releaseDomain (the xl backend\'s crash detection): registration and a domain going away, as N lines', { skip }, async (t) => {
  const server = new XenstoreServer();
  const sock = join(mkdtempSync(join(tmpdir(), 'winpv-xsw-')), 'socket');
  const listener = await listenUnix(server, sock);
  t.teardown(() => listener.close());
  const w = watchReader(sock, '@releaseDomain');
  t.teardown(() => w.child.kill());
  await w.next(1);
  t.same(w.changes[0], { path: '@releaseDomain', value: null }, 'registration');
  server.releaseDomain(7);
  await w.next(2);
  t.same(w.changes[1], { path: '@releaseDomain', value: null }, 'a domain released');
});

const BE = '/local/domain/0/backend/vbd/1/51712/state';
const FE = '/local/domain/1/device/vbd/51712/state';

/** A detach as blkback and blkfront do it, made while the reader is stopped (descheduled): when it
 *  reads the first change, all four are made; it must read both ends as one batch, as of one moment. */
async function lateReads(t: Test, socket: string): Promise<void> {
  const client = await XenstoreClient.connectSocket(socket);
  t.teardown(() => client.close());
  await client.write(BE, '4');
  await client.write(FE, '4');
  const w = watchReader(socket, '/local/domain');
  t.teardown(() => w.child.kill());
  await w.next(1);
  w.child.kill('SIGSTOP');
  for (const [p, v] of [[BE, '5'], [FE, '5'], [FE, '6'], [BE, '6']] as const) await client.write(p, v);
  w.child.kill('SIGCONT');
  await w.next(3);
  const [fe, be] = w.changes.slice(1);
  t.same([fe, be].map((c) => [c!.path, c!.value]), [[FE, '6'], [BE, '6']], 'each end once, as of the last change, in the order of its last write');
  t.ok(be!.batch !== undefined && be!.batch.id === fe!.batch?.id, 'one batch');
  t.match([be!.batch, fe!.batch], [{ first: 1, last: 4 }, { first: 2, last: 3 }], 'where each end\'s writes fall: the backend before and after the frontend\'s two');
  // a change made after the batch was read is read on its own
  await client.write(FE, '1');
  await w.next(4);
  t.same(w.changes[3], { path: FE, value: '1' }, 'next change: no batch');
  t.equal(w.changes.length, 4, 'nothing read twice');
}

t.test('values read late come as one batch: winpv xenstored', { skip }, async (t) => {
  const server = new XenstoreServer();
  const sock = join(mkdtempSync(join(tmpdir(), 'winpv-xsw-')), 'socket');
  const listener = await listenUnix(server, sock);
  t.teardown(() => listener.close());
  await lateReads(t, sock);
});

t.test('values read late come as one batch: the C xenstored', { skip }, async (t) => {
  const bin = cXenstoredPath();
  if (!bin) return missing(t, 'the C xenstored (../shared/peers/xenstored-nohv/build.sh)');
  const peer = await startCXenstored(bin);
  t.teardown(() => peer.stop());
  await lateReads(t, peer.socket);
});
