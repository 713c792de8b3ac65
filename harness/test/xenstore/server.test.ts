import t from 'tap';
import { XsType } from '../../src/xenstore/codec';
import { XenstoreServer } from '../../src/xenstore/server';
import { XenstoreClient, XenstoreError } from '../../src/xenstore/client';
import { rawInProcess, show } from './wire';

const T = XsType;

t.test('payload conventions of the real daemon', async (t) => {
  const s = new XenstoreServer();
  const c = rawInProcess(s, 0);
  t.equal(show(await c.req(T.WRITE, '/a/b\0hello')), 'OK\\0', 'OK replies carry a NUL');
  const r = await c.req(T.READ, '/a/b\0');
  t.equal(r.type, T.READ);
  t.equal(show(r), 'hello', 'READ has no NUL');
  t.equal(show(await c.req(T.DIRECTORY, '/a\0')), 'b\\0', 'every child name NUL-terminated');
  t.equal(show(await c.req(T.DIRECTORY, '/a/b\0')), '', 'empty directory, empty payload');
  t.equal(show(await c.req(T.GET_PERMS, '/a\0')), 'n0\\0');
  const e = await c.req(T.READ, '/nope\0');
  t.equal(e.type, T.ERROR);
  t.equal(show(e), 'ENOENT\\0');
  t.equal(e.reqId, 105, 'req_id echoed');
  for (const bad of ['/a/\0', '//a\0', '/a b\0', 'a\0b\0', '/a.b\0', '']) {
    t.equal(show(await c.req(T.READ, bad)), 'EINVAL\\0', `invalid ${JSON.stringify(bad)}`);
  }
  t.equal(show(await c.req(T.READ, '/' + 'x'.repeat(2048) + '\0')), 'EINVAL\\0', 'path too long');
  t.equal(show(await c.req(T.WRITE, '/a/c')), 'EINVAL\\0', 'WRITE without a NUL');
  t.equal(show(await c.req(T.GET_DOMAIN_PATH, '7\0')), '/local/domain/7\\0');
  t.equal(show(await c.req(T.RM, '/a/nope\0')), 'OK\\0', 'rm of a missing child of an existing node');
  t.equal(show(await c.req(T.RM, '/x/nope\0')), 'ENOENT\\0');
  t.equal(show(await c.req(T.RM, '/\0')), 'EINVAL\\0');
  t.equal(show(await c.req(99, '')), 'ENOSYS\\0', 'unknown type');
  t.equal(show(await c.req(T.WATCH_EVENT, '')), 'ENOSYS\\0');
  t.equal(show(await c.req(T.READ, '/a/b\0', 42)), 'ENOENT\\0', 'unknown transaction');
  t.equal(show(await c.req(T.MKDIR, '/m/n\0')), 'OK\\0');
  t.equal(show(await c.req(T.DIRECTORY, '/\0')), 'tool\\0a\\0m\\0', 'creation order');
  t.equal(show(await c.req(T.IS_DOMAIN_INTRODUCED, '3\0')), 'F\\0');
  t.equal(show(await c.req(T.CONTROL, 'nonsense\0')), 'EINVAL\\0');
  t.match(show(await c.req(T.CONTROL, 'quota\0')), /^Quota settings:/);
});

t.test('relative paths resolve under the domain home', async (t) => {
  const s = new XenstoreServer();
  const dom0 = rawInProcess(s, 0);
  await dom0.req(T.MKDIR, '/local/domain/5\0');
  await dom0.req(T.SET_PERMS, '/local/domain/5\0n5\0');
  const g = rawInProcess(s, 5);
  t.equal(show(await g.req(T.WRITE, 'data/x\0v')), 'OK\\0');
  t.equal(show(await dom0.req(T.READ, '/local/domain/5/data/x\0')), 'v');
  t.equal(show(await dom0.req(T.GET_PERMS, '/local/domain/5/data/x\0')), 'n5\\0', 'an unprivileged creator owns what it creates');
  t.equal(show(await g.req(T.READ, '/local/domain/0\0')), 'EACCES\\0');
  t.equal(show(await g.req(T.READ, '/local/domain/9/x\0')), 'EACCES\\0', 'missing node under an unreadable parent is EACCES, not ENOENT');
  t.equal(show(await g.req(T.READ, 'nothere\0')), 'ENOENT\\0');
  t.equal(show(await g.req(T.WRITE, '/tool/x\0v')), 'EACCES\\0');
  t.equal(show(await g.req(T.SET_PERMS, 'data/x\0n0\0')), 'EINVAL\\0', 'a guest cannot give a node away (EPERM -> EINVAL)');
  t.equal(show(await g.req(T.SET_PERMS, 'data/x\0n5\0r0\0')), 'OK\\0');
  t.equal(show(await g.req(T.INTRODUCE, '6\0' + '0\0' + '1\0')), 'EACCES\\0', 'privileged operation');
  t.equal(show(await dom0.req(T.SET_PERMS, '/local/domain/5/data\0n5\0r7\0')), 'OK\\0');
  const other = rawInProcess(s, 7);
  t.equal(show(await other.req(T.DIRECTORY, '/local/domain/5/data\0')), 'x\\0', 'an ACL entry grants read');
  t.equal(show(await other.req(T.WRITE, '/local/domain/5/data/y\0v')), 'EACCES\\0', 'but not write');
});

