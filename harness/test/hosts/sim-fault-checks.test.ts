// The proof that closes the loop: for every fault of the catalogue, a scenario that injects it on
// the simulated host, run by the real runner, makes the check named in FAULTS report `fail`, while
// the same scenario without the fault passes that check.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAULTS, type FaultName } from '../../src/model/catalog';
import { loadScenarios } from '../../src/scenario';
import { plan } from '../../src/plan';
import { runPlanned } from '../support/run-plan';
import { SimHost } from '../../src/hosts/sim';
import type { InstanceResult } from '../../src/model/result';
import { specs } from './sim-fixture';

const INSTALL = `<install-drivers guest="win" bundle="builtin:9.1.0.0" reboot="true"/>
    <wait guest="win" path="device/vbd/51712/state" equals="4" timeout="60s"/>
    <wait guest="win" path="device/vif/0/state" equals="4" timeout="60s"/>`;
const IO = (ms = 2000) => `<block guest="win" device="xvda" duration="${ms}ms" write-percent="30"/>`;
const fault = (name: string, extra = '') => `<fault name="${name}" guest="win"${extra}/>`;
const underIo = (name: string, extra = '', ms = 3000) =>
  `<parallel><branch>${IO(ms)}</branch><branch><sleep duration="500ms"/>${fault(name, extra)}</branch></parallel>`;

