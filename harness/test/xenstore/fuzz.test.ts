import t from 'tap';
import { runFuzz } from '../../src/xenstore/fuzz';
import { mulberry32 } from '../../src/model/mulberry32';

t.test('10,000 random and mutated packets: no crash, no hang, valid replies', async (t) => {
  const r = await runFuzz({ seed: 20261124, count: 10_000 });
  t.same(r.violations, []);
  t.equal(r.packets, 10_000);
  t.ok(r.replies > 9_000, `${r.replies} replies`);
  t.ok(r.events > 0, 'watch events were exercised');
  t.ok(r.canaryChecks >= 5, 'the canary connection was checked along the way');
});

t.test('the same seed gives the same run', async (t) => {
  const a = await runFuzz({ seed: 7, count: 1500 });
  const b = await runFuzz({ seed: 7, count: 1500 });
  t.same(a, b);
  t.not(mulberry32(1)(), mulberry32(2)());
});

t.test('the checks catch a corrupted reply, a lost reply and an unknown errno name', async (t) => {
  let n = 0;
  const corrupt = await runFuzz({
    seed: 3,
    count: 600,
    tamper: (b) => {
      if (++n === 40 && b.length >= 16) {
        const c = Buffer.from(b);
        c.writeUInt32LE(99, 0); // a reply type that answers nothing
        return c;
      }
      return b;
    },
  });
  t.ok(corrupt.violations.length > 0, 'corrupted reply type reported');
  let m = 0;
  const lost = await runFuzz({ seed: 3, count: 600, tamper: (b) => (++m === 40 ? Buffer.alloc(0) : b) });
  t.match(lost.violations.join('\n'), /unanswered|expected/, 'a lost reply is reported');
  const errno = await runFuzz({
    seed: 3,
    count: 600,
    tamper: (b) => {
      const c = Buffer.from(b);
      for (let off = 0; off + 16 <= c.length; off += 16 + c.readUInt32LE(off + 12)) {
        if (c.readUInt32LE(off) === 16) c[off + 16] = 0x58; // ENOENT -> XNOENT
      }
      return c;
    },
  });
  t.match(errno.violations.join('\n'), /bad error payload/, 'an unknown errno name is reported');
});