t.test('transactions: isolation, EAGAIN on conflict, abort', async (t) => {
  const s = new XenstoreServer();
  const c = rawInProcess(s, 0);
  await c.req(T.WRITE, '/t/a\0a');
  const start = await c.req(T.TRANSACTION_START, '\0');
  t.equal(show(start), '1\\0', 'id as decimal text and NUL');
  const tx = 1;
  t.equal(show(await c.req(T.READ, '/t/a\0', tx)), 'a');
  await c.req(T.WRITE, '/t/a\0b');
  t.equal(show(await c.req(T.READ, '/t/a\0', tx)), 'a', 'a change outside is invisible inside');
  await c.req(T.WRITE, '/t/a\0c', tx);
  t.equal(show(await c.req(T.READ, '/t/a\0', tx)), 'c');
  t.equal(show(await c.req(T.READ, '/t/a\0')), 'b', 'a change inside is invisible outside');
  t.equal(show(await c.req(T.TRANSACTION_END, 'T\0', tx)), 'EAGAIN\\0');
  t.equal(show(await c.req(T.READ, '/t/a\0')), 'b');
  t.equal(show(await c.req(T.TRANSACTION_END, 'T\0', tx)), 'ENOENT\\0', 'the transaction is gone after EAGAIN');

  await c.req(T.TRANSACTION_START, '\0');
  await c.req(T.WRITE, '/t/new/deep\0x', 2);
  await c.req(T.RM, '/t/a\0', 2);
  t.equal(show(await c.req(T.DIRECTORY, '/t\0', 2)), 'new\\0');
  t.equal(show(await c.req(T.DIRECTORY, '/t\0')), 'a\\0');
  t.equal(show(await c.req(T.TRANSACTION_END, 'T\0', 2)), 'OK\\0');
  t.equal(show(await c.req(T.DIRECTORY, '/t\0')), 'new\\0');
  t.equal(show(await c.req(T.READ, '/t/new/deep\0')), 'x');

  await c.req(T.TRANSACTION_START, '\0');
  await c.req(T.WRITE, '/t/gone\0x', 3);
  t.equal(show(await c.req(T.TRANSACTION_START, '\0', 3)), 'EBUSY\\0', 'no nesting');
  t.equal(show(await c.req(T.TRANSACTION_END, 'X\0', 3)), 'EINVAL\\0');
  t.equal(show(await c.req(T.TRANSACTION_END, 'F\0', 3)), 'OK\\0');
  t.equal(show(await c.req(T.READ, '/t/gone\0')), 'ENOENT\\0', 'abort discards');
});

