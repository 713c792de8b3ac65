import t from 'tap';
import { Dom0 } from '../../../src/hosts/xl/dom0';
import { parseBatchRead, XlXenstore } from '../../../src/hosts/xl/xenstore';
import { FakeDom0 } from './fake-dom0';

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
