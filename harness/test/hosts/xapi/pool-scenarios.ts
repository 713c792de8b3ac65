// Scenarios for the runs against the XAPI test pool (run.test.ts, run-guest.test.ts).
import type { Scenario, Step } from '../../../src/model/scenario';
import type { DriverName } from '../../../src/model/spec';

export const src = { file: 'scenarios/xapi-smoke.xml' };
const DRIVERS: DriverName[] = ['xenbus', 'xenvbd', 'xenvif', 'xennet'];

export function scenario(name: string, steps: Step[], extra: Partial<Scenario> = {}): Scenario {
  return {
    source: src, name, title: name, description: '', tags: ['smoke'], drivers: DRIVERS, needs: ['windows-guest'],
    guests: [{ name: 'win', os: 'windows', vcpus: 2, memoryMiB: 2048, vbds: [{ vdev: 'hda', sizeMiB: 40960, mode: 'w', backend: {} }, { vdev: 'hdb', sizeMiB: 8192, mode: 'w', backend: {} }], vifs: [{ devid: 0, backend: {} }] }],
    steps,
    checks: [
      { name: 'workload', params: { maxP99Ms: '200' } },
      ...(['xenbus-transitions', 'xenstore-keys', 'devices-connected', 'ring-invariants', 'guest-alive', 'drivers-bound', 'guest-keys'] as const).map((name) => ({ name, params: {} })),
    ], faults: [], matrix: [], timeoutMs: 60_000, ...extra,
  };
}
