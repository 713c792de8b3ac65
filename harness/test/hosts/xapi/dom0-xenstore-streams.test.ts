// The XenAPI backend's view of dom0's xenstore when its watch stream ends under it (the channel
// closed, xenstore-watch gone while the SSH connection stays): a watch waiting for a stream that
// ends before it is registered fails instead of waiting for ever, and a stream that ended is not
// used again (its mirror kept nothing current).
import t from 'tap';
import { Dom0Xenstore } from '../../../src/hosts/xapi/dom0';
import type { ExecResult, LineStream, SshConnection } from '../../../src/remote/ssh';

/** An SSH connection whose watch streams the test ends by hand, and whose xenstore-ls answers from `tree`. */
function connection(tree: Map<string, string>) {
  const streams: { onLine: (l: string) => void; end: (r: ExecResult) => void }[] = [];
  const execs: string[][] = [];
  const conn = {
    stream(_line: string, onLine: (l: string) => void): LineStream {
      let end!: (r: ExecResult) => void;
      const done = new Promise<ExecResult>((r) => (end = r));
      streams.push({ onLine, end });
      return { done, stop: () => end({ code: 0, stdout: '', stderr: '' }), write: () => undefined };
    },
    async exec(argv: readonly string[]): Promise<ExecResult> {
      execs.push([...argv]);
      const root = argv[argv.length - 1]!;
      const below = [...tree].filter(([k]) => k.startsWith(root + '/'));
      if (argv[0] === 'xenstore-list') return { code: 0, stdout: [...new Set(below.map(([k]) => k.slice(root.length + 1).split('/')[0]))].map((n) => n + '\n').join(''), stderr: '' };
      return { code: 0, stdout: below.map(([k, v]) => `${k} = "${v}"\n`).join(''), stderr: '' };
    },
  } as unknown as SshConnection;
  return { conn, streams, execs };
}

const registered = (onLine: (l: string) => void, root: string) => onLine(`N${root}`);

t.test('a stream that ends before it is registered fails the watch; the next watch starts a new stream', async (t) => {
  const { conn, streams } = connection(new Map());
  const xs = new Dom0Xenstore(async () => conn);
  const first = xs.watch('/local/domain/1', () => undefined);
  await new Promise((r) => setImmediate(r));
  streams[0]!.end({ code: 1, stdout: '', stderr: 'xenstore-watch: xs_watch: Connection refused' });
  await t.rejects(first, /ended at once .*Connection refused/, 'not a wait for ever');
  const seen: string[] = [];
  const second = xs.watch('/local/domain/1', (p) => seen.push(p));
  await new Promise((r) => setImmediate(r));
  t.equal(streams.length, 2, 'a new stream');
  registered(streams[1]!.onLine, '/local/domain');
  await second;
  streams[1]!.onLine('V/local/domain/1/x ' + Buffer.from('v').toString('base64'));
  t.same(seen, ['/local/domain/1', '/local/domain/1/x'], 'fired at registration, then the new stream\'s changes');
});

t.test('a stream that ended mid-run drops the mirror: a listing after it is asked of dom0', async (t) => {
  const tree = new Map([['/local/domain/0/backend/vif/1/0', ''], ['/local/domain/0/backend/vif/1/0/state', '4']]);
  const { conn, streams, execs } = connection(tree);
  const xs = new Dom0Xenstore(async () => conn);
  const watching = xs.watch('/local/domain/0/backend', () => undefined);
  await new Promise((r) => setImmediate(r));
  registered(streams[0]!.onLine, '/local/domain');
  await watching;
  t.same(await xs.directory('/local/domain/0/backend/vif/1'), ['0']);
  t.same(await xs.directory('/local/domain/0/backend/vif/1'), ['0']);
  const listings = () => execs.filter((a) => a[0] === 'xenstore-ls' || a[0] === 'xenstore-list').length;
  t.equal(listings(), 1, 'mirrored while the stream is live');
  streams[0]!.end({ code: 255, stdout: '', stderr: '' });
  await new Promise((r) => setImmediate(r));
  tree.set('/local/domain/0/backend/vif/1/1', '');
  t.same((await xs.directory('/local/domain/0/backend/vif/1')).sort(), ['0', '1'], 'not the stale copy');
  t.equal(listings(), 2);
});

t.test('a listing that fails for another reason than a missing path is not mirrored as empty', async (t) => {
  const tree = new Map([['/local/domain/0/backend/vif/1/0', ''], ['/local/domain/0/backend/vif/1/0/state', '4']]);
  const { conn, streams, execs } = connection(tree);
  let refuse = true;
  const exec = conn.exec.bind(conn);
  (conn as { exec: SshConnection['exec'] }).exec = async (argv) => (argv[0] === 'xenstore-ls' && refuse ? { code: 1, stdout: '', stderr: 'xenstore-ls: xs_open: Connection refused\n' } : exec(argv));
  const xs = new Dom0Xenstore(async () => conn);
  const watching = xs.watch('/local/domain/0/backend', () => undefined);
  await new Promise((r) => setImmediate(r));
  registered(streams[0]!.onLine, '/local/domain');
  await watching;
  await xs.directory('/local/domain/0/backend/vif/1');
  refuse = false;
  t.same(await xs.directory('/local/domain/0/backend/vif/1'), ['0'], 'asked again, not answered from an empty copy');
  t.ok(execs.some((a) => a[0] === 'xenstore-ls'), 'listed once xenstored answers');
});
