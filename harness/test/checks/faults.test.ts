// The fault-per-check proof: for every fault of FAULTS, a scenario on the simulated host with that
// fault switched on gives `not ok` for the check FAULTS names as catching it, and the same scenario
// without the fault passes every check. Secondary failures that follow from a fault by protocol
// (a backend cannot connect a frontend that wrote no ring-ref) are listed, each with its reason.
import t from 'tap';
import { CHECKS, FAULTS, type CheckName, type FaultName } from '../../src/model/catalog';
import type { HostBackend } from '../../src/model/host';
import type { FaultConfig, Scenario, Step } from '../../src/model/scenario';
import type { InstanceResult } from '../../src/model/result';
import { loadSpecs } from '../../src/spec/load';
import { runPlanned } from '../support/run-plan';
import { evaluate } from '../../src/checks/evaluate';
import { scenario, allChecks } from '../fixtures/scenarios';
import { vbdShape, vifShape } from '../fixtures/fake-host';

let SimHost: (new (o: { specs: ReturnType<typeof loadSpecs> }) => HostBackend) | undefined;
try {
  SimHost = require('../../src/hosts/sim').SimHost;
} catch {
  SimHost = undefined;
}

const specs = loadSpecs();
const src = { file: 'harness/test/checks/faults.test.ts' };
const DEV = 'vbd/51712' as const;

const install: Step = { kind: 'install-drivers', source: src, guest: 'win', bundle: 'builtin:9.1.0', reboot: true };
const wait = (dev: string): Step => ({ kind: 'wait', source: src, guest: 'win', path: `device/${dev}/state`, equals: '4', timeoutMs: 60_000 });
const connected: Step[] = [install, wait(DEV), wait('vif/0')];
const sleep = (ms: number): Step => ({ kind: 'sleep', source: src, durationMs: ms });
const block = (ms: number): Step => ({ kind: 'block', source: src, guest: 'win', device: DEV, blockSize: 4096, queueDepth: 16, threads: 1, writePercent: 30, pattern: 'random', durationMs: ms, verify: false });
const fault = (name: FaultName, extra: Partial<FaultConfig> = {}): FaultConfig => ({ name, guest: 'win', params: {}, ...extra });
const faultStep = (f: FaultConfig): Step => ({ kind: 'fault', source: src, fault: f });
const underIo = (f: FaultConfig, ioMs = 5000): Step => ({ kind: 'parallel', source: src, branches: [[block(ioMs)], [sleep(1000), faultStep(f)]] });
const unplug: Step = { kind: 'hotplug', source: src, guest: 'win', action: 'unplug', device: DEV, surprise: false };

interface FaultCase {
  /** Steps with the fault (faultStep or scenario-wide `wide`), and the same without it. */
  steps: (f?: FaultConfig) => Step[];
  wide?: boolean;
  extra?: Partial<Scenario>;
  /** Checks that also fail, by protocol, and why. */
  secondary?: Partial<Record<CheckName, string>>;
}

const ringFault: FaultCase = {
  steps: (f) => [...connected, f ? underIo({ ...f, device: DEV, durationMs: 3000 }) : block(5000)],
  secondary: {
    'ring-responses': 'the requests on the stuck ring are never answered',
    workload: 'the guest I/O on the stuck ring fails',
  },
};
const onceUnderIo: FaultCase = { steps: (f) => [...connected, f ? underIo({ ...f, device: DEV }) : block(5000)] };
const atConnect = (secondary?: FaultCase['secondary']): FaultCase => ({ wide: true, steps: () => [install, sleep(5000)], secondary });
const grantFault: FaultCase = { steps: (f) => [...connected, ...(f ? [faultStep({ ...f, device: DEV })] : []), block(1000), unplug, sleep(1000)] };

