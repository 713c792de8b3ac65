import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NETBACK_REREAD_MARK, parseNetbackIoRing, parseStatsGrep, parseXlList, powerStateOf } from '../../../src/hosts/xl/parse';
import { splitIoRings } from '../../../src/hosts/netback-rings';

// Captured from the lab (netback of Linux 6.1, after a 3 s nc stream from a PV guest).
const ioRing = readFileSync(join(__dirname, '..', '..', 'fixtures', 'lab', 'io_ring_q0.txt'), 'utf8');

t.test('xl list: name, domid, flags', async (t) => {
  const l = parseXlList('Name                                        ID   Mem VCPUs\tState\tTime(s)\nDomain-0                                     0  1536     2     r-----     305.1\nwinpv-smoke-g1                               5   128     1     --p---       0.0\nwinpv-x                               7   128     1     ----c-       1.0\n');
  t.same(l.map((e) => [e.name, e.domid, e.state]), [['Domain-0', 0, 'r-----'], ['winpv-smoke-g1', 5, '--p---'], ['winpv-x', 7, '----c-']]);
});

t.test('xl list -v: the UUID, also of a domain whose name is gone', async (t) => {
  // as the lab's xl printed it (Xen 4.17.7): a guest whose destroy was cut short after libxl removed its xenstore home
  const l = parseXlList('Name                                        ID   Mem VCPUs\tState\tTime(s)   UUID                            Reason-Code\tSecurity Label\nDomain-0                                     0  1536     2     r-----    1506.2 00000000-0000-0000-0000-000000000000        -                -\n(null)                                      15   128     1     --ps--       4.4 9a592456-abf5-4c88-a3b2-28a686d01ff8        0                -\n');
  t.same(l.map((e) => [e.name, e.domid, e.state, e.uuid]), [['Domain-0', 0, 'r-----', '00000000-0000-0000-0000-000000000000'], ['(null)', 15, '--ps--', '9a592456-abf5-4c88-a3b2-28a686d01ff8']]);
  t.equal(parseXlList('Name ID Mem VCPUs State Time(s)\nx 3 128 1 r----- 0.1\n')[0]!.uuid, undefined, 'plain xl list has none');
});

t.test('power states from the flags; a crashed (preserved) domain is crashed, a missing one gone', async (t) => {
  t.equal(powerStateOf('r-----'), 'running');
  t.equal(powerStateOf('-b----'), 'running');
  t.equal(powerStateOf('--p---'), 'paused');
  t.equal(powerStateOf('---s--'), 'halted');
  t.equal(powerStateOf('----c-'), 'crashed');
  t.equal(powerStateOf(undefined), 'gone');
});

t.test('netback io_ring: TX and RX indices, backend req_cons', async (t) => {
  const q = parseNetbackIoRing(ioRing)!;
  t.equal(q.queue, 0);
  t.same(q.tx, { nr_ents: 256, req_prod: 85863, req_cons: 85863, req_event: 85864, rsp_prod: 85863, rsp_event: 85864 });
  t.same(q.rx, { nr_ents: 256, req_prod: 2712, req_cons: 2456, req_event: 1, rsp_prod: 2456, rsp_event: 2457 });
});

t.test('a truncated or foreign io_ring file is refused, not half-parsed', async (t) => {
  t.equal(parseNetbackIoRing('nothing here'), null);
  t.equal(parseNetbackIoRing(ioRing.replace(/rsp prod 85863 \(base\)/, 'rsp prod ?')), null);
});

t.test('a file read twice: the first read\'s indices, the second as the reread that brackets them', async (t) => {
  const later = ioRing.replace('req prod 2712 (256) cons 2456 (0)', 'req prod 2714 (256) cons 2458 (0)').replace('rsp prod 2456 (base) pvt 2456 (0)', 'rsp prod 2458 (base) pvt 2458 (0)');
  const q = parseNetbackIoRing(`${ioRing}${NETBACK_REREAD_MARK}\n${later}`)!;
  t.same(q.rx, { nr_ents: 256, req_prod: 2712, req_cons: 2456, req_event: 1, rsp_prod: 2456, rsp_event: 2457, reread: { req_prod: 2714, rsp_prod: 2458, req_cons: 2458 } });
  t.same(q.tx!.reread, { req_prod: 85863, rsp_prod: 85863, req_cons: 85863 }, 'an idle ring reads the same twice');
  const behind = parseNetbackIoRing(`${later}${NETBACK_REREAD_MARK}\n${ioRing}`)!;
  t.equal(behind.rx!.reread, undefined, 'a second read behind the first (the queue set up again) brackets nothing: the first read alone');
  t.equal(behind.rx!.req_prod, 2714);
  t.equal(parseNetbackIoRing(`${ioRing}${NETBACK_REREAD_MARK}\nQueue 0\nTX: nr_ents 256\n`)!.rx!.reread, undefined, 'a cut-short second read: the first alone');
});

t.test('several queues are split by file', async (t) => {
  const m = splitIoRings(`==> /d/vif1.0/io_ring_q0 <==\n${ioRing}==> /d/vif1.0/io_ring_q1 <==\n${ioRing.replace('Queue 0', 'Queue 1')}`);
  t.same([...m.keys()], [0, 1]);
  t.equal(parseNetbackIoRing(m.get(1)!)!.queue, 1);
});

t.test('blkback statistics through grep -r', async (t) => {
  t.same(parseStatsGrep('/sys/bus/xen-backend/devices/vbd-1-51712/statistics/wr_req:512\n/sys/bus/xen-backend/devices/vbd-1-51712/statistics/rd_sect:8216\n'), { wr_req: 512, rd_sect: 8216 });
});
