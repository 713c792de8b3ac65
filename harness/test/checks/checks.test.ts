// Each check on hand-built traces: a correct trace passes, the fault it exists for fails it.
import t from 'tap';
import { DEFAULT_CHECKS, evaluate } from '../../src/checks/evaluate';
import type { CheckName } from '../../src/model/catalog';
import type { CheckResult } from '../../src/model/result';
import { fixtureSpecs } from '../fixtures/specs';
import { loadSpecs } from '../../src/spec';
import { TraceBuilder } from '../fixtures/trace-builder';

const specs = fixtureSpecs();
const judge = (events: ReturnType<TraceBuilder['end']>, check: CheckName): CheckResult => evaluate(events, specs)[0].checks.find((c) => c.check === check)!;

t.test('xenbus-transitions', async (t) => {
  t.equal(judge(new TraceBuilder().connectVbd().end(), 'xenbus-transitions').verdict, 'pass');
  const skip = new TraceBuilder().back('state', '2').front('state', '1').front('state', '4').end();
  const r = judge(skip, 'xenbus-transitions');
  t.equal(r.verdict, 'fail');
  t.match(r.message, /Initialising -> Connected is not allowed/);
  t.equal(r.diagnostics?.path, '/local/domain/1/device/vbd/51712/state');
  const early = new TraceBuilder().back('state', '1').front('state', '1').front('state', '3').back('state', '2').end();
  t.match(judge(early, 'xenbus-transitions').message, /while the backend was Initialising/);
  t.match(judge(new TraceBuilder().front('state', 'banana').end(), 'xenbus-transitions').message, /not a XenbusState/);
});

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

t.test('devices-connected', async (t) => {
  t.equal(judge(new TraceBuilder().connectVbd().end(), 'devices-connected').verdict, 'pass');
  const never = new TraceBuilder().back('state', '2').front('state', '1').at(5000).end();
  t.match(judge(never, 'devices-connected').message, /never reached Connected/);
  const slow = new TraceBuilder().back('state', '2').front('state', '1').at(45000).front('ring-ref', '8').front('state', '3').back('state', '4').front('state', '4').end();
  t.match(judge(slow, 'devices-connected').message, /Connected after 45000 ms, limit 30000 ms/);
});

t.test('ring-invariants', async (t) => {
  t.equal(judge(new TraceBuilder().ring({ req_prod: 10, rsp_prod: 4 }).ring({ req_prod: 5, rsp_prod: 0xfffffffe }).end(), 'ring-invariants').verdict, 'pass', 'indices wrap around 2^32');
  t.match(judge(new TraceBuilder().ring({ req_prod: 40, rsp_prod: 4 }).end(), 'ring-invariants').message, /36 requests outstanding on a ring of 32/);
  t.match(judge(new TraceBuilder().ring({ req_prod: 4, rsp_prod: 6 }).end(), 'ring-invariants').message, /rsp_prod 6 is ahead of req_prod 4/);
});

t.test('ring-progress', async (t) => {
  const b = new TraceBuilder();
  for (let i = 0; i < 20; i++) b.at(i * 200).ring({ req_prod: i * 4, rsp_prod: i * 4, req_cons: i * 4 });
  t.match(judge(b.end(), 'ring-progress').message, /0 STUCK/);
  const s = new TraceBuilder();
  for (let i = 0; i < 20; i++) s.at(i * 200).ring({ req_prod: Math.min(i, 5) * 4, rsp_prod: Math.min(i, 4) * 4, req_cons: Math.min(i, 4) * 4 });
  const r = judge(s.end(), 'ring-progress');
  t.equal(r.verdict, 'fail');
  t.match(r.message, /STUCK: 4 requests pending for the backend/);
  const rx = new TraceBuilder();
  for (let i = 0; i < 20; i++) rx.at(i * 200).ring({ ring: 'rx', req_prod: 256, rsp_prod: 0, req_cons: 0, rsp_cons: 0, nr_ents: 256 });
  t.equal(judge(rx.end(), 'ring-progress').verdict, 'pass', 'posted rx buffers are not stuck work');
  const lost = new TraceBuilder();
  for (let i = 0; i < 20; i++) lost.at(i * 200).ring({ req_prod: 8, rsp_prod: 8, req_cons: 8, rsp_cons: 4 });
  t.match(judge(lost.end(), 'ring-progress').message, /4 responses pending for the frontend/);
  const susp = new TraceBuilder().guest('suspended');
  for (let i = 0; i < 20; i++) susp.at(i * 200).ring({ req_prod: 8, rsp_prod: 4 });
  t.equal(judge(susp.guest('resumed').end(), 'ring-progress').verdict, 'pass', 'a suspended guest is not judged');
});

