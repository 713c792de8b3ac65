// The simulator's modelled durations and where they come from: `winpv sim lab-timings` measures them in
// a real host's trace, the committed output for the lab (fixtures/lab/timings.xen-*.linux-*.json) is
// named with its Xen and kernel versions, and sim/timings.ts's defaults are the lab's figures or say
// why not. A scenario's <timings> changes what the simulated guest does, in virtual time.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labTimings, type LabTimings } from '../../src/hosts/sim/lab-timings';
import { DEFAULT_TIMINGS, LAB_FIGURES_MS } from '../../src/sim/timings';
import { timingsName } from '../../src/hosts/xl/backend-keys';
import type { TraceEvent } from '../../src/model/trace';
import { SimHost } from '../../src/hosts/sim';
import { specs } from './sim-fixture';
import { loadScenarios } from '../../src/scenario';
import { runPlanned } from '../support/run-plan';

let seq = 0;
const xs = (t: number, path: string, value: string | null): TraceEvent => ({ seq: seq++, t, ev: 'xs', inst: 'i', path, value } as TraceEvent);
const guest = (t: number, what: string, domid = 1): TraceEvent => ({ seq: seq++, t, ev: 'guest', inst: 'i', guest: 'g', domid, what } as TraceEvent);
const step = (t: number, label: string): TraceEvent => ({ seq: seq++, t, ev: 'step.start', inst: 'i', step: '1', kind: 'hotplug', label } as TraceEvent);

t.test('lab-timings measures boot, backend reaction, hot-unplug and save/restore in a trace', async (t) => {
  const fe = '/local/domain/1/device/vbd/51712';
  const be = '/local/domain/0/backend/vbd/1/51712';
  const events = [
    guest(1000, 'started'),
    xs(1100, `${fe}/state`, '1'), // the toolstack's Initialising: not the guest's
    xs(3000, `${fe}/state`, '3'),
    xs(3250, `${be}/state`, '4'),
    xs(3300, `${fe}/state`, '4'),
    xs(3400, `${be}/state`, '4'), // the same state again is still the backend's next write
    step(5000, 'unplug vbd/51712'),
    xs(5100, `${be}/state`, '5'),
    xs(5200, fe, null),
    xs(5700, be, null),
    guest(6000, 'saved'),
    guest(9000, 'restored', 2),
  ];
  const m = labTimings(events);
  t.same(m.bootToFrontend.samplesMs, [2000], 'started -> the first state the drivers write');
  t.same(m.backendReaction.samplesMs, [100, 250], 'each frontend state -> the backend\'s next');
  t.same(m.hotUnplug.samplesMs, [700], 'unplug -> both directories gone');
  t.same(m.saveRestoreDowntime.samplesMs, [3000]);
  t.equal(m.migrationDowntime.n, 0);
  t.equal(m.xenstoreLatency.medianMs, null, 'not measurable from a trace');
});

t.test('lab-timings measures a migration\'s downtime: the suspend request to the old domain -> every new backend Connected', async (t) => {
  const migrated = (tm: number, from: number, domid: number): TraceEvent => ({ seq: seq++, t: tm, ev: 'guest', inst: 'i', guest: 'g', domid, what: 'migrated', detail: { from, domid } } as TraceEvent);
  const events = [
    xs(900, '/local/domain/1/control/shutdown', 'suspend'), // before the migration began: not its request
    guest(1000, 'suspending'),
    xs(1100, '/local/domain/0/backend/vbd/2/51712/state', '2'), // the receiver builds the new domain while the memory is copied
    xs(1150, '/local/domain/0/backend/vif/2/0/state', '2'),
    xs(4000, '/local/domain/1/control/shutdown', 'suspend'),
    xs(4010, '/local/domain/1/control/shutdown', ''),
    xs(5000, '/local/domain/0/backend/vbd/2/51712/state', '4'),
    migrated(5100, 1, 2),
    xs(5500, '/local/domain/0/backend/vif/2/0/state', '4'),
  ];
  const m = labTimings(events);
  t.same(m.migrationDowntime.samplesMs, [1500], 'from libxl\'s suspend request to the last backend Connected');
  const noVif = labTimings(events.slice(0, -1));
  t.equal(noVif.migrationDowntime.n, 0, 'a backend never Connected: no sample');
});

const labDir = join(__dirname, '..', 'fixtures', 'lab');

t.test('the committed lab timings are named with their Xen and kernel, and the defaults come from them', async (t) => {
  const files = readdirSync(labDir).filter((f) => /^timings\..*\.json$/.test(f));
  t.ok(files.length >= 1, 'a lab timings fixture is committed');
  for (const f of files) {
    const fx = JSON.parse(readFileSync(join(labDir, f), 'utf8')) as LabTimings & { source: { xen: string; kernel: string; trace: string } };
    t.equal(f, timingsName(fx.source.xen, fx.source.kernel), `${f} is named with the Xen and kernel it came from`);
    t.match(fx.source.trace, /^[^/]+\/trace\.jsonl$/, 'the run whose trace it is');
    t.equal(fx.backendReaction.medianMs, LAB_FIGURES_MS.backendReaction);
    t.equal(fx.bootToFrontend.medianMs, LAB_FIGURES_MS.bootToFrontend);
    t.equal(fx.hotUnplug.medianMs, LAB_FIGURES_MS.hotUnplug);
    t.equal(fx.saveRestoreDowntime.medianMs, LAB_FIGURES_MS.saveRestoreDowntime);
  }
  // each default is the lab's figure or below it (sim/timings.ts says why): never slower than the lab
  t.ok(DEFAULT_TIMINGS.backendReactionMs <= LAB_FIGURES_MS.backendReaction, 'backend reaction: at most the lab\'s median');
  t.ok(DEFAULT_TIMINGS.bootToFrontendMs <= LAB_FIGURES_MS.bootToFrontend, 'boot: at most the lab\'s median');
  t.ok(DEFAULT_TIMINGS.restoreDowntimeMs <= LAB_FIGURES_MS.saveRestoreDowntime, 'restore: at most the lab\'s median');
});