t.test('watches: initial event, recursion, relative paths, EEXIST, ENOENT, specials', async (t) => {
  const s = new XenstoreServer();
  const c = rawInProcess(s, 0);
  t.equal(show(await c.req(T.WATCH, '/w\0tok\0')), 'OK\\0');
  await c.settle();
  t.same(c.events.map(show), ['/w\\0tok\\0'], 'fires once at registration');
  t.equal(show(await c.req(T.WATCH, '/w\0tok\0')), 'EEXIST\\0');
  await c.req(T.WRITE, '/w/x/y\0v');
  await c.req(T.WRITE, '/other\0v');
  await c.settle();
  t.same(c.events.map(show).slice(1), ['/w/x/y\\0tok\\0'], 'a write below fires with the changed path');
  t.equal(show(await c.req(T.UNWATCH, '/w\0nottok\0')), 'ENOENT\\0');
  t.equal(show(await c.req(T.UNWATCH, '/w\0tok\0')), 'OK\\0');
  c.events.length = 0;
  t.equal(show(await c.req(T.WATCH, 'rel\0r\0')), 'OK\\0');
  await c.req(T.WRITE, '/local/domain/0/rel/k\0v');
  await c.settle();
  t.same(c.events.map(show), ['rel\\0r\\0', 'rel/k\\0r\\0'], 'relative watches get relative paths');
  c.events.length = 0;
  await c.req(T.WATCH, '@introduceDomain\0i\0');
  await c.req(T.WATCH, '@releaseDomain\0r\0');
  s.introduceDomain(4);
  s.releaseDomain(4);
  await c.settle();
  t.same(c.events.map(show), ['@introduceDomain\\0i\\0', '@releaseDomain\\0r\\0', '@introduceDomain\\0i\\0', '@releaseDomain\\0r\\0']);
  c.events.length = 0;
  await c.req(T.WRITE, '/w/a/b\0v');
  await c.req(T.WATCH, '/w/a/b\0exact\0');
  await c.req(T.WATCH, '/w\0top\0');
  await c.settle();
  c.events.length = 0;
  await c.req(T.RM, '/w/a\0');
  await c.settle();
  t.same(c.events.map(show), ['/w/a/b\\0exact\\0', '/w/a\\0top\\0'], 'rm fires children exactly, the top as a change');
});

t.test('guests only see events for nodes they may read; specials need permission', async (t) => {
  const s = new XenstoreServer();
  const dom0 = rawInProcess(s, 0);
  const g = rawInProcess(s, 3);
  await g.req(T.WATCH, '/\0all\0');
  await g.req(T.WATCH, '@releaseDomain\0r\0');
  await g.settle();
  g.events.length = 0;
  await dom0.req(T.WRITE, '/secret\0x');
  s.releaseDomain(9);
  await dom0.req(T.MKDIR, '/local/domain/3\0');
  await dom0.req(T.SET_PERMS, '/local/domain/3\0n3\0');
  await dom0.req(T.WRITE, '/local/domain/3/k\0v');
  await g.settle();
  t.same(g.events.map(show), ['/local/domain/3\\0all\\0', '/local/domain/3/k\\0all\\0']);
});

t.test('quotas answer with the daemon errors', async (t) => {
  const s = new XenstoreServer({ quota: { nodes: 5, watches: 2, transactions: 1, nodeSize: 100, permissions: 2 } });
  const dom0 = rawInProcess(s, 0);
  await dom0.req(T.MKDIR, '/local/domain/2\0');
  await dom0.req(T.SET_PERMS, '/local/domain/2\0n2\0');
  const g = rawInProcess(s, 2);
  // The home itself is the domain's (SET_PERMS n2), so four more fill a quota of five.
  for (let i = 0; i < 4; i++) t.equal(show(await g.req(T.WRITE, `n${i}\0v`)), 'OK\\0');
  t.equal(show(await g.req(T.WRITE, 'n4\0v')), 'ENOSPC\\0', 'node quota');
  t.equal(show(await g.req(T.WRITE, 'n0\0' + 'x'.repeat(100))), 'ENOSPC\\0', 'node size quota');
  t.equal(show(await g.req(T.SET_PERMS, 'n0\0n2\0r1\0r3\0')), 'ENOSPC\\0', 'permissions quota');
  for (let i = 0; i < 3; i++) t.equal(show(await g.req(T.WATCH, `w${i}\0t\0`)), 'OK\\0');
  t.equal(show(await g.req(T.WATCH, 'w9\0t\0')), 'E2BIG\\0', 'watch quota (the daemon allows one over)');
  t.equal(show(await g.req(T.TRANSACTION_START, '\0')), '1\\0');
  t.equal(show(await g.req(T.TRANSACTION_START, '\0')), '2\\0');
  t.equal(show(await g.req(T.TRANSACTION_START, '\0')), 'ENOSPC\\0', 'transaction quota');
  t.equal(show(await dom0.req(T.WRITE, '/big\0' + 'x'.repeat(3000))), 'OK\\0', 'dom0 is not limited');
});