t.test('ring-responses', async (t) => {
  t.equal(judge(new TraceBuilder().io('req', 1).io('req', 2).io('rsp', 2).io('rsp', 1).end(), 'ring-responses').verdict, 'pass');
  t.match(judge(new TraceBuilder().io('req', 1).io('rsp', 1).io('rsp', 1).end(), 'ring-responses').message, /duplicate response for id 1/);
  t.match(judge(new TraceBuilder().io('req', 1).io('rsp', 7).io('rsp', 1).end(), 'ring-responses').message, /id 7 that was never requested/);
  t.match(judge(new TraceBuilder().io('req', 1).io('req', 2).io('rsp', 1).end(), 'ring-responses').message, /1 request never answered \(still in flight/);
  t.match(judge(new TraceBuilder().io('req', 3).guest('suspended').guest('resumed').end(), 'ring-responses').message, /lost when the guest was suspended/);
  t.equal(judge(new TraceBuilder().io('req', 3, 'rx').end(), 'ring-responses').verdict, 'pass', 'unused rx buffers are fine');
  t.equal(judge(new TraceBuilder().end(), 'ring-responses').verdict, 'skip');
  const noIds = new TraceBuilder('i', []).io('req', 1).end();
  t.match(judge(noIds, 'ring-responses'), { verdict: 'skip', message: /no 'ring-ids' capability/ });
});

t.test('grants', async (t) => {
  const audit = (active: number[], mapped: number[], revoked: number[]) =>
    new TraceBuilder().push({ ev: 'grants', inst: 'i', guest: 'win', domid: 1, dev: 'vbd/51712', when: 'device-closed', active, mapped, revokedWhileMapped: revoked }).end();
  t.equal(judge(audit([], [], []), 'grants').verdict, 'pass');
  t.match(judge(audit([8, 9], [], []), 'grants').message, /2 grants still granted: 8, 9/);
  t.match(judge(audit([], [], [8]), 'grants').message, /ended while the backend still had them mapped/);
  t.equal(judge(new TraceBuilder().end(), 'grants').verdict, 'skip');
});

t.test('workload', async (t) => {
  const w = (result: object, params: Record<string, string> = {}) => {
    const b = new TraceBuilder();
    const start = b.events[1];
    if (start.ev === 'scenario.start') start.checks = start.checks.map((c) => (c.name === 'workload' ? { ...c, params } : c));
    b.step('block', '1', 'start').push({ ev: 'workload', inst: 'i', guest: 'win', step: '1', dev: 'vbd/51712', result: { kind: 'block', bytes: 1e8, ios: 1000, readBytes: 5e7, writeBytes: 5e7, seconds: 2, iops: 500, mbps: 50, errors: 0, verifyErrors: 0, latencyMs: { '50': 1, '99': 9 }, ...result } as never });
    return b.step('block', '1', 'end').end();
  };
  t.equal(judge(w({}), 'workload').verdict, 'pass');
  t.match(judge(w({ errors: 2 }), 'workload').message, /2 I\/O errors/);
  t.match(judge(w({ verifyErrors: 1 }), 'workload').message, /failed verification/);
  t.match(judge(w({}, { minMBps: '60', tolerancePct: '10' }), 'workload').message, /50.0 MB\/s below baseline 60 MB\/s - 10%/);
  t.equal(judge(w({}, { minMBps: '55', tolerancePct: '10' }), 'workload').verdict, 'pass', 'within the tolerance');
  t.match(judge(w({}, { maxP99Ms: '5' }), 'workload').message, /p99 latency 9 ms over the 5 ms limit/);
  t.match(judge(w({}, { 'maxP99.9Ms': '5' }), 'workload').message, /p99.9 latency was not measured/);
  const noResult = new TraceBuilder().step('block', '1', 'start').step('block', '1', 'end').end();
  t.match(judge(noResult, 'workload').message, /ended without a workload result/);
  t.equal(judge(new TraceBuilder().end(), 'workload').verdict, 'skip');
});

t.test('guest-alive', async (t) => {
  t.equal(judge(new TraceBuilder().end(), 'guest-alive').verdict, 'pass');
  t.match(judge(new TraceBuilder().guest('crashed').end(), 'guest-alive').message, /crashed/);
  t.match(judge(new TraceBuilder().guest('rebooted').end(), 'guest-alive').message, /rebooted with no reboot step/);
  t.equal(judge(new TraceBuilder().step('reboot', '1', 'start').guest('rebooted').step('reboot', '1', 'end').end(), 'guest-alive').verdict, 'pass');
});

t.test('drivers-bound', async (t) => {
  const d = (bound: { driver: string; version: string; hardwareId: string }[], extra: object = {}) =>
    new TraceBuilder()
      .step('install-drivers', '1', 'start')
      .push({ ev: 'drivers', inst: 'i', guest: 'win', bound: bound.map((b) => ({ ...b, service: b.driver })), unbound: [], unplugged: { disks: true, nics: true }, expected: { version: '9.1.0', drivers: ['xenbus', 'xenvbd'] }, ...extra })
      .step('install-drivers', '1', 'end')
      .end();
  const ok = [{ driver: 'xenbus', version: '9.1.0', hardwareId: 'PCI\\VEN_5853&DEV_0001' }, { driver: 'xenvbd', version: '9.1.0', hardwareId: 'XENBUS\\VEN_XP0001&DEV_VBD&REV_09000000' }];
  t.equal(judge(d(ok), 'drivers-bound').verdict, 'pass');
  t.match(judge(d([ok[0]]), 'drivers-bound').message, /xenvbd is not bound/);
  t.match(judge(d([ok[0], { ...ok[1], version: '9.0.0' }]), 'drivers-bound').message, /bound at version 9.0.0, expected 9.1.0/);
  t.match(judge(d([ok[0], { ...ok[1], hardwareId: 'XENBUS\\VEN_XP0001&DEV_VBD&REV_0800000A' }]), 'drivers-bound').message, /revision 0800000A, which xenbus does not advertise/);
  t.match(judge(d(ok, { unplugged: { disks: false, nics: true } }), 'drivers-bound').message, /emulated disks were not unplugged/);
  t.match(judge(d(ok, { unbound: [{ hardwareId: 'XENBUS\\VEN_XP0001&DEV_VIF', reason: 'no matching driver' }] }), 'drivers-bound').message, /has no driver/);
  // which driver an unbound device is meant for comes from the real specs' hardware-ID templates
  const real = loadSpecs();
  const judgeReal = (events: ReturnType<TraceBuilder['end']>) => evaluate(events, real)[0].checks.find((c) => c.check === 'drivers-bound')!;
  const vbdChild = { hardwareId: 'XENBUS\\VEN_XP0001&DEV_VBD&REV_0900000B', reason: 'no matching driver' };
  const busOnly = [{ ...ok[0], driver: 'xenbus' }];
  t.match(judgeReal(d(busOnly, { unbound: [vbdChild] })).diagnostics?.others, [/DEV_VBD&REV_0900000B has no driver/], 'xenvbd was expected: its device left unbound fails');
  t.equal(
    judgeReal(d(busOnly, { unbound: [vbdChild], expected: { version: '9.1.0', drivers: ['xenbus'] } })).verdict,
    'pass',
    'a disk stays unbound when only the bus driver is installed, as on real Windows',
  );
});

t.test('guest-keys', async (t) => {
  const base = () =>
    new TraceBuilder()
      .push({ ev: 'drivers', inst: 'i', guest: 'win', bound: [{ driver: 'xenbus', version: '9.1.0', hardwareId: 'PCI', service: 'xenbus' }], unbound: [], unplugged: { disks: true, nics: true } })
      .xs('/local/domain/1/drivers/0', 'Xen Project XENBUS 9.1.0')
      .xs('/local/domain/1/control/feature-suspend', '1');
  t.equal(judge(base().at(100).guest('suspended').xs('/local/domain/1/control/feature-suspend', null).guest('resumed').xs('/local/domain/1/control/feature-suspend', '1').end(), 'guest-keys').verdict, 'pass');
  const lost = base().at(100).guest('suspended').xs('/local/domain/1/control/feature-suspend', null).guest('resumed').at(20000).end();
  t.match(judge(lost, 'guest-keys').message, /control\/feature-suspend is missing after the guest was resumed/);
  // XenAPI: VM.suspend destroys the domain (its home goes) before the suspend is reported done;
  // `suspending` closes the judging of the old home, and the resume's new domain is judged instead.
  const xapi = () => base().at(100).guest('suspending').at(120).xs('/local/domain/1', null).at(150).guest('suspended');
  t.equal(judge(xapi().guest('resumed', { domid: 2 }).xs('/local/domain/2/drivers/0', 'x').xs('/local/domain/2/control/feature-suspend', '1').end(), 'guest-keys').verdict, 'pass',
    'the old home removed between suspending and suspended is not a missing key');
  t.match(judge(base().at(120).xs('/local/domain/1', null).at(150).guest('suspended').guest('resumed', { domid: 2 }).xs('/local/domain/2/drivers/0', 'x').xs('/local/domain/2/control/feature-suspend', '1').end(), 'guest-keys').message,
    /drivers\/<N> is missing after the driver install/, 'without suspending, the removal before suspended is judged as keys lost');
  t.match(judge(xapi().guest('resumed', { domid: 2 }).xs('/local/domain/2/device/vbd/768/state', '4').at(20000).end(), 'guest-keys').message,
    /drivers\/<N> is missing after the guest was resumed/, 'keys not written again in the new domain fail');
  const migrated = base().at(100).guest('migrated', { newDomid: 2 }).xs('/local/domain/2/drivers/0', 'x').at(20000).end();
  t.match(judge(migrated, 'guest-keys').message, /feature-suspend is missing after the guest was migrated/);
});

t.test('a crash is judged by guest-alive alone', async (t) => {
  const b = new TraceBuilder().connectVbd().io('req', 1).guest('crashed');
  for (let i = 0; i < 20; i++) b.at(i * 200).ring({ req_prod: 4, rsp_prod: 0 });
  const r = evaluate(b.end(), specs)[0];
  t.same(r.checks.filter((c) => c.verdict === 'fail').map((c) => c.check), ['guest-alive']);
});

t.test('an aborted or truncated instance fails', async (t) => {
  const b = new TraceBuilder();
  const ev = b.events;
  const r = evaluate(ev, specs)[0];
  t.equal(r.verdict, 'fail');
  t.equal(r.aborted?.code, 'TRUNCATED');
});

t.test('checks a scenario did not select are reported as skipped, in CHECKS order', async (t) => {
  const b = new TraceBuilder();
  const start = b.events[1];
  if (start.ev === 'scenario.start') start.checks = [{ name: 'guest-alive', params: {} }];
  const r = evaluate(b.end(), specs)[0];
  t.equal(r.checks.length, DEFAULT_CHECKS.length, 'every check but the opt-in ones has a point');
  t.same(r.checks.filter((c) => c.verdict !== 'skip').map((c) => c.check), ['guest-alive']);
  t.match(r.checks[0], { check: 'xenbus-transitions', verdict: 'skip', message: /not selected/ });
});
