import t from 'tap';
import { Dom0 } from '../../../src/hosts/xl/dom0';
import { XlXenstore } from '../../../src/hosts/xl/xenstore';
import { parseBatchRead, parseWatchLine, parseXenstoreLs } from '../../../src/hosts/dom0-xenstore';
import { FakeDom0 } from './fake-dom0';
import { XenstoreProbe } from '../../../src/probes/xenstore-probe';
import { TraceWriter } from '../../../src/trace/writer';
import type { XenstoreEvent } from '../../../src/model/trace';

t.test('reads issued together are one remote command', async (t) => {
  const fake = new FakeDom0();
  fake.xs.set('/local/domain/1/device/vbd/51712/state', '4');
  fake.xs.set('/local/domain/1/name', 'g "quoted" $(x)');
  const xs = new XlXenstore(new Dom0(fake, 'fake'));
  const before = fake.lines.length;
  const [a, b, c] = await Promise.all([
    xs.read('/local/domain/1/device/vbd/51712/state'),
    xs.read('/local/domain/1/name'),
    xs.read('/local/domain/1/missing'),
  ]);
  t.equal(a, '4');
  t.equal(b, 'g "quoted" $(x)', 'values survive any characters');
  t.equal(c, null);
  t.equal(fake.lines.length - before, 1, 'one command for three reads');
});

t.test('a batch answer that does not match the request is an error, not a shifted value', async (t) => {
  t.throws(() => parseBatchRead(['/a', '/b'], 'Vx\n'), /answered 1 of 2/);
});

t.test('one watch stream feeds every watcher, each only with changes under its path', async (t) => {
  const fake = new FakeDom0();
  const xs = new XlXenstore(new Dom0(fake, 'fake'));
  const a: string[] = [];
  const b: string[] = [];
  const stopA = await xs.watch('/local/domain/1/device', (p) => a.push(p));
  await xs.watch('/local/domain/0/backend/vbd/1', (p) => b.push(p));
  fake.setKey('/local/domain/1/device/vbd/51712/state', '1');
  fake.setKey('/local/domain/0/backend/vbd/1/51712/state', '2');
  fake.setKey('/local/domain/2/device/vif/0/state', '1');
  t.same(a, ['/local/domain/1/device', '/local/domain/1/device/vbd/51712/state']);
  t.same(b, ['/local/domain/0/backend/vbd/1', '/local/domain/0/backend/vbd/1/51712/state']);
  t.equal(fake.lines.filter((l) => l.includes('xenstore-watch')).length, 1, 'a single remote xenstore-watch');
  await stopA();
  fake.setKey('/local/domain/1/device/vbd/51712/state', '4');
  t.equal(a.length, 2, 'no events after unwatch');
});

t.test('writes and removals go through quoted argv', async (t) => {
  const fake = new FakeDom0();
  const xs = new XlXenstore(new Dom0(fake, 'fake'));
  await xs.write('/local/domain/1/data/x', "it's; rm -rf /");
  t.equal(fake.xs.get('/local/domain/1/data/x'), "it's; rm -rf /");
  t.ok(fake.lines.at(-1)!.includes("'it'\\''s; rm -rf /'"));
  await xs.rm('/local/domain/1/data');
  t.equal(fake.xs.get('/local/domain/1/data/x'), undefined);
  t.same(await xs.directory('/nowhere'), []);
});

t.test('a directory walk is one xenstore-ls for the whole subtree while the watch stream is live; reads below it need no command', async (t) => {
  const fake = new FakeDom0();
  fake.xs.set('/local/domain/0/backend/vbd/1/51712/state', '4');
  fake.xs.set('/local/domain/0/backend/vbd/1/51712/sectors', '131072');
  fake.xs.set('/local/domain/0/backend/vbd/1/51728/state', '2');
  const xs = new XlXenstore(new Dom0(fake, 'fake'));
  const unwatch = await xs.watch('/local/domain/0/backend', () => undefined);
  const n0 = fake.lines.length;
  t.same(await xs.directory('/local/domain/0/backend/vbd/1'), ['51712', '51728']);
  t.same(await xs.directory('/local/domain/0/backend/vbd/1/51712'), ['sectors', 'state']);
  t.equal(await xs.read('/local/domain/0/backend/vbd/1/51712/sectors'), '131072');
  t.equal(await xs.read('/local/domain/0/backend/vbd/1/51712/missing'), null);
  t.equal(fake.lines.length - n0, 1, 'one command');
  // the ring probe lists a guest's backends at every period: the listing stays answered locally
  for (let i = 0; i < 20; i++) await xs.directory('/local/domain/0/backend/vbd/1');
  t.equal(fake.lines.length - n0, 1, 'twenty more listings, no command');
  // the last watcher gone, nothing keeps the copy current: it is dropped
  await unwatch();
  const n1 = fake.lines.length;
  t.same(await xs.directory('/local/domain/0/backend/vbd/1'), ['51712', '51728']);
  t.equal(await xs.read('/local/domain/0/backend/vbd/1/51712/sectors'), '131072');
  t.equal(fake.lines.length - n1, 2, 'without a watch stream the listing and the read are commands');
  await xs.directory('/local/domain/0/backend/vbd/1');
  t.equal(fake.lines.length - n1, 3, 'and a listing is asked again each time');
});

