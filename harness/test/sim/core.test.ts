// Scheduler, PRNG, event channels, memory and grant tables.
import t from 'tap';
import { Rng } from '../../src/sim/random';
import { Scheduler } from '../../src/sim/scheduler';
import { EventChannels } from '../../src/sim/evtchn';
import { GuestMemory } from '../../src/sim/memory';
import { GrantOps, GrantTable } from '../../src/sim/grants';
import { GTF_reading, GTF_writing } from '../../src/abi/grant-table';

t.test('PRNG is seeded and reproducible', async (t) => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const sa = Array.from({ length: 8 }, () => a.u32());
  t.same(sa, Array.from({ length: 8 }, () => b.u32()));
  t.not(sa.join(), Array.from({ length: 8 }, () => c.u32()).join());
  const r = new Rng(1);
  for (let i = 0; i < 1000; i++) {
    const x = r.int(3, 5);
    if (x < 3 || x > 5) t.fail(`out of range ${x}`);
  }
});

async function order(seed: number): Promise<string> {
  const s = new Scheduler(seed);
  const log: string[] = [];
  for (const name of ['a', 'b', 'c', 'd', 'e']) s.after(10, () => log.push(name));
  s.after(5, () => log.push('early'));
  await s.sleep(20);
  log.push(`now=${s.now()}`);
  return log.join(',');
}

t.test('virtual time: earliest first, ties by the seed, no real waiting', async (t) => {
  const o1 = await order(7);
  t.equal(o1, await order(7), 'same seed, same interleaving');
  t.match(o1, /^early,.*,now=20$/);
  const seen = new Set<string>();
  for (let s = 0; s < 10; s++) seen.add(await order(s));
  t.ok(seen.size > 1, 'different seeds pick different interleavings');
  const s = new Scheduler(1);
  const t0 = process.hrtime.bigint();
  await s.sleep(60_000);
  t.equal(s.now(), 60_000);
  t.ok(process.hrtime.bigint() - t0 < 1_000_000_000n, 'a minute of virtual time takes no real minute');
  const timer = s.after(5, () => t.fail('cancelled timer ran'));
  timer.cancel();
  await s.sleep(1);
});

t.test('event channels: bind, notify, mask, unmask, close', async (t) => {
  const s = new Scheduler(1);
  const ev = new EventChannels(s);
  ev.addDomain(0);
  ev.addDomain(5);
  const fport = ev.allocUnbound(5, 0);
  t.throws(() => ev.bindInterdomain(3, 5, fport), /not unbound/);
  const bport = ev.bindInterdomain(0, 5, fport);
  t.same(ev.peer(0, bport), { dom: 5, port: fport });
  let hits = 0;
  ev.bind(5, fport, () => hits++);
  ev.notify(0, bport);
  ev.notify(0, bport); // coalesced
  await s.sleep(1);
  t.equal(hits, 1);
  ev.mask(5, fport);
  ev.notify(0, bport);
  await s.sleep(1);
  t.equal(hits, 1, 'masked: no upcall');
  t.ok(ev.isPending(5, fport));
  ev.unmask(5, fport);
  await s.sleep(1);
  t.equal(hits, 2, 'unmask delivers the pending event');
  ev.close(0, bport);
  t.equal(ev.peer(5, fport), undefined, 'peer back to unbound');
  t.throws(() => ev.notify(0, 99));
});

t.test('grant table: one frame at first, grown a frame at a time up to its most; a ref beyond the frames it has is GNTST_bad_gntref', async (t) => {
  const table = new GrantTable(5, 2);
  t.equal(table.size, 512, 'one frame of 512 v1 entries');
  t.throws(() => table.entry(600), { code: 'GNTST_bad_gntref' }, 'a ref of a frame not there yet');
  const refs: number[] = [];
  for (let i = 8; i < 512; i++) refs.push(table.grantAccess(0, 100 + i, false));
  t.equal(table.size, 512, 'the first frame holds refs 8-511');
  const ref = table.grantAccess(0, 4242, true);
  t.equal(ref, 512);
  t.equal(table.size, 1024, 'grown by one frame');
  t.same(table.entry(8), { flags: 1, domid: 0, frame: 108 }, 'the entries of the first frame kept');
  t.equal(table.entry(512).frame, 4242);
  for (let i = 513; i < 1024; i++) table.grantAccess(0, 1, false);
  t.throws(() => table.grantAccess(0, 1, false), { code: 'ENOSPC' }, 'full at its most frames');
  t.ok(table.endAccess(refs[0]!));
  t.equal(table.grantAccess(0, 7, false), refs[0], 'a ref given back is reused');
});

t.test('grant table v1: map, read-only, domid, in-use bits, revoke while mapped, copy', async (t) => {
  const mem = new Map<number, { grants: GrantTable; memory: GuestMemory }>();
  for (const d of [0, 7]) mem.set(d, { grants: new GrantTable(d, 1), memory: new GuestMemory(d) });
  const ops = new GrantOps((d) => mem.get(d));
  const g = mem.get(7)!;
  const { gfn, buf } = g.memory.alloc(2);
  buf.write('hello', 0);
  const ro = g.grants.grantAccess(0, gfn, true, 'vbd/1');
  const rw = g.grants.grantAccess(0, gfn + 1, false, 'vbd/1');
  t.equal(g.grants.mem.readUInt16LE(ro * 8), 5, 'permit_access|readonly in the real entry');
  t.throws(() => ops.map(0, 7, ro, false), /read-only/);
  t.throws(() => ops.map(3, 7, ro, true), /granted to d0/);
  const m = ops.map(0, 7, ro, true);
  t.equal(m.page.toString('utf8', 0, 5), 'hello', 'mapping is the same memory');
  t.ok(g.grants.mem.readUInt16LE(ro * 8) & GTF_reading);
  t.notOk(g.grants.endAccess(ro), 'cannot end a mapped grant');
  ops.unmap(m.handle);
  t.notOk(g.grants.mem.readUInt16LE(ro * 8) & (GTF_reading | GTF_writing));
  t.ok(g.grants.endAccess(ro));
  const ring = ops.mapRing(0, 7, [rw]);
  t.equal(ring.mem.length, 4096);
  g.grants.forceEnd(rw);
  t.same(ops.audit(7, 'vbd/1'), { active: [], mapped: [rw], revokedWhileMapped: [rw] });
  const out = Buffer.alloc(5);
  const c = g.grants.grantAccess(0, gfn, true);
  ops.copyFrom(0, 7, c, 0, out, 0, 5);
  t.equal(out.toString(), 'hello');
  t.throws(() => ops.copyTo(0, 7, c, 0, out, 0, 5), /read-only/);
  t.throws(() => ops.copyFrom(0, 7, c, 4000, out, 0, 200), /crosses/);
  t.same(ops.audit(7).active, [c]);
  t.throws(() => g.memory.contiguous([gfn + 1, gfn]), /contiguous/);
});
