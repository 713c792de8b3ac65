// What runs in dom0 to read and watch xenstore (src/hosts/dom0-xenstore.ts), against Debian's real
// xenstore tools talking to winpv's xenstored: every byte of a value comes back exactly through
// xenstore-read, xenstore-ls, the batched read and the watch stream without Perl; a value written
// through xenstore-write is stored as it was meant. The dom0 doubles' copy of the tools' escaping
// (test/support/xenstore-tools.ts) is held to the real tools here too.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BATCH_READ_SCRIPT, fromToolText, parseBatchRead, parseXenstoreLs, toToolText, WATCH_SCRIPT } from '../../src/hosts/dom0-xenstore';
import { XenstoreServer } from '../../src/xenstore/server';
import { listenUnix } from '../../src/xenstore/socket';
import { XenstoreClient } from '../../src/xenstore/client';
import { skipUnlessTool } from '../support/tools';
import { toolPrints, toolStores } from '../support/xenstore-tools';
import { readWatchStream } from '../support/watch-stream';
import { run } from '../xenstore/tools';

/** Values with every byte but NUL, UTF-8 text, quotes, backslashes and escapes' look-alikes. */
const VALUES = [
  ...Array.from({ length: 31 }, (_, i) => `a${String.fromCharCode(i + 1)}b`),
  'plain', '', 'say "hi"', 'C:\\Windows|\\Device\\Harddisk0\\Partition2', '\\x41 \\101 \\n \\\\', 'é ü Ω 日本', 'tab\tnl\ncr\r', '\x7f\x80\xff',
  'trailing\\',
];

t.test('the tools\' text, both ways', async (t) => {
  for (const v of VALUES) {
    t.equal(fromToolText(toolPrints(v)), v, `read back: ${JSON.stringify(v)}`);
    t.equal(toolStores(toToolText(v)), v, `written: ${JSON.stringify(v)}`);
  }
  t.equal(fromToolText('already plain'), 'already plain');
});

const skip = skipUnlessTool('xenstore-read', 'xenstore-ls', 'xenstore-write', 'xenstore-watch');

t.test('against the real xenstore tools', { skip }, async (t) => {
  const server = new XenstoreServer();
  const socket = join(mkdtempSync(join(tmpdir(), 'winpv-dom0xs-')), 'socket');
  const listener = await listenUnix(server, socket);
  t.teardown(() => listener.close());
  const client = await XenstoreClient.connectSocket(socket);
  t.teardown(() => client.close());
  const env = { XENSTORED_PATH: socket };
  const paths = VALUES.map((_, i) => `/t/v${i}`);
  for (const [i, v] of VALUES.entries()) await client.write(paths[i]!, v);

  const printed: string[] = [];
  for (const p of paths) printed.push((await run('xenstore-read', [p], env)).stdout.replace(/\n$/, ''));
  t.same(printed.map(fromToolText), VALUES, 'xenstore-read: every value recovered');
  t.same(VALUES.map(toolPrints), printed, 'the doubles print as xenstore-read does');

  const ls = await run('xenstore-ls', ['-f', '/t'], env);
  const listed = parseXenstoreLs(ls.stdout);
  t.same(paths.map((p) => listed.get(p)), VALUES, 'xenstore-ls -f: every value recovered');

  const batch = await run('sh', ['-c', BATCH_READ_SCRIPT, 'sh', ...paths, '/t/missing'], env);
  t.same([...parseBatchRead([...paths, '/t/missing'], batch.stdout).values()], [...VALUES, null], 'the batched read');

  for (const [i, v] of VALUES.entries()) await run('xenstore-write', [`/w/v${i}`, toToolText(v)], env);
  const stored: (string | null)[] = [];
  for (let i = 0; i < VALUES.length; i++) stored.push(await client.read(`/w/v${i}`));
  t.same(stored, VALUES, 'xenstore-write of toToolText(v) stores v');
  for (const arg of ['\\x41', '\\101', '\\1x', '\\x4g', '\\q', '\\t\\r\\n', 'a\\\\b']) {
    await run('xenstore-write', ['/w/arg', arg], env);
    t.equal(toolStores(arg), await client.read('/w/arg'), `the doubles store ${arg} as xenstore-write does`);
  }

  // no /run/xenstored/socket here: the stream is xenstore-watch + xenstore-read (dom0 without Perl)
  // its own process group: the pipeline's xenstore-watch and loop go with the shell
  const watch = spawn('sh', ['-c', WATCH_SCRIPT, 'unused', '/u'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  t.teardown(() => {
    try {
      process.kill(-watch.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
  });
  const { changes, next } = readWatchStream(watch);
  await next(1); // the registration event
  const some = VALUES.filter((_, i) => i % 4 === 0 || i >= 31);
  for (const v of some) {
    await client.write('/u/k', v);
    await next(changes.length + 1);
  }
  t.same(changes.slice(1).map((c) => c.value), some, 'the watch stream without Perl: every value recovered');
});
