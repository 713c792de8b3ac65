// The xenstore-keys check (harness/src/checks/xenstore-keys.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, TraceBuilder } from '../support/check-judge';
import { evaluate } from '../../src/checks/evaluate';
import { loadSpecs } from '../../src/spec';

t.test('xenstore-keys', async (t) => {
  t.equal(judge(new TraceBuilder().connectVbd().end(), 'xenstore-keys').verdict, 'pass');
  const missing = new TraceBuilder().back('state', '2').front('state', '1').front('event-channel', '5').front('protocol', 'x86_64-abi').front('state', '3').end();
  const r = judge(missing, 'xenstore-keys');
  t.equal(r.verdict, 'fail');
  t.match(r.message, /none of the alternatives ring-ref \| ring-ref<i>/);
  const multi = new TraceBuilder().back('state', '2').front('state', '1').front('ring-ref0', '8').front('ring-ref1', '9').front('event-channel', '5').front('protocol', 'x86_64-abi').front('state', '3').end();
  t.equal(judge(multi, 'xenstore-keys').verdict, 'pass', 'ring-ref<i> satisfies the alternative');
  const proto = new TraceBuilder().back('state', '2').front('state', '1').front('ring-ref', '8').front('event-channel', '5').front('protocol', 'x86_32-abi').front('state', '3').end();
  t.match(judge(proto, 'xenstore-keys').message, /protocol: 'x86_32-abi' is not one of x86_64-abi/);
  const order = new TraceBuilder().connectVbd().front('ring-page-order', '9').front('state', '1').front('state', '3').end();
  t.match(judge(order, 'xenstore-keys').message, /ring-page-order: 9 is above the maximum 4/);
});

t.test('a tapdisk3 (vbd3) or qdisk backend is judged as the vbd it serves', async (t) => {
  // XCP-ng 8 / XenServer 7+: the guest's device/vbd/<id> is served from backend/vbd3/<domid>/<id>
  const vbd3 = (dev: string, rest: (b: TraceBuilder) => TraceBuilder) =>
    rest(new TraceBuilder().back('state', '1', dev).front('backend', `/local/domain/0/backend/${dev.replace('/', '/1/')}`).front('state', '1').back('state', '2', dev)
      .front('ring-ref', '8').front('event-channel', '5').front('protocol', 'x86_64-abi').front('state', '3')).end();
  const good = vbd3('vbd3/51712', (b) => b.back('state', '4', 'vbd3/51712').front('state', '4'));
  t.equal(judge(good, 'xenbus-transitions').verdict, 'pass');
  t.equal(judge(good, 'devices-connected').verdict, 'pass', 'the frontend and its vbd3 backend connected');
  const jump = vbd3('vbd3/51712', (b) => b.back('state', '6', 'vbd3/51712'));
  const r = judge(jump, 'xenbus-transitions');
  t.equal(r.verdict, 'fail', 'a vbd3 backend\'s transitions are judged by the vbd spec');
  t.match(r.message, /backend vbd\/51712: InitWait -> Closed/);
  t.equal(r.diagnostics?.path, '/local/domain/0/backend/vbd3/1/51712/state');
  const q = judge(vbd3('qdisk/51712', (b) => b.back('state', '6', 'qdisk/51712')), 'xenbus-transitions');
  t.equal(q.verdict, 'fail', 'so are a qdisk backend\'s');
  // with the real xenvbd spec: tapback's connect_frontend writes sectors, sector-size and info before Connected
  const noSectors = vbd3('vbd3/51712', (b) => b.back('sector-size', '512', 'vbd3/51712').back('info', '0', 'vbd3/51712').back('state', '4', 'vbd3/51712').front('state', '4'));
  const k = evaluate(noSectors, loadSpecs())[0].checks.find((c) => c.check === 'xenstore-keys')!;
  t.equal(k.verdict, 'fail', 'a vbd3 backend Connected without sectors is not ok');
  t.match(JSON.stringify(k.diagnostics), /backend vbd\/51712 entering Connected: sectors is missing/);
});

t.test('a transaction read late in one batch: its keys count as written with the state, whatever millisecond each was read in', async (t) => {
  // blkfront writes ring-ref, event-channel, protocol and state 3 in one transaction; the dom0 reader
  // read them late, as one batch, its lines straddling a millisecond (as on the lab: t 51775, 51776)
  const read = (batched: boolean) => {
    const b = new TraceBuilder().back('state', '2').front('state', '1').at(10);
    const w = (k: string, v: string, i: number) => (batched ? b.late(3, i) : b).front(k, v);
    w('state', '3', 1);
    b.at(11);
    w('ring-ref', '8', 2);
    w('event-channel', '5', 3);
    w('protocol', 'x86_64-abi', 4);
    return b.end();
  };
  t.equal(judge(read(true), 'xenstore-keys').verdict, 'pass', 'one batch: one instant');
  t.equal(judge(read(false), 'xenstore-keys').verdict, 'fail', 'read one at a time across the millisecond: the state came first');
});