t.test('a guest\'s timings change what the simulated host does, in virtual time', async (t) => {
  const connectAt = async (timings?: { backendReactionMs?: number; bootToFrontendMs?: number }): Promise<number> => {
    const host = new SimHost({ specs });
    await host.open({ emit: () => undefined }, { seed: 3 });
    try {
      const g = await host.createGuest({ name: 'g', os: 'windows', vcpus: 2, memoryMiB: 2048, vbds: [{ vdev: 'xvda', sizeMiB: 64, mode: 'w', backend: {} }], vifs: [], ...(timings ? { timings } : {}) }, 'tim');
      await host.startGuest(g);
      await host.agent(g).installDrivers({ location: 'builtin:9.1.0.100', version: '9.1.0.100', drivers: ['xenbus', 'xenvbd'] });
      const t0 = host.clock.now();
      await host.rebootGuest(g);
      for (let i = 0; i < 600 && (await host.xenstore.read(`/local/domain/${g.domid}/device/vbd/51712/state`)) !== '4'; i++) await host.clock.sleep(50);
      return host.clock.now() - t0;
    } finally {
      await host.close();
    }
  };
  const dflt = await connectAt();
  const slow = await connectAt({ backendReactionMs: 2000, bootToFrontendMs: 5000 });
  t.ok(slow >= dflt + 5000, `a 5 s boot and 2 s reactions: Connected after ${slow} ms, against ${dflt} ms by default`);
});

/** A run on the simulated host whose guest boots in `bootMs`: the install's reboot, a <reboot> step and
 *  the restart after a <bugcheck>, each waited out until the disk is Connected again. */
async function rebootsTrace(bootMs: number): Promise<TraceEvent[]> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-boot-'));
  try {
    const connected = '<wait guest="win" path="device/vbd/51712/state" equals="4" timeout="60s"/><wait guest="win" path="device/vif/0/state" equals="4" timeout="60s"/>';
    writeFileSync(join(dir, 'boots.xml'), `<?xml version="1.0" encoding="UTF-8"?>
<scenario name="boots" timeout="5m">
  <title>every boot takes the guest's boot-to-frontend</title>
  <tags>timings</tags>
  <drivers>xenbus xenvbd xenvif xennet</drivers>
  <needs>guest-bugcheck</needs>
  <guest name="win" os="windows" vcpus="2" memory="2G"><timings boot-to-frontend="${bootMs}ms"/>
    <vbd vdev="xvda" size="1G"/>
    <vif devid="0"/>
  </guest>
  <steps>
    <install-drivers guest="win" bundle="builtin:9.1.0.0" reboot="true"/>${connected}
    <reboot guest="win"/>${connected}
    <bugcheck guest="win"/>${connected}
  </steps>
</scenario>
`);
    const { outcome, trace } = await runPlanned({ host: new SimHost({ specs }), plan: loadScenarios([dir], dir) });
    if (outcome.summary.instances[0]?.verdict !== 'pass') throw new Error(`the run did not pass: ${JSON.stringify(outcome.summary.instances[0])}`);
    return trace.events;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** From each `rebooted` to the first frontend state written after it (the drivers' first write:
 *  the toolstack's writes of a rebuilt device come before the event). */
function rebootToFrontend(events: readonly TraceEvent[]): number[] {
  const fe = /^\/local\/domain\/\d+\/device\/(vbd|vif)\/\d+\/state$/;
  return events.filter((e) => e.ev === 'guest' && e.what === 'rebooted').map((g) => {
    const first = events.find((e) => e.ev === 'xs' && e.t >= g.t && e.seq > g.seq && e.value !== null && fe.test(e.path));
    return first ? Math.round((first.t - g.t) * 1000) / 1000 : NaN;
  });
}

t.test('every reboot waits the guest\'s boot-to-frontend, as the first boot does', async (t) => {
  for (const bootMs of [1500, 4000]) {
    const events = await rebootsTrace(bootMs);
    const waits = rebootToFrontend(events);
    t.equal(waits.length, 3, 'the install\'s reboot, the <reboot> step, the restart after the bug check');
    // the boot timing and the xenstore round trips of the driver's first write (< 5 ms)
    for (const ms of waits) t.ok(ms >= bootMs && ms < bootMs + 5, `${bootMs} ms boot: rebooted -> first frontend state in ${ms} ms`);
    // measured as the lab measures it (the first state other than Initialising), every reboot too: the
    // simulator builds a rebooted guest a new domain with fresh device directories, as xl and xapi do, so
    // its frontends start from the toolstack's Initialising. (When it kept the directories, the <reboot>
    // step took one backend reaction more: the frontends walked back from Closed and waited for InitWait.)
    const lab = labTimings(events.filter((e) => !(e.ev === 'guest' && e.what === 'started'))).bootToFrontend.samplesMs;
    t.equal(lab.length, 3);
    t.equal(lab.filter((ms) => ms >= bootMs && ms < bootMs + 5).length, 3, `${bootMs} ms boot, lab measure: ${lab.join(', ')} ms`);
  }
});
