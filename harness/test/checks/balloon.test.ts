// The balloon check on hand-made traces: a target reached and held passes; one never reached, reached
// late, or left while it held (the balloon deflating under I/O) fails with the cause; a guest whose
// target is its static maximum is not judged.
import t from 'tap';
import { balloon } from '../../src/checks/balloon';
import { buildView } from '../../src/checks/view';
import type { TraceEvent } from '../../src/model/trace';

const G = 4 * 1024 * 1024;
let seq = 0;
const ev = (t: number, e: Record<string, unknown>) => ({ seq: seq++, t, inst: 'i', ...e }) as unknown as TraceEvent;
const mem = (t: number, actualKiB: number, targetKiB = G / 2) => ev(t, { ev: 'memory', guest: 'win', domid: 1, targetKiB, staticMaxKiB: G, actualKiB });
const bound = (t: number) => ev(t, { ev: 'drivers', guest: 'win', bound: [{ driver: 'xenbus', version: '9.1.0', hardwareId: 'x', service: 'xenbus' }], unbound: [], unplugged: { disks: true, nics: true } });
const end = (t: number) => ev(t, { ev: 'scenario.end', status: 'done' });
const judge = (events: TraceEvent[], params: Record<string, string> = {}) => balloon(buildView('i', events), params);

t.test('reached within the limit and held: pass', async (t) => {
  const r = judge([mem(0, G), bound(10), mem(500, G * 0.75), mem(1000, G / 2), mem(5000, G / 2), end(8000)]);
  t.equal(r.verdict, 'pass', r.message);
});

t.test('reached before xenbus was reported bound (during the install reboot): pass', async (t) => {
  const r = judge([mem(0, G), mem(2, G / 2), bound(10), end(8000)]);
  t.equal(r.verdict, 'pass', r.message);
});

t.test('never reached: fail, naming what the guest holds', async (t) => {
  const r = judge([mem(0, G), bound(10), end(70_000)]);
  t.equal(r.verdict, 'fail');
  t.match(r.message, /win: never reached its memory target before the scenario ended: holds 4194304 KiB, target 2097152 KiB/);
});

t.test('reached after the limit: fail', async (t) => {
  const r = judge([mem(0, G), bound(10), mem(70_000, G / 2), end(80_000)], { limitMs: '60000' });
  t.equal(r.verdict, 'fail');
  t.match(r.message, /reached its memory target 2097152 KiB only after 69990 ms, limit 60000 ms/);
});

t.test('left the target while it held (the balloon deflated under I/O): fail', async (t) => {
  const r = judge([mem(0, G), bound(10), mem(1000, G / 2), mem(3000, 2516582), end(8000)]);
  t.equal(r.verdict, 'fail');
  t.match(r.message, /win: left its memory target while it held: holds 2516582 KiB, target 2097152 KiB \(the balloon deflated\)/);
});

t.test('a new target restarts the clock; the old one left unreached before the limit is not judged', async (t) => {
  const r = judge([mem(0, G), bound(10), mem(1000, G * 0.75), mem(2000, G * 0.75, G * 0.75), end(8000)]);
  t.equal(r.verdict, 'pass', r.message);
});

t.test('no target below the static maximum: skipped', async (t) => {
  const r = judge([mem(0, G, G), bound(10), end(100)]);
  t.equal(r.verdict, 'skip');
});

// fromStart (a Linux guest's balloon, in its kernel: no drivers event ever comes)
const started = (t: number) => ev(t, { ev: 'guest', guest: 'win', domid: 1, what: 'started' });

t.test('fromStart: reached within the limit of the start and held under I/O: pass', async (t) => {
  const r = judge([started(0), mem(30_000, G / 2), mem(40_000, G / 2), end(50_000)], { fromStart: '1', limitMs: '60000' });
  t.equal(r.verdict, 'pass', r.message);
  t.match(r.message, /^1 balloon target reached/);
});

t.test('fromStart: first seen at the target only after the limit: fail, counted from the start', async (t) => {
  const r = judge([started(0), mem(90_000, G / 2), end(100_000)], { fromStart: '1', limitMs: '60000' });
  t.equal(r.verdict, 'fail');
  t.match(r.message, /only after 90000 ms, limit 60000 ms/);
});

t.test('fromStart: never reached (the guest holds its static maximum): fail', async (t) => {
  const r = judge([started(0), mem(30_000, G), mem(40_000, G), end(70_000)], { fromStart: '1' });
  t.equal(r.verdict, 'fail');
  t.match(r.message, /never reached its memory target/);
});

t.test('fromStart: left the target under I/O: fail', async (t) => {
  const r = judge([started(0), mem(30_000, G / 2), mem(40_000, G * 0.6), end(50_000)], { fromStart: '1' });
  t.equal(r.verdict, 'fail');
  t.match(r.message, /left its memory target while it held/);
});

t.test('without fromStart the same trace has no xenbus binding: nothing judged', async (t) => {
  const r = judge([started(0), mem(30_000, G), end(70_000)]);
  t.not(r.verdict, 'fail', r.message);
});
