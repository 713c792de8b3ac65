// The install step's vendor installer and Driver Verifier, end to end on the XenAPI test pool: the
// bundle ISO's MSI through msiexec, Driver Verifier enabled before the reboot and read back after
// it, judged by drivers-bound; a guest where Driver Verifier never takes effect is not ok.
import t from 'tap';
import { PassThrough } from 'node:stream';
import { startPool, leftovers } from '../../support/xapi-pool';
import { runPlan } from '../../../src/runner';
import { plan } from '../../../src/plan/planner';
import { TraceWriter } from '../../../src/trace/writer';
import { TapStreamReporter } from '../../../src/report/tap';
import { loadSpecs } from '../../../src/spec/load';
import type { Scenario } from '../../../src/model/scenario';

const src = { file: 'scenarios/installer-verifier.xml' };

const scenario: Scenario = {
  source: src, name: 'installer-verifier', title: 'vendor installer with Driver Verifier', description: '', tags: ['release'],
  drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'], needs: ['windows-guest', 'vendor-installer', 'driver-verifier'],
  guests: [{ name: 'win', os: 'windows', vcpus: 2, memoryMiB: 2048, vbds: [{ vdev: 'xvda', sizeMiB: 40960, mode: 'w', backend: {} }], vifs: [{ devid: 0, backend: {} }] }],
  steps: [
    { kind: 'install-drivers', guest: 'win', bundle: 'builtin:9.1.0', reboot: true, method: 'installer', verifier: true, source: src },
    { kind: 'wait', guest: 'win', path: 'device/vbd/51712/state', equals: '4', timeoutMs: 10_000, source: src },
  ],
  checks: [{ name: 'drivers-bound', params: {} }, { name: 'devices-connected', params: {} }],
  faults: [], matrix: [], timeoutMs: 60_000,
};

async function runOn(blockVerifier: boolean) {
  const pool = await startPool({ guests: 1, dom0: true });
  for (const d of pool.doubles) d.state.verifierBlocked = blockVerifier;
  const host = pool.host();
  const trace = new TraceWriter();
  const out = new PassThrough();
  let tap = '';
  out.on('data', (b) => (tap += b));
  await runPlan({ host, plan: plan([scenario], { seed: 3, capabilities: host.capabilities, hostKind: host.kind }), specs: loadSpecs(), specHashes: {}, trace, reporter: new TapStreamReporter(out) });
  return { pool, trace, tap };
}

t.test('installer + verifier on the pool: every check passes', async (t) => {
  const { pool, trace, tap } = await runOn(false);
  t.teardown(() => pool.close());
  t.notMatch(tap, /^\s*not ok/m, tap);
  t.match(pool.doubles[0]!.state.installerRuns, [/^D:\\winpv-drivers-x64\.msi$/], 'msiexec ran the MSI on the bundle disc');
  const drv = trace.events.find((e) => e.ev === 'drivers');
  t.same(drv?.ev === 'drivers' && drv.verified?.slice().sort(), ['xenbus.sys', 'xennet.sys', 'xenvbd.sys', 'xenvif.sys'], 'the trace records what Driver Verifier verifies');
  t.same(leftovers(pool.srv), []);
});

t.test('Driver Verifier asked for but never active: drivers-bound is not ok', async (t) => {
  const { pool, tap } = await runOn(true);
  t.teardown(() => pool.close());
  t.match(tap, /not ok \d+ - drivers-bound: win: Driver Verifier is not verifying xenbus\.sys, /);
  t.same(leftovers(pool.srv), []);
});

t.test('the simulator cannot run the vendor installer or Driver Verifier: skipped with the reason', async (t) => {
  const p = plan([scenario], { seed: 3, capabilities: new Set(['windows-guest']), hostKind: 'sim' });
  t.match(p.instances[0]!.skip ?? '', /lacks 'vendor-installer', 'driver-verifier'|lacks 'vendor-installer'/);
});
