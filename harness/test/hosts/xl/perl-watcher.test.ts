// The Perl watch reader that runs in dom0, against winpv's own xenstored on a unix socket: the
// watch is registered, every change arrives with the value read at once, removals as N lines.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWatchLine, PERL_WATCHER } from '../../../src/hosts/xl/xenstore';
import { XenstoreServer } from '../../../src/xenstore/server';
import { listenUnix } from '../../../src/xenstore/socket';
import { XenstoreClient } from '../../../src/xenstore/client';
import { skipUnlessTool } from '../../support/tools';

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
