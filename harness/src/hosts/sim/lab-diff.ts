// The simulator recorded the way the lab records real backends (test/fixtures/lab/capture-backend-keys.ts):
// a guest with one vbd and one vif, every change of both ends of both devices seen through a watch on
// /local/domain from creation to Connected and through a clean shutdown and destroy, turned into state
// steps and compared key by key with a recording of Linux's blkback/netback (`winpv sim diff-lab`, the
// fidelity test hosts/xl/sim-fidelity.test.ts).
import type { SpecSet } from '../../model/spec';
import type { TraceEventInput } from '../../model/trace';
import type { DiskBackendType } from '../../model/scenario';
import { backendKeyWriter, diffStateSteps, normalizeValue, stateSteps, stepDiffText, type KeyEvent, type StateStep, type StepDiff } from '../xl/backend-keys';
import { tapbackKeyEvents } from './tapback';
import { SimHost } from './sim-host';

/** A recording of real backends as capture-backend-keys.ts writes it. */
export interface BackendRecording {
  captured: { xen: string; kernel: string; [k: string]: unknown };
  devices: Record<'vbd' | 'vif', { steps: StateStep[] }>;
}

/** The simulator's key events of vbd/51712 and vif/0 of a Windows guest from creation to Connected and
 *  through a clean shutdown and destroy. */
