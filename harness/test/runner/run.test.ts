import t from 'tap';
import { runPlanned } from '../support/run-plan';
import { ReporterMultiplexer } from '../../src/report/multiplexer';
import type { InstanceResult, RunSummary } from '../../src/model/result';
import { evaluate } from '../../src/checks/evaluate';
import { FakeHost } from '../fixtures/fake-host';
import { fixtureSpecs } from '../fixtures/specs';
import { block, install, planOf, scenario, sleep, waitConnected } from '../fixtures/scenarios';
import type { DeviceRef, Step } from '../../src/model/scenario';
import type { BackendControlCapability, BackendRestartKind } from '../../src/model/host';
import { unsupportedError } from '../../src/model/errors';
import { PassThrough } from 'node:stream';

const specs = fixtureSpecs();

async function run(host: FakeHost, steps: Step[], opts: { signal?: AbortSignal; timeoutMs?: number } = {}) {
  const seen: InstanceResult[] = [];
  let end: RunSummary | undefined;
  const reporter = { onInstanceEnd: (r: InstanceResult) => void seen.push(r), onRunEnd: (s: RunSummary) => void (end = s) };
  const s = scenario('t', steps, opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {});
  const { outcome, trace } = await runPlanned({ host, plan: planOf(s), specs, reporters: [reporter], signal: opts.signal, ringPeriodMs: 100 });
  return { outcome, trace, seen, end: end!, result: outcome.summary.instances[0] };
}

const failing = (r: InstanceResult) => r.checks.filter((c) => c.verdict === 'fail').map((c) => c.check);

t.test('a healthy scenario passes every check it can judge, and live == offline', async (t) => {
  const host = new FakeHost();
  const { outcome, trace, seen, result } = await run(host, [install(), waitConnected(), block(2000)]);
  t.same(failing(result), [], JSON.stringify(result.checks.filter((c) => c.verdict === 'fail')));
  t.equal(result.verdict, 'pass');
  t.equal(outcome.summary.complete, true);
  t.same(evaluate(trace.events, specs), outcome.summary.instances, 're-evaluating the trace gives the same verdicts');
  t.same(seen, outcome.summary.instances, 'the live per-instance results are the final ones');
  t.ok(trace.events.some((e) => e.ev === 'ring' && e.why === 'notify'), 'notification samples');
  t.ok(trace.events.some((e) => e.ev === 'ring' && e.why === 'periodic'), 'periodic samples');
  t.ok(trace.events.some((e) => e.ev === 'drivers' && e.expected?.version === '9.1.0'), 'drivers event after the install');
  t.same(host.calls, ['create win', 'destroy win', 'close']);
  const last = trace.events[trace.events.length - 1];
  t.same(last.ev === 'run.end' && last.complete, true);
});

t.test('a ring that stops being consumed is STUCK: ring-progress fails, and only it', async (t) => {
  const host = new FakeHost({ stall: 'vbd/51712' });
  const { result } = await run(host, [install(), waitConnected(), block(3000)]);
  t.same(failing(result), ['ring-progress', 'ring-responses']);
  t.match(result.checks.find((c) => c.check === 'ring-progress')!.message, /STUCK/);
});

t.test('workload errors fail the workload check', async (t) => {
  const { result } = await run(new FakeHost({ workloadErrors: 3 }), [install(), waitConnected(), block(500)]);
  t.same(failing(result), ['workload']);
});

t.test('a frontend skipping Initialised fails xenbus-transitions', async (t) => {
  const { result } = await run(new FakeHost({ skipState: true }), [install(), waitConnected(), sleep(100)]);
  t.same(failing(result), ['xenbus-transitions']);
});

t.test('a crashed guest fails guest-alive and aborts the scenario; teardown still runs', async (t) => {
  const host = new FakeHost({ crashOnWorkload: true });
  const { result } = await run(host, [install(), waitConnected(), block(500)]);
  t.same(failing(result), ['guest-alive']);
  t.equal(result.aborted?.code, 'FAKE_CRASHED');
  t.same(host.calls, ['create win', 'destroy win', 'close']);
});

