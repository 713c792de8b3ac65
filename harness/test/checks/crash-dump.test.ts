// The crash-dump check on hand-made traces: a bugcheck followed by the dump the host collected passes;
// a dump missing, recording another stop code, or never reported fails with the cause; a dump path that
// sent a barrier or flush to a backend advertising neither fails naming the request; no bugcheck: skip.
import t from 'tap';
import { crashDumpCheck } from '../../src/checks/crash-dump';
import { guestAlive } from '../../src/checks/guest-alive';
import { buildView } from '../../src/checks/view';
import type { TraceEvent } from '../../src/model/trace';

let seq = 0;
const ev = (t: number, e: Record<string, unknown>) => ({ seq: seq++, t, inst: 'i', ...e }) as unknown as TraceEvent;
const FE = '/local/domain/1/device/vbd/51712';
const BE = '/local/domain/0/backend/vbd/1/51712';
const xs = (t: number, path: string, value: string) => ev(t, { ev: 'xs', guest: 'win', path, value });
const created = ev(0, { ev: 'guest', guest: 'win', domid: 1, what: 'created' });
const backend = (flush: string, barrier: string) => [xs(1, `${FE}/backend`, BE), xs(2, `${BE}/feature-flush-cache`, flush), xs(3, `${BE}/feature-barrier`, barrier)];
const bugcheck = (t: number, code = '0x000000E2') => ev(t, { ev: 'guest', guest: 'win', domid: 1, what: 'bugcheck', detail: { code } });
const rebooted = (t: number) => ev(t, { ev: 'guest', guest: 'win', domid: 1, what: 'rebooted' });
const dump = (t: number, fields: Record<string, unknown>) => ev(t, { ev: 'artifact', guest: 'win', kind: 'crash-dump', source: 'C:\\Windows\\MEMORY.DMP', ...fields });
const collected = (t: number, code = '0x000000E2') => dump(t, { path: 'artifacts/i/win-MEMORY.DMP', bytes: 16777216, sha256: 'ab', bugcheck: code });
const req = (t: number, op: number, id = 7) => ev(t, { ev: 'ring.io', guest: 'win', dev: 'vbd/51712', queue: 0, ring: 'blk', dir: 'req', ids: [id], ops: [op] });
const end = (t: number) => ev(t, { ev: 'scenario.end', status: 'completed' });
const judge = (events: TraceEvent[]) => crashDumpCheck(buildView('i', [created, ...events]));

t.test('a bugcheck followed by the collected dump recording its stop code: pass', async (t) => {
  const r = judge([...backend('0', '0'), bugcheck(10), req(11, 1), rebooted(20), collected(21), end(30)]);
  t.equal(r.verdict, 'pass', r.message);
  t.match(r.message, /1 crash dump written for 1 bugcheck, 1 collected into the report/);
});

t.test('written but kept in the guest (the run keeps no report directory): pass, not counted as collected', async (t) => {
  const r = judge([bugcheck(10), rebooted(20), dump(21, { bytes: 16777216, bugcheck: '0x000000E2', missing: 'this run keeps no artifacts' }), end(30)]);
  t.equal(r.verdict, 'pass', r.message);
  t.match(r.message, /0 collected/);
});

t.test('no dump written: fail with the reason the host gave', async (t) => {
  const r = judge([bugcheck(10), rebooted(20), dump(21, { missing: 'Windows wrote no crash dump: the dump target device/vbd/768 has no backend' }), end(30)]);
  t.equal(r.verdict, 'fail');
  t.match(r.message, /win: no crash dump after the bugcheck 0x000000E2: Windows wrote no crash dump: the dump target device\/vbd\/768 has no backend/);
});

t.test('a dump recording another stop code (a stale one): fail', async (t) => {
  const r = judge([bugcheck(10), rebooted(20), collected(21, '0x0000007E'), end(30)]);
  t.equal(r.verdict, 'fail');
  t.match(r.message, /records stop code 0x0000007E, the guest bugchecked with 0x000000E2/);
});

t.test('no artifact at all by the end: fail', async (t) => {
  const r = judge([bugcheck(10), rebooted(20), end(30)]);
  t.equal(r.verdict, 'fail');
  t.match(r.message, /bugchecked \(0x000000E2\) and the host recorded no crash dump by the end of the scenario/);
});

t.test('BLKIF_OP_FLUSH_DISKCACHE on the dump ring of a backend without feature-flush-cache: fail naming it', async (t) => {
  const r = judge([...backend('0', '0'), bugcheck(10), req(11, 1, 6), req(12, 3, 8), rebooted(20), collected(21), end(30)]);
  t.equal(r.verdict, 'fail');
  t.match(r.message, /win vbd\/51712: the crash-dump path sent BLKIF_OP_FLUSH_DISKCACHE to a backend that advertises feature-flush-cache=0 \(blkif\.h: recognised only if feature-flush-cache is present\) \(request 8/);
});

t.test('BLKIF_OP_WRITE_BARRIER to a backend with no feature-barrier node: fail; with feature-barrier=1: pass', async (t) => {
  const bad = judge([xs(1, `${FE}/backend`, BE), bugcheck(10), req(12, 2), rebooted(20), collected(21), end(30)]);
  t.equal(bad.verdict, 'fail');
  t.match(bad.message, /BLKIF_OP_WRITE_BARRIER to a backend that has no feature-barrier/);
  const ok = judge([...backend('0', '1'), bugcheck(10), req(12, 2), rebooted(20), collected(21), end(30)]);
  t.equal(ok.verdict, 'pass', ok.message);
});

t.test('a flush outside the dump (the running system, after a restart) is not this check\'s', async (t) => {
  const r = judge([...backend('0', '0'), req(5, 3), bugcheck(10), rebooted(20), collected(21), req(25, 3), end(30)]);
  t.equal(r.verdict, 'pass', r.message);
});

t.test('no bugcheck in the scenario: skipped', async (t) => {
  const r = judge([end(30)]);
  t.equal(r.verdict, 'skip');
});

t.test('guest-alive: the restart of a bugcheck step is expected, one outside it is not', async (t) => {
  const step = (t0: number, what: 'step.start' | 'step.end') => ev(t0, { ev: what, step: '5', kind: 'bugcheck', label: 'bugcheck win', ...(what === 'step.end' ? { ok: true } : {}) });
  const ok = guestAlive(buildView('i', [created, step(9, 'step.start'), bugcheck(10), rebooted(20), collected(21), step(22, 'step.end'), end(30)]));
  t.equal(ok.verdict, 'pass', ok.message);
  const bad = guestAlive(buildView('i', [created, bugcheck(10), rebooted(20), collected(21), end(30)]));
  t.equal(bad.verdict, 'fail');
  t.match(bad.message, /win rebooted with no reboot step running; crash dump artifacts\/i\/win-MEMORY\.DMP/);
});