t.test('hooks: forced EAGAIN, dropped and held watch events', async (t) => {
  let force = 2;
  const held: [number, string, string][] = [];
  const s = new XenstoreServer({
    hooks: {
      beforeCommit: () => (force-- > 0 ? 'eagain' : 'ok'),
      onWatchEvent: (domid, path, token) => (token === 'drop' ? 'drop' : token === 'hold' ? (held.push([domid, path, token]), 'hold') : 'deliver'),
    },
  });
  const c = XenstoreClient.inProcess(s, 0);
  let runs = 0;
  await c.transaction(async (tx) => {
    runs++;
    await tx.write('/h', String(runs));
  });
  t.equal(runs, 3, 'the client retried the whole function');
  t.equal(await c.read('/h'), '3');
  force = 100;
  await t.rejects(c.transaction(async (tx) => tx.write('/h', 'x'), { maxRetries: 2 }), { code: 'XS_EAGAIN', errno: 'EAGAIN' });
  const seen: string[] = [];
  await c.watchToken('/d', 'drop', (p) => seen.push('drop:' + p));
  await c.watchToken('/d', 'hold', (p) => seen.push('hold:' + p));
  await c.watchToken('/d', 'pass', (p) => seen.push('pass:' + p));
  await c.write('/d/x', '1');
  await new Promise((r) => setImmediate(r));
  t.same(seen, ['pass:/d', 'pass:/d/x']);
  t.same(held.map((h) => h[1]), ['/d', '/d/x']);
  const conn = s.connections()[0];
  conn.deliverWatchEvent(held[1][1], held[1][2]);
  await new Promise((r) => setImmediate(r));
  t.same(seen, ['pass:/d', 'pass:/d/x', 'hold:/d/x'], 'a held event arrives when released');
  await c.close();
});

t.test('client surfaces daemon errors as WinpvError XS_<ERRNO>', async (t) => {
  const s = new XenstoreServer();
  const c = XenstoreClient.inProcess(s, 0);
  t.equal(await c.read('/missing'), null);
  t.equal(await c.exists('/tool'), true);
  t.equal(await c.exists('/missing'), false);
  const e = await c.directory('/missing').catch((x) => x);
  t.ok(e instanceof XenstoreError);
  t.equal(e.kind, 'host');
  t.equal(e.code, 'XS_ENOENT');
  t.equal(e.errno, 'ENOENT');
  t.equal(await c.getDomainPath(3), '/local/domain/3');
  await c.setPerms('/tool', ['n0', 'r3']);
  t.same(await c.getPerms('/tool'), ['n0', 'r3']);
  const changes: string[] = [];
  const stop = await c.watch('/v', (p) => changes.push(p));
  await c.write('/v/1', 'a');
  await stop();
  await c.write('/v/2', 'a');
  await new Promise((r) => setImmediate(r));
  t.same(changes, ['/v', '/v/1']);
  await c.close();
  await t.rejects(c.read('/tool'), { code: 'XS_DISCONNECTED' });
});

t.test('an oversized packet drops only that connection', async (t) => {
  const s = new XenstoreServer();
  const bad = rawInProcess(s, 0);
  const good = rawInProcess(s, 0);
  await bad.req(T.WATCH, '/x\0t\0');
  const hdr = Buffer.alloc(16);
  hdr.writeUInt32LE(T.WRITE, 0);
  hdr.writeUInt32LE(4097, 12);
  bad.sendRaw(hdr);
  t.ok(bad.closed(), 'dropped without a reply');
  t.equal(s.connections().length, 1);
  t.equal(show(await good.req(T.WRITE, '/x/y\0v')), 'OK\\0', 'the other connection still works');
});

t.test('DIRECTORY of a huge node is E2BIG; DIRECTORY_PART pages through it', async (t) => {
  const s = new XenstoreServer();
  const c = rawInProcess(s, 0);
  const names: string[] = [];
  for (let i = 0; i < 600; i++) {
    names.push(`child-number-${i}`);
    await c.req(T.WRITE, `/big/child-number-${i}\0`);
  }
  t.equal(show(await c.req(T.DIRECTORY, '/big\0')), 'E2BIG\\0');
  const got: string[] = [];
  let off = 0;
  for (;;) {
    const r = await c.req(T.DIRECTORY_PART, `/big\0${off}\0`);
    t.equal(r.type, T.DIRECTORY_PART);
    t.ok(r.payload.length <= 4096);
    const parts = r.payload.toString('latin1').split('\0');
    parts.shift(); // generation
    const done = r.payload[r.payload.length - 1] === 0 && r.payload[r.payload.length - 2] === 0;
    const chunk = parts.filter((p) => p !== '');
    got.push(...chunk);
    off += chunk.reduce((n, p) => n + p.length + 1, 0);
    if (done) break;
  }
  t.same(got, names);
});