/** Steps per fault: [with the fault, without it]. The fault-free variant keeps the same shape. */
const STEPS: Record<FaultName, (on: boolean) => string> = {
  'missed-notify': (on) => `${INSTALL}${on ? fault('missed-notify') : ''}${IO()}`,
  'lost-wakeup': (on) => `${INSTALL}${on ? fault('lost-wakeup') : ''}${IO()}`,
  'backend-stall': (on) => `${INSTALL}${on ? fault('backend-stall') : ''}${IO()}`,
  'unknown-response-id': (on) => `${INSTALL}${on ? fault('unknown-response-id', ' device="vbd/51712"') : ''}${IO()}`,
  'duplicate-response': (on) => `${INSTALL}${on ? fault('duplicate-response', ' device="vbd/51712"') : ''}${IO()}`,
  'ring-overrun': (on) => `${INSTALL}${on ? fault('ring-overrun', ' device="vbd/51712"') : ''}<sleep duration="3s"/>`,
  'grant-leak': (on) => `${INSTALL}${on ? fault('grant-leak') : ''}${IO(500)}<reboot guest="win"/><sleep duration="1s"/>`,
  // removed (no Closed handshake) while the frontend reconnects after a backend restart: between its Connected and the backend's
  'connect-unwind-leak': (on) => `${INSTALL}${on ? fault('connect-unwind-leak') : ''}<parallel><branch><backend-restart guest="win" device="vif/0"/></branch><branch><wait guest="win" path="device/vif/0/state" equals="1" timeout="30s"/><wait guest="win" path="device/vif/0/state" equals="4" timeout="30s"/><unplug guest="win" device="vif/0" surprise="true"/></branch></parallel><sleep duration="1s"/>`,
  'grant-revoke-mapped': (on) => `${INSTALL}${on ? fault('grant-revoke-mapped') : ''}${IO(500)}<reboot guest="win"/><sleep duration="1s"/>`,
  'skip-state': (on) => `${INSTALL}${on ? fault('skip-state') : ''}<reboot guest="win"/><sleep duration="2s"/>`,
  // a hot-plug: the guest sees its new device before dom0 has probed the backend (a backend reaction later)
  'early-connect': (on) => `${INSTALL}${on ? fault('early-connect') : ''}<unplug guest="win" device="vif/0"/><sleep duration="2s"/><plug guest="win" device="vif/0"/><sleep duration="2s"/>`,
  // a reboot against backends that take the lab's 234 ms to react (GUEST_TIMINGS)
  'close-no-wait': (on) => `${INSTALL}${on ? fault('close-no-wait') : ''}<reboot guest="win"/><sleep duration="3s"/>`,
  'missing-key': (on) => `${INSTALL}${on ? fault('missing-key') : ''}<reboot guest="win"/><sleep duration="2s"/>`,
  'malformed-key': (on) => `${INSTALL}${on ? fault('malformed-key') : ''}<reboot guest="win"/><sleep duration="2s"/>`,
  'wrong-protocol': (on) => `${INSTALL}${on ? fault('wrong-protocol') : ''}<reboot guest="win"/><sleep duration="2s"/>`,
  'eagain-storm': (on) => `${INSTALL}${on ? fault('eagain-storm') : ''}<reboot guest="win"/><sleep duration="40s"/>`,
  'watch-drop': (on) => `${INSTALL}${on ? fault('watch-drop') : ''}<reboot guest="win"/><sleep duration="40s"/>`,
  'watch-delay': (on) => `${INSTALL}${on ? fault('watch-delay') : ''}<reboot guest="win"/><sleep duration="40s"/>`,
  'backend-closing': (on) => `${INSTALL}${on ? underIo('backend-closing', ' device="vbd/51712"') : IO(3000)}`,
  'surprise-unplug': (on) => `${INSTALL}${on ? underIo('surprise-unplug', ' device="vbd/51712"') : IO(3000)}`,
  'suspend-inflight': (on) => `${INSTALL}${on ? underIo('suspend-inflight', ' device="vbd/51712"') : IO(3000)}`,
  'slow-backend': (on) => `${INSTALL}${on ? fault('slow-backend') : ''}${IO()}`,
  'guest-crash': (on) => `${INSTALL}${on ? fault('guest-crash') : ''}<sleep duration="1s"/>`,
  'revision-mismatch': (on) => `${on ? fault('revision-mismatch') : ''}${INSTALL.split('\n')[0]}<sleep duration="2s"/>`,
  'no-unplug': (on) => `${on ? fault('no-unplug') : ''}${INSTALL.split('\n')[0]}<sleep duration="2s"/>`,
  'vif-rescan-lost': (on) => `${INSTALL}${on ? fault('vif-rescan-lost') : ''}<unplug guest="win" device="vif/0"/><sleep duration="2s"/><plug guest="win" device="vif/0"/><sleep duration="35s"/>`,
  // the guest runs with its memory target at half its static maximum (GUEST_MEMORY): the balloon must come down to it
  'balloon-initial-target-ignored': (on) => `${on ? fault('balloon-initial-target-ignored') : ''}${INSTALL}<sleep duration="3s"/>`,
  // a write of XENSTORE_PAYLOAD_MAX + 1 bytes through xeniface's store IOCTL (xeniface installed: WITH_XENIFACE)
  'xeniface-no-length-check': (on) => `${INSTALL}${on ? fault('xeniface-no-length-check') : ''}<xeniface-store guest="win" op="write" path="data/x" value-bytes="4094" expect="refused"/><sleep duration="1s"/>`,
  // restored onto a backend with single-page rings: a frontend that keeps its old ring-page-order breaks the spec's limit
  'stale-backend-features': (on) => `${INSTALL}${on ? fault('stale-backend-features') : ''}<save-restore guest="win"><destination device="xvda"><backend key="max-ring-page-order" value="0"/></destination></save-restore><sleep duration="5s"/>`,
  // a BSOD on a disk whose backend offers neither barrier nor flush (VBD_BACKEND): the dump path must not send one
  'dump-flush-unadvertised': (on) => `${INSTALL}${on ? fault('dump-flush-unadvertised') : ''}<bugcheck guest="win"/><sleep duration="1s"/>`,
  // cache flushes on a tapdisk3 disk (VBD_ATTRS: backend-type vbd3), which offers barriers and no flush-cache
  'flush-unadvertised': (on) => `${INSTALL}${on ? fault('flush-unadvertised') : ''}<block guest="win" device="xvda" duration="2000ms" write-percent="100" flush="true"/>`,
  // migrated with the guest agent running (GUEST_AGENT, xeniface installed): it must report again in the new domain
  'agent-resume-lost': (on) => `${INSTALL}${on ? fault('agent-resume-lost') : ''}<sleep duration="3s"/><migrate guest="win"/><sleep duration="3s"/>`,
  'uninstall-leaves-filter': (on) => `${INSTALL}${on ? fault('uninstall-leaves-filter') : ''}<uninstall-drivers guest="win"/><sleep duration="1s"/>`,
  'reboot-request-lost': (on) => `${on ? fault('reboot-request-lost') : ''}<install-drivers guest="win" bundle="builtin:9.1.0" method="staged"/><install-drivers guest="win" bundle="builtin:9.1.0" method="staged"/><sleep duration="1s"/>`,
  'nic-settings-not-copied': (on) => `${on ? fault('nic-settings-not-copied') : ''}${INSTALL.replace('builtin:9.1.0.0', 'builtin:9.0.0@XS')}<set-nic guest="win" device="vif/0" ipv4="192.0.2.10/24" dns="192.0.2.53" mtu="1400"/>${INSTALL}<sleep duration="1s"/>`,
  'feature-suspend-lost': (on) => `${INSTALL.split('\n').slice(0, 2).join('\n')}${on ? fault('feature-suspend-lost') : ''}<suspend-resume guest="win"/><sleep duration="15s"/>`,
};