const CASES: Record<FaultName, FaultCase> = {
  'missed-notify': ringFault,
  'lost-wakeup': ringFault,
  'backend-stall': ringFault,
  'unknown-response-id': { ...onceUnderIo, secondary: { workload: 'the request whose response never comes fails in the guest' } },
  'duplicate-response': { ...onceUnderIo, secondary: { workload: 'the request whose response slot was taken fails in the guest' } },
  'ring-overrun': {
    steps: (f) => [...connected, ...(f ? [faultStep({ ...f, device: DEV })] : []), sleep(2000)],
    secondary: {
      'ring-progress': 'blkback stops serving an overrun ring, as Linux does, so the ring is stuck',
      'ring-responses': 'the requests of the stopped ring are never answered',
    },
  },
  'grant-leak': grantFault,
  // the frontend ends its grants early on an orderly close (a reboot), while blkback still maps them
  // The VIF removed (no Closed handshake) while it reconnects after a backend restart: after its Connected, before the backend's.
  'connect-unwind-leak': {
    steps: (f) => [
      ...connected,
      ...(f ? [faultStep({ ...f, device: 'vif/0' })] : []),
      { kind: 'parallel', source: src, branches: [
        [{ kind: 'backend-restart', source: src, guest: 'win', device: 'vif/0' }],
        [{ ...wait('vif/0'), equals: '1' }, wait('vif/0'), { kind: 'hotplug', source: src, guest: 'win', action: 'unplug', device: 'vif/0', surprise: true }],
      ] },
      sleep(1000),
    ],
  },
  // the guest's only VIF unplugged, then plugged again: with the fault it is never enumerated
  'vif-rescan-lost': {
    wide: true,
    steps: () => [
      ...connected,
      { kind: 'hotplug', source: src, guest: 'win', action: 'unplug', device: 'vif/0', surprise: false },
      sleep(2000),
      { kind: 'hotplug', source: src, guest: 'win', action: 'plug', device: 'vif/0', surprise: false },
      sleep(35_000),
    ],
  },
  'grant-revoke-mapped': { steps: (f) => [...connected, ...(f ? [faultStep({ ...f, device: DEV })] : []), block(500), { kind: 'reboot', source: src, guest: 'win' }, sleep(1000)] },
  'skip-state': atConnect(),
  // the toolstack's backend reaches InitWait long before the drivers load at boot, so the race is
  // shown on a hot-plugged disk, whose frontend starts as soon as the device appears
  'early-connect': {
    secondary: { 'xenstore-keys': 'a frontend that does not wait for the backend writes Initialised before the keys that depend on its features' },
    steps: (f) => [...connected, unplug, sleep(1000), ...(f ? [faultStep({ ...f, device: DEV })] : []), { kind: 'hotplug', source: src, guest: 'win', action: 'plug', device: DEV, surprise: false }, sleep(3000)],
  },
  // a reboot against backends that take the lab's 234 ms to react (sim/timings.ts): a frontend that does
  // not wait for them writes Closed while its backend is still Connected
  'close-no-wait': {
    extra: { guests: [{ name: 'win', os: 'windows', vcpus: 2, memoryMiB: 2048, vbds: [vbdShape()], vifs: [vifShape()], timings: { backendReactionMs: 234 } }] },
    steps: (f) => [...connected, ...(f ? [faultStep(f)] : []), { kind: 'reboot', source: src, guest: 'win' }, sleep(3000)],
    secondary: {
      grants: 'the frontend counts the device closed and ends its grants while the backend, not yet Closed, still maps its rings',
      'ring-responses': 'the control request of a NIC whose backend was left behind the frontend is never answered',
    },
  },
  'missing-key': atConnect({ 'devices-connected': 'blkback refuses a frontend without ring-ref, so the disk never connects' }),
  'malformed-key': atConnect(),
  'wrong-protocol': atConnect(),
  'eagain-storm': atConnect(),
  'watch-drop': atConnect(),
  'watch-delay': atConnect(),
  'backend-closing': { ...onceUnderIo, secondary: { 'ring-responses': 'requests in flight when the backend closes are never answered' } },
  'surprise-unplug': { ...onceUnderIo, secondary: { workload: 'I/O to the removed disk fails in the guest' } },
  'suspend-inflight': {
    ...onceUnderIo,
    secondary: { workload: 'the lost requests fail in the guest after its timeout', grants: 'the grants of the lost requests are never ended' },
  },
  // queue depth 1: the simulator stretches a spike by its time dilation, and a deep queue's dilation
  // would stretch a 200 ms spike past the guest's I/O timeout (an error, not latency)
  'slow-backend': {
    steps: (f) => [...connected, ...(f ? [faultStep({ ...f, device: DEV })] : []), { ...block(3000), queueDepth: 1 } as Step],
    extra: { checks: allChecks({ workload: { maxP99Ms: '100' } }) },
  },
  'guest-crash': { steps: (f) => [...connected, block(1000), ...(f ? [faultStep(f)] : []), sleep(1000)] },
  'revision-mismatch': atConnect({
    'devices-connected': 'child drivers that do not bind never connect their devices',
    'guest-keys': 'child drivers that do not bind write none of their guest keys',
  }),
  'no-unplug': atConnect(),
  // a guest started with its memory target at half its static maximum: the balloon must come down to it
  'balloon-initial-target-ignored': {
    wide: true,
    extra: { guests: [{ name: 'win', os: 'windows', vcpus: 2, memoryMiB: 4096, memoryTargetMiB: 2048, vbds: [vbdShape()], vifs: [vifShape()] }] },
    steps: () => [...connected, sleep(3000)],
  },
  // a write of XENSTORE_PAYLOAD_MAX + 1 bytes ("data/x", NUL, 4090 bytes) through xeniface's store IOCTL
  'xeniface-no-length-check': {
    extra: { drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet', 'xeniface'] },
    steps: (f) => [
      ...connected,
      ...(f ? [faultStep(f)] : []),
      { kind: 'xeniface-store', source: src, guest: 'win', op: 'write', path: 'data/x', valueBytes: 4090, expect: 'refused' },
      sleep(1000),
    ],
  },
  // restored onto a backend with single-page rings and one queue: the fault keeps the old ring-page-order
  'stale-backend-features': {
    steps: (f) => [
      ...connected,
      ...(f ? [faultStep(f)] : []),
      { kind: 'save-restore', source: src, guest: 'win', destination: [{ device: DEV, backend: { 'max-ring-page-order': '0', 'multi-queue-max-queues': '1' } }] },
      sleep(5000),
    ],
  },
  // a BSOD on a disk whose backend offers neither barrier nor flush: the dump path must complete the flush in the guest
  'dump-flush-unadvertised': {
    extra: { guests: [{ name: 'win', os: 'windows', vcpus: 2, memoryMiB: 2048, vbds: [{ ...vbdShape(), backend: { 'feature-flush-cache': '0', 'feature-barrier': '0' } }], vifs: [vifShape()] }] },
    steps: (f) => [...connected, ...(f ? [faultStep(f)] : []), { kind: 'bugcheck', source: src, guest: 'win', code: 0xe2 }, sleep(1000)],
  },
  // cache flushes on a tapdisk3 (vbd3) disk, which offers feature-barrier and no feature-flush-cache:
  // xenvbd must send them as barriers; the fault sends BLKIF_OP_FLUSH_DISKCACHE, answered EOPNOTSUPP
  'flush-unadvertised': {
    extra: { guests: [{ name: 'win', os: 'windows', vcpus: 2, memoryMiB: 2048, vbds: [{ ...vbdShape(), backendType: 'vbd3' }], vifs: [vifShape()] }] },
    steps: (f) => [...connected, ...(f ? [faultStep(f)] : []), { ...block(2000), writePercent: 100, flush: true } as Step],
  },
  // migrated with the guest agent running: it must report its keys again in the new domain
  'agent-resume-lost': {
    extra: { drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet', 'xeniface'], guests: [{ name: 'win', os: 'windows', vcpus: 2, memoryMiB: 2048, vbds: [vbdShape()], vifs: [vifShape()], agent: true }] },
    steps: (f) => [...connected, ...(f ? [faultStep(f)] : []), sleep(3000), { kind: 'migrate', source: src, guest: 'win' }, sleep(3000)],
  },
  // the guest's drivers uninstalled and the guest rebooted: with the fault XENFILT stays a class filter
  'uninstall-leaves-filter': {
    wide: true,
    steps: () => [...connected, { kind: 'uninstall-drivers', source: src, guest: 'win', reboot: true }, sleep(1000)],
  },
  // drivers staged as an OS update does, one reboot, then the second: with the fault the children ask nobody for it
  'reboot-request-lost': {
    wide: true,
    steps: () => [
      { ...install, method: 'staged' } as Step,
      { ...install, method: 'staged' } as Step,
      wait(DEV), wait('vif/0'), sleep(1000),
    ],
  },
  // a static NIC under another vendor's drivers (XS), then ours (XP): a new PV NIC that must get the settings
  'nic-settings-not-copied': {
    wide: true,
    steps: () => [
      { ...install, bundle: 'builtin:9.0.0@XS' } as Step, wait(DEV), wait('vif/0'),
      { kind: 'set-nic', source: src, guest: 'win', device: 'vif/0', ipv4: ['192.0.2.10/24'], ipv6: [], dns: ['192.0.2.53'], mtu: 1400 },
      ...connected, sleep(1000),
    ],
  },
  'feature-suspend-lost': {
    steps: (f) => [...connected, ...(f ? [faultStep(f)] : []), { kind: 'suspend-resume', source: src, guest: 'win' }, sleep(12_000)],
  },
};

async function runOne(s: Scenario, seed: number): Promise<InstanceResult> {
  const host = new SimHost!({ specs });
  const { outcome, trace } = await runPlanned({ host, plan: { seed, instances: [{ id: s.name, scenario: s, params: {} }] }, specs });
  const [again] = evaluate(trace.events, specs);
  if (JSON.stringify(again) !== JSON.stringify(outcome.summary.instances[0])) throw new Error('live and offline verdicts differ');
  return outcome.summary.instances[0];
}

/** Every failure message of every check (first offence and the others listed), numbers blurred so
 *  that runs with and without a fault compare. */
function offences(r: InstanceResult): Map<CheckName, Set<string>> {
  const out = new Map<CheckName, Set<string>>();
  for (const c of r.checks) {
    if (c.verdict !== 'fail') continue;
    const others = (c.diagnostics?.others as string[] | undefined) ?? [];
    const set = new Set([c.message, ...others].map((m) => m.replace(/ \(and \d+ more\)$/, '').replace(/\d+(\.\d+)?/g, 'N')));
    out.set(c.check, set);
  }
  return out;
}
const describe = (r: InstanceResult) => r.checks.filter((c) => c.verdict === 'fail').map((c) => `${c.check}: ${c.message}`).join('\n') + (r.aborted ? `\nsteps: ${r.aborted.message}` : '');


const noSim = !SimHost && !process.env.CI ? 'the simulated host (harness/src/hosts/sim) is not in this build' : false;

t.test('every fault is caught by its check, and only by it; without the fault the scenario passes', { skip: noSim }, async (t) => {
  if (!SimHost) throw new Error('the simulated host is missing (harness/src/hosts/sim)');
  t.same(Object.keys(CASES).sort(), Object.keys(FAULTS).sort(), 'a case for every fault');
  for (const [name, c] of Object.entries(CASES) as [FaultName, FaultCase][]) {
    await t.test(name, async (t) => {
      const f = fault(name);
      const base = { ...(c.extra ?? {}), needs: [] };
      const clean = await runOne(scenario(`${name}-clean`, c.steps(), base), 11);
      const cleanOff = offences(clean);
      const cleanMsgs = [...cleanOff.values()].flatMap((x) => [...x]);
      t.same(cleanMsgs, [], `without the fault no check fails\n${describe(clean)}`);
      t.equal(clean.aborted, undefined, `without the fault every step runs\n${describe(clean)}`);

      const faulty = await runOne(scenario(`${name}-fault`, c.steps(c.wide ? undefined : f), { ...base, ...(c.wide ? { faults: [f] } : {}) }), 11);
      const caughtBy = FAULTS[name].caughtBy;
      const fresh = (check: CheckName) => [...(offences(faulty).get(check) ?? [])].filter((m) => !cleanOff.get(check)?.has(m));
      t.ok(fresh(caughtBy).length > 0, `${caughtBy} reports what the fault did\n${describe(faulty)}`);
      const others = (Object.keys(CHECKS) as CheckName[]).filter((x) => x !== caughtBy && !(c.secondary && x in c.secondary) && fresh(x).length > 0);
      const news = others.map((x) => `${x}: ${fresh(x).join('; ')}`);
      t.same(news, [], `no other check reports anything new\n${describe(faulty)}`);
    });
  }
});