t.test('a lost feature-suspend after resume fails guest-keys', async (t) => {
  const host = new FakeHost({ noFeatureSuspend: true });
  const { result } = await run(host, [install(), waitConnected(), sleep(100)]);
  t.same(failing(result), ['guest-keys']);
});

t.test('a wait that never comes true times out in host time and aborts the scenario', async (t) => {
  const host = new FakeHost();
  const w: Step = { kind: 'wait', source: { file: 'x' }, guest: 'win', path: 'device/vbd/51712/state', equals: '7', timeoutMs: 2000 };
  const { result } = await run(host, [install(), w]);
  t.equal(result.aborted?.code, 'TIMEOUT');
  t.equal(result.verdict, 'fail');
  t.same(host.calls, ['create win', 'destroy win', 'close']);
});

t.test('the instance timeout is in host time', async (t) => {
  const { result } = await run(new FakeHost(), [install(), sleep(60_000)], { timeoutMs: 5000 });
  t.equal(result.aborted?.code, 'TIMEOUT');
});

t.test('a host that drops mid-run: not ok, teardown attempted, trace incomplete, bail out', async (t) => {
  const host = new FakeHost({ dropAfterWorkloads: 0 });
  const { outcome, trace, end } = await run(host, [install(), waitConnected(), block(500)]);
  t.equal(outcome.hostError?.code, 'FAKE_DROPPED');
  t.equal(end.complete, false);
  t.match(end.bailOut, /host failure/);
  t.equal(end.instances[0].verdict, 'fail');
  t.ok(host.calls.includes('destroy win'), 'teardown ran');
  const last = trace.events[trace.events.length - 1];
  t.same(last.ev === 'run.end' && [last.complete, last.reason], [false, 'host-failure']);
});

t.test('SIGINT tears down and closes the trace as interrupted', async (t) => {
  const host = new FakeHost();
  const ac = new AbortController();
  const steps: Step[] = [install(), waitConnected(), block(1000), { kind: 'sleep', source: { file: 'x' }, durationMs: 100_000 }];
  // Ctrl-C arrives during the long sleep step: triggered from the host clock, not a real-time timer,
  // so the run cannot finish first however fast the machine is.
  const sleep = host.clock.sleep.bind(host.clock);
  host.clock.sleep = (ms: number) => {
    if (ms >= 50_000) ac.abort('SIGINT');
    return sleep(ms);
  };
  const { outcome, end, trace } = await run(host, steps, { signal: ac.signal });
  t.equal(outcome.interrupted, true);
  t.equal(end.bailOut, 'interrupted');
  t.same(host.calls, ['create win', 'destroy win', 'close']);
  const last = trace.events[trace.events.length - 1];
  t.same(last.ev === 'run.end' && last.reason, 'interrupted');
});

t.test('a reporter that throws becomes a run error, the others still run', async (t) => {
  const calls: string[] = [];
  const m = new ReporterMultiplexer([
    { onRunStart: () => { throw new Error('boom'); } },
    { onRunStart: () => void calls.push('second') },
  ]);
  await m.onRunStart({ seed: 1, host: { kind: 'sim', label: 'sim' }, instances: [] });
  t.same(calls, ['second']);
  t.equal(m.errors.length, 1);
  t.match(m.errors[0].error.message, /boom/);
});