const CHECK_PARAMS: Partial<Record<FaultName, string>> = {
  'slow-backend': '<check name="workload"><param name="maxP99Ms" value="50"/></check>',
};

/** Guest memory attributes where the default (2G, target = static maximum) would not show the fault. */
const GUEST_MEMORY: Partial<Record<FaultName, string>> = {
  'balloon-initial-target-ignored': 'memory="4G" memory-target="2G"',
};

/** Guest timings where the default backend reaction would not show the fault. */
const GUEST_TIMINGS: Partial<Record<FaultName, string>> = {
  'close-no-wait': '<timings backend-reaction="234ms"/>',
};

/** Scenarios that need xeniface bound. */
const WITH_XENIFACE = new Set<FaultName>(['xeniface-no-length-check', 'agent-resume-lost']);

/** Scenarios whose guest runs the XenServer guest agent. */
const GUEST_AGENT = new Set<FaultName>(['agent-resume-lost']);

/** Backend keys of the disk where the default backend would not show the fault. */
const VBD_BACKEND: Partial<Record<FaultName, string>> = {
  'dump-flush-unadvertised': '<backend key="feature-flush-cache" value="0"/><backend key="feature-barrier" value="0"/>',
};

/** Attributes of the disk where the default backend would not show the fault. */
const VBD_ATTRS: Partial<Record<FaultName, string>> = {
  'flush-unadvertised': ' backend-type="vbd3"',
};

/** Scenarios about the disk only leave the NIC out (so only the keys under test are judged). */
const DISK_ONLY = new Set<FaultName>(['feature-suspend-lost']);

export function scenarioXml(name: FaultName, on: boolean): string {
  const check = CHECK_PARAMS[name] ?? `<check name="${FAULTS[name].caughtBy}"/>`;
  const diskOnly = DISK_ONLY.has(name);
  return `<?xml version="1.0" encoding="UTF-8"?>
<scenario name="f-${name}-${on ? 'on' : 'off'}" timeout="5m">
  <title>${name} ${on ? 'injected' : 'baseline'}</title>
  <tags>faults</tags>
  <drivers>xenbus xenvbd${diskOnly ? '' : ' xenvif xennet'}${WITH_XENIFACE.has(name) ? ' xeniface' : ''}</drivers>
  <needs>fault-injection</needs>
  <guest name="win" os="windows" vcpus="2" ${GUEST_MEMORY[name] ?? 'memory="2G"'}${GUEST_AGENT.has(name) ? ' agent="true"' : ''}>${GUEST_TIMINGS[name] ?? ''}
    <vbd vdev="xvda" size="1G"${VBD_ATTRS[name] ?? ''}>${VBD_BACKEND[name] ?? ''}</vbd>${diskOnly ? '' : '\n    <vif devid="0"/>'}
  </guest>
  <steps>
    ${STEPS[name](on)}
  </steps>
  <checks>${check}</checks>
</scenario>
`;
}

async function runAll(): Promise<Map<string, InstanceResult>> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-faults-'));
  try {
    for (const name of Object.keys(FAULTS) as FaultName[]) {
      for (const on of [true, false]) writeFileSync(join(dir, `f-${name}-${on ? 'on' : 'off'}.xml`), scenarioXml(name, on));
    }
    const scenarios = loadScenarios([dir], dir);
    const host = new SimHost({ specs });
    // planned with the host's own fault list: a fault the simulator stopped supporting would be skipped and fail below
    const p = plan(scenarios, { seed: 5, capabilities: host.capabilities, faults: host.faults.supported, hostKind: host.kind });
    const { outcome: out } = await runPlanned({ host, plan: p, specs });
    return new Map(out.summary.instances.map((r) => [r.scenario, r]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!process.env.WINPV_DUMP_SCENARIOS) t.test('each fault is caught by its check, and only with the fault', async (t) => {
  const results = await runAll();
  for (const name of Object.keys(FAULTS) as FaultName[]) {
    const check = FAULTS[name].caughtBy;
    const verdict = (on: boolean) => results.get(`f-${name}-${on ? 'on' : 'off'}`)?.checks.find((c) => c.check === check);
    const on = verdict(true);
    const off = verdict(false);
    t.equal(on?.verdict, 'fail', `${name}: ${check} fails with the fault (${on?.message})`);
    t.equal(off?.verdict, 'pass', `${name}: ${check} passes without it (${off?.message})`);
  }
});
