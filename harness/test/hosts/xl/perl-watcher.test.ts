// The Perl watch reader that runs in dom0, against winpv's own xenstored on a unix socket: the
// watch is registered, every change arrives with the value read at once, removals as N lines; and
// against winpv's and the C xenstored, values read late arrive as one batch.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWatchLine, PERL_WATCHER, watchStreamReader } from '../../../src/hosts/dom0-xenstore';
import type { ReadBatch } from '../../../src/model/trace';
import { XenstoreServer } from '../../../src/xenstore/server';
import { listenUnix } from '../../../src/xenstore/socket';
import { XenstoreClient } from '../../../src/xenstore/client';
import { missing, skipUnlessTool } from '../../support/tools';
import { cXenstoredPath, startCXenstored } from '../../xenstore/cpeer';

const skip = skipUnlessTool('perl');

t.test('watch, immediate reads, removals over the xenstored wire protocol', { skip }, async (t) => {
  const server = new XenstoreServer();
  const sock = join(mkdtempSync(join(tmpdir(), 'winpv-xsw-')), 'socket');
  const listener = await listenUnix(server, sock);
  const client = XenstoreClient.inProcess(server, 0);
  await client.write('/local/domain/1/device/vbd/51712/state', '1');
  const child = spawn('perl', ['-e', PERL_WATCHER, '/local/domain/1', sock], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let waiting: (() => void) | undefined;
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    const parts = (partial + c).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    waiting?.();
  });
  const next = async (n: number) => {
    while (lines.length < n) await new Promise<void>((r) => (waiting = r));
  };
  await next(1);
  t.same(parseWatchLine(lines[0]!), { path: '/local/domain/1', value: '' }, 'the registration event for the root');
  for (const [i, v] of ['3', '4', 'a "q" é\n'].entries()) {
    await client.write('/local/domain/1/device/vbd/51712/state', v);
    await next(i + 2);
    t.same(parseWatchLine(lines[i + 1]!), { path: '/local/domain/1/device/vbd/51712/state', value: v });
  }
  await client.rm('/local/domain/1/device');
  await next(5);
  t.equal(parseWatchLine(lines[4]!)!.value, null, 'a removal reads as removed');
  child.kill();
  await client.close();
  listener.close();
});

t.test('@releaseDomain (the xl backend\'s crash detection): registration and a domain going away, as N lines', { skip }, async (t) => {
  const server = new XenstoreServer();
  const sock = join(mkdtempSync(join(tmpdir(), 'winpv-xsw-')), 'socket');
  const listener = await listenUnix(server, sock);
  const child = spawn('perl', ['-e', PERL_WATCHER, '@releaseDomain', sock], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let waiting: (() => void) | undefined;
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    lines.push(...c.split('\n').filter((l) => l !== ''));
    waiting?.();
  });
  const next = async (n: number) => {
    while (lines.length < n) await new Promise<void>((r) => (waiting = r));
  };
  await next(1);
  t.same(parseWatchLine(lines[0]!), { path: '@releaseDomain', value: null }, 'registration');
  server.releaseDomain(7);
  await next(2);
  t.same(parseWatchLine(lines[1]!), { path: '@releaseDomain', value: null }, 'a domain released');
  child.kill();
  listener.close();
});

/** The reader on `socket`, its output as changes (watchStreamReader), and a way to wait for n of them. */
function watchReader(socket: string, root: string) {
  const child = spawn('perl', ['-e', PERL_WATCHER, root, socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  const changes: { path: string; value: string | null; batch?: ReadBatch }[] = [];
  let waiting: (() => void) | undefined;
  let partial = '';
  const reader = watchStreamReader((path, value, batch) => changes.push({ path, value, ...(batch !== undefined ? { batch } : {}) }));
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    const parts = (partial + c).split('\n');
    partial = parts.pop()!;
    parts.forEach(reader);
    waiting?.();
  });
  const next = async (n: number) => {
    while (changes.length < n) await new Promise<void>((r) => (waiting = r));
  };
  return { child, changes, next };
}

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