t.test('scenario-wide faults are switched on before the guests start and off in teardown (or after their duration)', async (t) => {
  const host = new FakeHost();
  const s = scenario('f', [install(), sleep(3000)], {
    faults: [
      { name: 'backend-stall', guest: 'win', params: {} },
      { name: 'slow-backend', guest: 'win', durationMs: 1000, params: {} },
    ],
  });
  const { trace } = await runPlanned({ host, plan: planOf(s), specs });
  const faults = trace.events.filter((e) => e.ev === 'fault').map((e) => (e.ev === 'fault' ? `${e.name} ${e.on ? 'on' : 'off'} @${e.t}` : ''));
  t.same(faults, ['backend-stall on @0', 'slow-backend on @0', 'slow-backend off @1000', 'backend-stall off @3500']);
  const started = trace.events.findIndex((e) => e.ev === 'guest' && e.what === 'started');
  t.ok(trace.events.findIndex((e) => e.ev === 'fault') < started, 'on before the guest starts');
});

t.test('a host that places disks elsewhere (XenAPI: xvda on IDE) gets the scenario resolved to its devices', async (t) => {
  const unplugPlug: Step[] = [
    { kind: 'hotplug', source: block().source, guest: 'win', action: 'unplug', device: 'vbd/51712', surprise: false },
    { kind: 'hotplug', source: block().source, guest: 'win', action: 'plug', device: 'vbd/51712', surprise: false },
  ];
  const host = new FakeHost({ ideDisks: true });
  const { trace, result } = await run(host, [install(), waitConnected(), block(1000), ...unplugPlug, waitConnected(), block(1000)]);
  t.same(failing(result), [], JSON.stringify(result.checks.filter((c) => c.verdict === 'fail')));
  t.ok(trace.events.some((e) => e.ev === 'log' && e.msg === 'win: on this host xvda (vbd/51712) is vbd/768'), 'the trace says where xvda went');
  const waits = trace.events.filter((e) => e.ev === 'step.end' && e.kind === 'wait');
  t.ok(waits.length === 2 && waits.every((e) => e.ev === 'step.end' && e.ok), 'device/vbd/51712/state waited on device/vbd/768/state');
  const devs = trace.events.filter((e) => e.ev === 'workload').map((e) => (e as { dev: string }).dev);
  t.same(devs, ['vbd/768', 'vbd/768'], 'workloads ran on, and are recorded against, the device the guest has');

  // the same scenario on a host that does not say where it put the disks fails at the first wait
  const mute = new FakeHost({ ideDisks: true });
  (mute as { resolveDevice?: unknown }).resolveDevice = undefined;
  const r2 = await run(mute, [install(), { ...waitConnected(), timeoutMs: 2000 } as Step, block(1000)]);
  t.equal(r2.result.verdict, 'fail', 'without resolution the wait on vbd/51712 times out');
});

t.test('a host error while the host still answers fails that scenario only: the run goes on', async (t) => {
  const host = new FakeHost({ refuseFirstWorkload: true });
  let end: RunSummary | undefined;
  const steps = [install(), waitConnected(), block(500)];
  const { outcome, trace } = await runPlanned({ host, plan: planOf(scenario('first', steps), scenario('second', steps)), specs, reporters: [{ onRunEnd: (s) => void (end = s) }], ringPeriodMs: 100 });
  t.equal(outcome.hostError, undefined, 'no host failure for the run');
  t.equal(end!.complete, true);
  t.equal(end!.bailOut, undefined);
  t.same(outcome.summary.instances.map((i) => i.verdict), ['fail', 'pass'], 'the refused scenario is not ok, the next one runs and passes');
  t.same(outcome.summary.instances[0].aborted?.code, 'FAKE_REFUSED', 'the first scenario was aborted by the refusal');
  t.ok(trace.events.some((e) => e.ev === 'log' && /still answers: the run goes on/.test(e.msg)), 'the trace says why the run went on');
});

t.test('a host without a health check is lost after a host error (the run stops)', async (t) => {
  const host = new FakeHost({ refuseFirstWorkload: true });
  (host as { healthy?: unknown }).healthy = undefined;
  const { outcome, end } = await run(host, [install(), waitConnected(), block(500)]);
  t.equal(outcome.hostError?.code, 'FAKE_REFUSED');
  t.match(end.bailOut, /host failure/);
});