t.test('a watch stream that ends from dom0 drops the mirror: a listing after it is asked of dom0', async (t) => {
  const fake = new FakeDom0();
  fake.xs.set('/local/domain/0/backend/vif/1/0/state', '4');
  const xs = new XlXenstore(new Dom0(fake, 'fake'));
  await xs.watch('/local/domain/0/backend', () => undefined);
  t.same(await xs.directory('/local/domain/0/backend/vif/1'), ['0']);
  fake.endWatchStreams();
  await new Promise((r) => setImmediate(r));
  // a change the ended stream cannot report
  fake.xs.set('/local/domain/0/backend/vif/1/1/state', '1');
  const n0 = fake.lines.length;
  t.same(await xs.directory('/local/domain/0/backend/vif/1'), ['0', '1'], 'not the stale copy');
  t.equal(fake.lines.length - n0, 1);
});

t.test('watch events carry the value read in dom0 and keep a fetched subtree current', async (t) => {
  const fake = new FakeDom0();
  fake.xs.set('/local/domain/1/device/vbd/51712/state', '1');
  const xs = new XlXenstore(new Dom0(fake, 'fake'));
  const seen: [string, string | null | undefined][] = [];
  await xs.watch('/local/domain/1/device', (p, v) => seen.push([p, v]));
  await xs.directory('/local/domain/1/device');
  fake.setKey('/local/domain/1/device/vbd/51712/state', '4');
  await xs.rm('/local/domain/1/device/vbd/51712');
  t.same(seen.slice(1), [['/local/domain/1/device/vbd/51712/state', '4'], ['/local/domain/1/device/vbd/51712', null]]);
  t.same(await xs.directory('/local/domain/1/device/vbd'), [], 'the removal reached the cached subtree');
});

t.test('stream lines and xenstore-ls escapes', async (t) => {
  t.same(parseWatchLine('V/a/b aGk='), { path: '/a/b', value: 'hi' });
  t.same(parseWatchLine('V/a/e '), { path: '/a/e', value: '' });
  t.same(parseWatchLine('N/a/b'), { path: '/a/b', value: null });
  t.equal(parseWatchLine('garbage'), undefined);
  t.same([...parseXenstoreLs('/a = "x "q" \\n\\t\\101"\n/b = ""\nnoise\n')], [['/a', 'x "q" \n\tA'], ['/b', '']]);
});

t.test('a directory that is not there is one command while the watch stream is live, and its creation is seen', async (t) => {
  const fake = new FakeDom0();
  const xs = new XlXenstore(new Dom0(fake, 'fake'));
  await xs.watch('/local/domain/0/backend', () => undefined);
  const n0 = fake.lines.length;
  t.same(await xs.directory('/local/domain/0/backend/qdisk/1'), []);
  t.same(await xs.directory('/local/domain/0/backend/qdisk/1'), []);
  t.equal(fake.lines.length - n0, 1, 'the second listing of the missing path is answered from the first');
  fake.setKey('/local/domain/0/backend/qdisk/1/51712/state', '1');
  t.same(await xs.directory('/local/domain/0/backend/qdisk/1'), ['51712'], 'a watch event under it fills it in');
  t.equal(fake.lines.length - n0, 1);
  // a failure that is not "no such path" (xenstored unreachable) is not kept as an empty directory
  let asked = 0;
  const unreachable = { ...new FakeDom0(), exec: async () => (asked++, { code: 1, stdout: '', stderr: 'xenstore-ls: xs_open: Connection refused\n' }) } as unknown as FakeDom0;
  const xs2 = new XlXenstore(new Dom0(unreachable, 'fake'));
  await xs2.directory('/local/domain/0/backend/vbd/1');
  await xs2.directory('/local/domain/0/backend/vbd/1');
  t.equal(asked, 2, 'asked again');
});

