import t from 'tap';
import { XenstoreMirror } from '../../src/hosts/xs-mirror';

t.test('the mirror answers from a loaded subtree and follows watch events', async (t) => {
  const x = new XenstoreMirror();
  t.equal(x.covering('/local/domain/3/device'), undefined);
  x.beginLoad('/local/domain/3');
  // events that happen while the listing is on its way: newer than the listing, replayed over it
  x.apply('/local/domain/3/device/vbd/768/state', '4');
  x.apply('/local/domain/3/gone', null);
  x.finishLoad('/local/domain/3', new Map([
    ['/local/domain/3', ''],
    ['/local/domain/3/device', ''],
    ['/local/domain/3/device/vbd', ''],
    ['/local/domain/3/device/vbd/768', ''],
    ['/local/domain/3/device/vbd/768/state', '1'],
    ['/local/domain/3/gone', 'x'],
  ]));
  t.equal(x.covering('/local/domain/3/device/vbd'), '/local/domain/3');
  t.equal(x.read('/local/domain/3/device/vbd/768/state'), '4', 'the later event wins over the older listing');
  t.equal(x.read('/local/domain/3/gone'), null);
  x.apply('/local/domain/3/device/vif/0/state', '1');
  t.same(x.list('/local/domain/3/device')?.sort(), ['vbd', 'vif'], 'a new subtree appears with its parents');
  x.apply('/local/domain/3/device/vbd', null);
  t.same(x.list('/local/domain/3/device'), ['vif'], 'removing a node removes its subtree');
  t.equal(x.list('/local/domain/3/nothing'), undefined);
  x.apply('/local/domain/9/elsewhere', '1');
  t.equal(x.read('/local/domain/9/elsewhere'), null, 'events outside mirrored subtrees are not kept');
});

t.test("a loaded root is there though xenstore-ls does not print it; a missing root is not", async (t) => {
  const x = new XenstoreMirror();
  x.beginLoad('/local/domain/0/backend/vif/3');
  // what `xenstore-ls -f /local/domain/0/backend/vif/3` prints: the nodes below the root only
  x.finishLoad('/local/domain/0/backend/vif/3', new Map([
    ['/local/domain/0/backend/vif/3/0', ''],
    ['/local/domain/0/backend/vif/3/0/state', '4'],
  ]));
  t.same(x.list('/local/domain/0/backend/vif/3'), ['0'], 'the root lists its children');
  t.notOk(x.answers('/local/domain/0/backend/vif/3'), "the root's own value was not printed: not the mirror's to answer");
  t.ok(x.answers('/local/domain/0/backend/vif/3/0/state'));
  x.beginLoad('/local/domain/0/backend/vif/4');
  x.finishLoad('/local/domain/0/backend/vif/4', new Map(), false);
  t.equal(x.list('/local/domain/0/backend/vif/4'), undefined, 'a root that is not there has no children');
  x.beginLoad('/local/domain/0/backend/qdisk/3');
  x.finishLoad('/local/domain/0/backend/qdisk/3', new Map(), true);
  t.same(x.list('/local/domain/0/backend/qdisk/3'), [], 'an empty directory that is there');
});

t.test('the root covering a path, among many mirrored roots', async (t) => {
  const x = new XenstoreMirror();
  for (let d = 1; d <= 2000; d++) for (const kind of ['vbd', 'vbd3', 'qdisk', 'vif']) {
    const root = `/local/domain/0/backend/${kind}/${d}`;
    x.beginLoad(root);
    x.finishLoad(root, new Map(), kind === 'vif');
  }
  t.equal(x.covering('/local/domain/0/backend/vif/1234/0/state'), '/local/domain/0/backend/vif/1234');
  t.equal(x.covering('/local/domain/0/backend/vif/1234'), '/local/domain/0/backend/vif/1234', 'a root covers itself');
  t.notOk(x.answers('/local/domain/0/backend/vif/1234'), 'but its own value is not the mirror\'s to answer');
  t.equal(x.covering('/local/domain/0/backend/vif/12345/0'), undefined, 'a longer name is not below a root');
  t.equal(x.covering('/local/domain/0/backend'), undefined);
  x.beginLoad('/local/domain/0');
  x.finishLoad('/local/domain/0', new Map());
  t.equal(x.covering('/local/domain/0/backend/vif/7/0'), '/local/domain/0', 'the outermost root');
  const all = new XenstoreMirror();
  all.beginLoad('/');
  all.finishLoad('/', new Map([['/a', '1']]));
  t.equal(all.covering('/a'), '/');
  t.ok(all.answers('/a'));
  t.notOk(all.answers('/'));
});