/** A host whose backend-restart is of one kind, and cannot restart the disks tapdisk3 serves. */
class RestartingHost extends FakeHost {
  readonly restarted: string[] = [];
  readonly backendControl: BackendControlCapability;
  constructor(kind: BackendRestartKind) {
    super({}, ['hotplug', 'windows-guest', 'ring-ids', 'backend-control']);
    this.backendControl = {
      restartKind: kind,
      restartBackend: async (_g, dev: DeviceRef) => {
        if (dev.startsWith('vbd/')) throw unsupportedError(`backend-restart (${kind}) of ${dev}: its backend is vbd3, which has no kernel driver in dom0 to unbind and bind`);
        this.restarted.push(dev);
      },
      forceBackendState: async () => undefined,
    };
  }
}

t.test('backend-restart: the trace says which kind the host did; one its backend cannot do is a SKIP with the reason, not done', async (t) => {
  const restart = (device: DeviceRef): Step => ({ kind: 'backend-restart', guest: 'win', device, source: { file: 't.xml' } });
  const ok = new RestartingHost('replug');
  const r1 = await run(ok, [install(), waitConnected(), restart('vif/0')]);
  t.same(ok.restarted, ['vif/0']);
  t.ok(r1.trace.events.some((e) => e.ev === 'log' && /backend-restart of win vif\/0 on .*: replug \(toolstack unplug and plug: the guest is asked/.test(e.msg)), 'the restart names its kind and what it means');

  const no = new RestartingHost('rebind');
  const out = new PassThrough();
  let tap = '';
  out.on('data', (b) => (tap += b));
  const { outcome, trace } = await runPlanned({ host: no, plan: planOf(scenario('t', [install(), waitConnected(), restart('vbd/51712'), block(200)])), specs, tap: out, ringPeriodMs: 100 });
  const r = outcome.summary.instances[0]!;
  t.equal(r.verdict, 'skip', 'unsupported: skipped, neither passed nor failed');
  t.match(r.skipReason, /its backend is vbd3/);
  t.match(tap, /^ok 1 - t # SKIP backend-restart \(rebind\) of vbd\/51712: its backend is vbd3/m, 'TAP says SKIP with the reason');
  t.notOk(trace.events.some((e) => e.ev === 'step.start' && e.kind === 'block'), 'nothing after the step ran');
  t.same(no.calls.slice(-2), ['destroy win', 'close'], 'the guest was still torn down');
  t.equal(outcome.hostError, undefined, 'not a host failure');
});

t.test('backend-restart kind="...": a host whose restart is of another kind skips the scenario with the reason', async (t) => {
  const restart = (kind: BackendRestartKind): Step => ({ kind: 'backend-restart', guest: 'win', device: 'vif/0', restartKind: kind, source: { file: 't.xml' } });
  const same = new RestartingHost('replug');
  await run(same, [install(), waitConnected(), restart('replug')]);
  t.same(same.restarted, ['vif/0'], 'the kind the host does: restarted');
  const other = new RestartingHost('replug');
  const out = new PassThrough();
  let tap = '';
  out.on('data', (b) => (tap += b));
  const { outcome, trace } = await runPlanned({ host: other, plan: planOf(scenario('t', [install(), waitConnected(), restart('rebind'), block(200)])), specs, tap: out, ringPeriodMs: 100 });
  const r = outcome.summary.instances[0]!;
  t.equal(r.verdict, 'skip');
  t.same(other.restarted, [], 'nothing restarted');
  t.match(tap, /^ok 1 - t # SKIP backend-restart kind="rebind" \(.*\): sim's backend-restart is replug \(toolstack unplug and plug/m, 'TAP: SKIP, which kind was asked and which the host does');
  t.notOk(trace.events.some((e) => e.ev === 'step.start' && e.kind === 'block'), 'nothing after it ran');
});