t.test('two listings of one directory asked at once are one command', async (t) => {
  const fake = new FakeDom0();
  fake.xs.set('/local/domain/0/backend/vif/1/0/state', '4');
  const xs = new XlXenstore(new Dom0(fake, 'fake'));
  const n0 = fake.lines.length;
  const [a, b] = await Promise.all([xs.directory('/local/domain/0/backend/vif/1'), xs.directory('/local/domain/0/backend/vif/1')]);
  t.same(a, ['0']);
  t.same(b, ['0']);
  t.equal(fake.lines.length - n0, 1);
});

t.test('values the dom0 reader read late in one batch reach the trace with one batch mark and their order', async (t) => {
  const fake = new FakeDom0();
  const BE = '/local/domain/0/backend/vbd/1/51712/state';
  const FE = '/local/domain/1/device/vbd/51712/state';
  fake.xs.set(BE, '4');
  fake.xs.set(FE, '4');
  const trace = new TraceWriter();
  const probe = new XenstoreProbe(new XlXenstore(new Dom0(fake, 'fake')), trace, 'i');
  await probe.attach({ name: 'g', domid: 1, handle: '1' }, '/local/domain/1');
  fake.setKeysReadLate([[BE, '5'], [FE, '5'], [FE, '6'], [BE, '6']]);
  fake.setKey(FE, '1');
  fake.setKeysReadLate([[BE, '2'], [FE, '3']]);
  await probe.detach();
  const changes = trace.events.filter((e): e is XenstoreEvent => e.ev === 'xs' && !e.snapshot && (e.path === FE || e.path === BE)).map((e) => [e.path === FE ? 'fe' : 'be', e.value, e.batch] as const);
  const [a, b, c, d, e] = changes;
  t.match([a, b], [['fe', '6', { first: 2, last: 3 }], ['be', '6', { first: 1, last: 4 }]], 'the first batch, in the order of each path\'s last write, with its writes\' places');
  t.equal(a![2]!.id, b![2]!.id, 'one id for the batch');
  t.same(c, ['fe', '1', undefined], 'a change read at once: no batch');
  t.match([d, e], [['be', '2', { first: 1, last: 1 }], ['fe', '3', { first: 2, last: 2 }]]);
  t.ok(d![2]!.id === e![2]!.id && d![2]!.id !== a![2]!.id, 'the next batch: an id of its own');
});

t.test('a watch below a removed node fires with its own path, as xenstored fires the watches below a removed node', async (t) => {
  const fake = new FakeDom0();
  fake.xs.set('/local/domain/0/backend/vbd/1/51712/state', '4');
  const xs = new XlXenstore(new Dom0(fake, 'fake'));
  const seen: [string, string | null | undefined][] = [];
  await xs.watch('/local/domain/0/backend/vbd/1/51712/state', (p, v) => seen.push([p, v]));
  const other: string[] = [];
  await xs.watch('/local/domain/0/backend/vif', (p) => other.push(p));
  await xs.rm('/local/domain/0/backend/vbd/1');
  t.same(seen.slice(1), [['/local/domain/0/backend/vbd/1/51712/state', null]], 'the state watch hears its node is gone');
  t.same(other, ['/local/domain/0/backend/vif'], 'a watch elsewhere hears nothing');
});

t.test('a watch stream that ended is not waited on again: the next watch starts a new one and hears changes', async (t) => {
  const fake = new FakeDom0();
  const xs = new XlXenstore(new Dom0(fake, 'fake'));
  await xs.watch('/local/domain/1', () => undefined);
  fake.endWatchStreams();
  await new Promise((r) => setImmediate(r));
  const seen: string[] = [];
  await xs.watch('/local/domain/1/device', (p) => seen.push(p));
  t.equal(fake.lines.filter((l) => l.includes('xenstore-watch')).length, 2, 'a second stream');
  fake.setKey('/local/domain/1/device/vif/0/state', '4');
  t.same(seen, ['/local/domain/1/device', '/local/domain/1/device/vif/0/state']);
});
