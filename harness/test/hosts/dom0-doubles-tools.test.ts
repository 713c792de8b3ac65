// The dom0 doubles (the xl backend's test/hosts/xl/fake-dom0.ts, the XenAPI pool's
// test/support/dom0-double) answer the xenstore tool commands the backends send exactly as Debian's
// xenstore tools do against the C xenstored: the same output, error text and exit status, for
// nodes that are there, empty directories, missing nodes and missing parents. A double kinder than
// the tools passes code that fails on a real dom0: the XenAPI double printed the root of a
// `xenstore-ls -f` listing, which the tool does not, and the mirror built on it listed nothing on a
// real pool.
import t from 'tap';
import type { Test } from 'tap';
import { SshConnection, type ExecResult } from '../../src/remote/ssh';
import { Secret } from '../../src/model/secret';
import { FakeDom0 } from './xl/fake-dom0';
import { startDom0Double } from '../support/dom0-double';
import type { FakePool } from '../support/xapi-server';
import { skipUnlessTool, missing } from '../support/tools';
import { cXenstoredPath, startCXenstored } from '../xenstore/cpeer';
import { run } from '../xenstore/tools';

/** The tree every side starts from: values, a directory with a child, an empty directory. */
const TREE: [string, string][] = [['/t/a', 'x'], ['/t/b/c', 'y'], ['/t/e', '']];

/** The commands in order (each side runs them all on its own tree, so removals and writes count),
 *  the last listing showing what they left. */
const SEQUENCE = (dashes: boolean): string[][] => {
  const d = dashes ? ['--'] : [];
  return [
    ['xenstore-ls', '-f', ...d, '/t'],
    ['xenstore-ls', '-f', ...d, '/t/b'],
    ['xenstore-ls', '-f', ...d, '/t/e'],
    ['xenstore-ls', '-f', ...d, '/t/none'],
    ['xenstore-list', '/t'],
    ['xenstore-list', '/t/e'],
    ['xenstore-list', '/t/none'],
    ['xenstore-rm', ...d, '/t/none'],
    ['xenstore-rm', ...d, '/nope/x'],
    ['xenstore-rm', ...d, '/t/a'],
    ['xenstore-write', ...d, '/t/w/deep', 'v'],
    ['xenstore-ls', '-f', ...d, '/t'],
  ];
};

/** The xl backend sends `--` before paths (hosts/xl/xenstore.ts); the XenAPI backend does not. */
const XL = SEQUENCE(true);
const XAPI = [['xenstore-read', '/t/a'], ['xenstore-read', '/t/none'], ...SEQUENCE(false)];

const shown = (r: ExecResult) => ({ code: r.code, stdout: r.stdout, stderr: r.stderr });

const skip = skipUnlessTool('xenstore-ls', 'xenstore-list', 'xenstore-read', 'xenstore-rm', 'xenstore-write');

async function real(t: Test, sequence: string[][]): Promise<ReturnType<typeof shown>[] | undefined> {
  const bin = cXenstoredPath();
  if (!bin) {
    missing(t, 'the C xenstored (../shared/peers/xenstored-nohv/build.sh)');
    return undefined;
  }
  const peer = await startCXenstored(bin);
  t.teardown(() => peer.stop());
  const env = { XENSTORED_PATH: peer.socket };
  for (const [p, v] of TREE) await run('xenstore-write', [p, v], env);
  const out = [];
  for (const [cmd, ...args] of sequence) out.push(shown(await run(cmd!, args, env)));
  return out;
}

t.test('the xl dom0 double answers the xl backend\'s xenstore commands as the tools do', { skip }, async (t) => {
  const want = await real(t, XL);
  if (!want) return;
  const fake = new FakeDom0();
  for (const [p, v] of TREE) fake.xs.set(p, v);
  for (const [i, argv] of XL.entries()) t.same(shown(await fake.exec(argv)), want[i], argv.join(' '));
});

t.test('the XenAPI dom0 double answers the XenAPI backend\'s xenstore commands as the tools do', { skip }, async (t) => {
  const want = await real(t, XAPI);
  if (!want) return;
  // the xenstore commands do not ask the pool anything
  const dom0 = await startDom0Double({ objects: new Map(), listeners: new Set() } as unknown as FakePool, { user: 'root', password: 'dom0-pw' });
  t.teardown(() => dom0.close());
  for (const [p, v] of TREE) dom0.xs.write(p, v);
  const conn = await SshConnection.connect({ host: dom0.ssh.host, port: dom0.ssh.port, user: 'root', password: new Secret('dom0-pw'), hostKeySha256: dom0.ssh.hostKeyFingerprint });
  t.teardown(() => conn.close());
  for (const [i, argv] of XAPI.entries()) t.same(shown(await conn.exec(argv, { timeoutMs: 20_000 })), want[i], argv.join(' '));
});