export async function simBackendEvents(specs: SpecSet, seed = 5, opts: { diskBackend?: DiskBackendType } = {}): Promise<Record<'vbd' | 'vif', KeyEvent[]>> {
  const host = new SimHost({ specs, ...(opts.diskBackend ? { diskBackend: opts.diskBackend } : {}) });
  await host.open({ emit: (_e: TraceEventInput) => undefined }, { seed });
  // Each domain's devices by domid (their directories are written while the domain is built).
  const byDomain = new Map<number, Record<'vbd' | 'vif', KeyEvent[]>>();
  const note = (path: string, value: string | null) => {
    for (const [k, id] of [['vbd', 51712], ['vif', 0]] as const) {
      const m = new RegExp(`^/local/domain/(?:0/backend/${k === 'vbd' ? 'vbd3?' : k}/([1-9]\\d*)|([1-9]\\d*)/device/${k})/${id}/(.+)$`).exec(path);
      if (!m) continue;
      const domid = Number(m[1] ?? m[2]);
      if (!byDomain.has(domid)) byDomain.set(domid, { vbd: [], vif: [] });
      byDomain.get(domid)![k].push({ end: path.includes('/backend/') ? 'backend' : 'frontend', key: m[3]!, value });
    }
  };
  let booted = 0;
  try {
    // Seen the way the lab's recording sees real backends: through a watch on /local/domain with values.
    const unwatch = await host.xenstore.watch('/local/domain', (p, v) => {
      if (v !== undefined) note(p, v);
    });
    const shape = { name: 'g1', os: 'windows' as const, vcpus: 2, memoryMiB: 2048, vbds: [{ vdev: 'xvda', sizeMiB: 64, mode: 'w' as const, backend: {} }], vifs: [{ devid: 0, backend: {} }] };
    const g = await host.createGuest(shape, 'diff-lab');
    await host.startGuest(g);
    // The first boot has no PV drivers (the backends wait in InitWait); the lab's Linux guest has its
    // frontends in its kernel from the first boot, in its one domain. The reboot with the drivers builds
    // the guest a new domain (as xl does): that domain, from its build to its destroy, is the one compared.
    await host.agent(g).installDrivers({ location: 'builtin:9.1.0.100', version: '9.1.0.100', drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'] });
    await host.rebootGuest(g);
    booted = g.domid;
    await host.clock.sleep(500);
    await host.shutdownGuest(g, 'clean');
    await host.clock.sleep(500);
    await host.destroyGuest(g);
    await host.clock.sleep(100);
    await unwatch();
  } finally {
    await host.close();
  }
  return byDomain.get(booted) ?? { vbd: [], vif: [] };
}

/** The simulator's state steps per device (stateSteps of simBackendEvents). */
export async function simBackendSteps(specs: SpecSet): Promise<Record<'vbd' | 'vif', StateStep[]>> {
  const ev = await simBackendEvents(specs);
  return { vbd: stateSteps(ev.vbd), vif: stateSteps(ev.vif) };
}

/** Every difference of the simulator's steps from a recording, device by device. */
export function diffLab(rec: BackendRecording, sim: Record<'vbd' | 'vif', StateStep[]>): { device: 'vbd' | 'vif'; diffs: StepDiff[] }[] {
  return (['vbd', 'vif'] as const).map((device) => ({ device, diffs: diffStateSteps(device, rec.devices[device].steps, sim[device]) }));
}

/** Differences of the simulator's state steps from Linux's, with their reason (ARCHITECTURE.md,
 *  "Fidelity: real backends vs the simulator", has the same list). Keyed by stepDiffText without the
 *  values where values depend on the machine (`multi-queue-max-queues`: dom0's vCPUs). */
export const STEP_DIFFERENCES: Record<string, string> = stepDifferences();

function stepDifferences(): Record<string, string> {
  const out: Record<string, string> = {};
  // The lab's watcher (a Perl process in dom0) reads each value after its watch event. libxl writes the
  // backend's state 1 in the transaction that creates the device (libxl_device.c
  // libxl__device_generic_add); the backend's probe writes its feature keys and then InitWait within
  // milliseconds (xen-blkback/xenbus.c xen_blkbk_probe, xen-netback/xenbus.c netback_probe), so the
  // read after the toolstack's state event already answers 2: the recording has no 1, and puts the
  // InitWait step before the probe's keys. The simulator's watch carries the values as written.
  const readLate = 'the lab\'s watcher reads each value after its event: libxl writes backend state 1 when it creates the device, the probe writes its keys and 2 (InitWait) milliseconds later, so the recording sees 2 in place of 1';
  out['vbd backend: state sequence real 2 4 5 6 / sim 1 2 4 5 6'] = readLate;
  out['vif backend: state sequence real 2 4 5 6 / sim 1 2 4 5 6'] = readLate;
  const probeKeys = {
    vbd: ['feature-max-indirect-segments', 'max-ring-page-order', 'multi-queue-max-queues'],
    vif: ['feature-sg', 'feature-gso-tcpv4', 'feature-gso-tcpv6', 'feature-ipv6-csum-offload', 'feature-rx-copy', 'feature-rx-flip', 'feature-multicast-control',
      'feature-dynamic-multicast-control', 'feature-split-event-channels', 'multi-queue-max-queues', 'feature-ctrl-ring'],
  };
  for (const [kind, keys] of Object.entries(probeKeys)) {
    for (const key of keys) out[`${kind} backend at backend 2: ${key} extra`] = `written by the probe before InitWait; ${readLate} (so before this key)`;
  }
  for (const kind of ['vbd', 'vif']) {
    // at 2 too, when the recording saw the 1 (the read ran before the probe's keys and InitWait)
    for (const state of ['2', '4', '5', '6']) {
      // xen-blkback/blkback.c xen_blkif_init and xen-netback/netback.c netback_init: the default is num_online_cpus()
      out[`${kind} backend at backend ${state}: multi-queue-max-queues value`] = 'Linux advertises as many queues as dom0 has vCPUs (2 in the lab); the simulator models a 4-vCPU dom0';
      if (kind === 'vif') out[`vif backend at backend ${state}: feature-xdp-headroom missing`] = 'Linux 5.9+ netback advertises XDP headroom (netback_probe); no Windows frontend reads it; the simulator does not write it';
    }
  }
  return out;
}

/** The reason for a difference, when it is a known one: by its whole line (a state sequence), else by
 *  device end, state and key. */
export function explainStepDiff(d: StepDiff): string | undefined {
  const whole = d.what === 'sequence' ? STEP_DIFFERENCES[stepDiffText(d)] : undefined;
  return whole ?? STEP_DIFFERENCES[`${d.where} at ${d.at}: ${d.key ?? ''} ${d.what}`];
}

/** The backend driver's own writes in order (`key=value`, values normalized), up to its first Closed:
 *  what a step comparison cannot see (which keys come before hotplug-status, and their grouping
 *  around the states), for holding the simulated tapback to tapbackKeyEvents. */
export function driverWrites(events: readonly KeyEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.end !== 'backend' || e.value === null) continue;
    if (e.key === 'hotplug-status' || backendKeyWriter('vbd', e.key) === 'driver') out.push(`${e.key}=${normalizeValue(e.key, e.value)}`);
    if (e.key === 'state' && e.value === '6') break;
  }
  return out;
}

/** The simulated vbd3 disk (SimHost with diskBackend vbd3, its one guest booted with drivers and shut
 *  down as simBackendEvents does) against tapback's source model: the state steps key by key, and the
 *  order of tapback's writes (the first difference in order, as a 'sequence' StepDiff). */
export function diffTapback(simEvents: readonly KeyEvent[], model: readonly KeyEvent[] = tapbackKeyEvents({ sectors: 131072 })): StepDiff[] {
  const diffs = diffStateSteps('vbd', stateSteps(model), stateSteps(simEvents)).filter((d) => !(d.what === 'sequence' && d.where === 'vbd frontend'));
  const real = driverWrites(model);
  const sim = driverWrites(simEvents);
  const at = real.findIndex((w, i) => sim[i] !== w);
  if (at >= 0 || sim.length !== real.length) {
    const i = at >= 0 ? at : real.length;
    diffs.push({ where: 'vbd3 backend', at: `write ${i + 1}`, what: 'sequence', real: real.slice(i, i + 3).join(' '), sim: sim.slice(i, i + 3).join(' ') });
  }
  return diffs;
}
