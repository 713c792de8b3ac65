// Shared helpers for SimHost tests: the repository's driver specs, a guest shape, an in-memory sink.
import { loadSpecs } from '../../src/spec/load';
import type { GuestShape, BlockWorkloadStep, NetWorkloadStep } from '../../src/model/scenario';
import type { TraceEvent, TraceEventInput, TraceSink } from '../../src/model/trace';
import type { Test } from 'tap';
import { SimHost } from '../../src/hosts/sim';
import { SimState, type SimHostOptions } from '../../src/hosts/sim/host-state';
import { SimLifecycle } from '../../src/hosts/sim/lifecycle';
import type { SimGuest } from '../../src/hosts/sim/sim-guest';
import type { GuestRef } from '../../src/model/host';
import type { DriverName } from '../../src/model/spec';
import { builtinPackages } from '../../src/sim/windows/packages';

export const specs = loadSpecs();

export class MemorySink implements TraceSink {
  events: TraceEvent[] = [];
  constructor(private readonly now: () => number) {}
  emit(e: TraceEventInput): void {
    this.events.push({ ...e, seq: this.events.length, t: this.now() } as TraceEvent);
  }
  of<K extends TraceEvent['ev']>(ev: K): Extract<TraceEvent, { ev: K }>[] {
    return this.events.filter((e) => e.ev === ev) as Extract<TraceEvent, { ev: K }>[];
  }
}

export const loc = { file: 'test' };

export function shape(over: Partial<GuestShape> = {}): GuestShape {
  return {
    name: 'win1', os: 'windows', vcpus: 2, memoryMiB: 2048,
    vbds: [{ vdev: 'xvda', sizeMiB: 64, mode: 'w', ringPageOrder: 2, backend: {} }],
    vifs: [{ devid: 0, backend: {} }],
    ...over,
  };
}

export function block(over: Partial<BlockWorkloadStep> = {}): BlockWorkloadStep {
  return { kind: 'block', source: loc, guest: 'win1', device: 'vbd/51712', blockSize: 4096, queueDepth: 8, threads: 2, writePercent: 30, pattern: 'random', durationMs: 5000, verify: false, ...over };
}

export function netw(over: Partial<NetWorkloadStep> = {}): NetWorkloadStep {
  return { kind: 'net', source: loc, guest: 'win1', device: 'vif/0', threads: 1, direction: 'send', durationMs: 2000, ...over };
}

export interface StoreView {
  read(path: string): Promise<string | null>;
  directory(path: string): Promise<string[]>;
  sleep(ms: number): Promise<void>;
}

/** Whether both ends of every device of domain `domid` are Connected, polled in virtual time for up
 *  to `limitMs` (the backends take sim/timings.ts's backend reaction to follow their frontends). */
export async function connectedWithin(v: StoreView, domid: number, limitMs: number): Promise<boolean> {
  const home = `/local/domain/${domid}/device`;
  const connected = async () => {
    for (const type of ['vbd', 'vif']) {
      const ids = await v.directory(`${home}/${type}`).catch(() => [] as string[]);
      for (const id of ids) {
        const fe = `${home}/${type}/${id}`;
        const be = await v.read(`${fe}/backend`);
        if ((await v.read(`${fe}/state`)) !== '4' || !be || (await v.read(`${be}/state`)) !== '4') return false;
      }
    }
    return true;
  };
  for (let waited = 0; waited < limitMs; waited += 50) {
    if (await connected()) return true;
    await v.sleep(50);
  }
  return connected();
}

/** untilConnected on a SimHost: both ends of every device of the guest Connected (bounded). */
export function untilConnected(host: SimHost, g: GuestRef, limitMs = 30_000): Promise<boolean> {
  return connectedWithin({ read: (p) => host.xenstore.read(p), directory: (p) => host.xenstore.directory(p), sleep: (ms) => host.clock.sleep(ms) }, g.domid, limitMs);
}

/** Opens a host, creates, starts a guest with the builtin drivers installed and rebooted. */
export async function bootedHost(seed = 1, s: GuestShape = shape()) {
  const host = new SimHost({ specs });
  const sink = new MemorySink(() => host.clock.now());
  await host.open(sink, { seed });
  const g = await host.createGuest(s, 'inst1');
  await host.startGuest(g);
  await host.agent(g).installDrivers({ location: 'builtin:9.1.0.100', version: '9.1.0.100', drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'] });
  await host.rebootGuest(g);
  await untilConnected(host, g);
  await host.clock.sleep(200);
  return { host, sink, g };
}

/** The smallest setup of one part of hosts/sim: the shared state open (no SimHost) and the lifecycle
 *  over it (`pending`: the guests it asked to have the host-wide faults applied); closed when `t` ends. */
export async function openSimState(t: Test, o: { seed?: number; builds?: SimHostOptions['builds']; artifactsDir?: string } = {}) {
  const st = new SimState({ specs, ...(o.builds ? { builds: o.builds } : {}) });
  const sink = new MemorySink(() => st.hvIfOpen?.sched.now() ?? 0);
  await st.open(sink, { seed: o.seed ?? 1, ...(o.artifactsDir ? { artifactsDir: o.artifactsDir } : {}) });
  const pending: SimGuest[] = [];
  const life = new SimLifecycle(st, (g) => pending.push(g));
  t.teardown(async () => {
    await life.destroyAll();
    st.hv.sched.stop();
    st.hv.releaseDisks();
  });
  return { st, sink, life, pending };
}

/** A guest created and started, the builtin drivers put in place and rebooted into, so its frontends
 *  connect (as an install and the reboot it asks for would); `settleMs` of virtual time after. */
export async function runningWithDrivers(o: { st: SimState; life: SimLifecycle }, s: GuestShape = shape(), drivers: DriverName[] = ['xenbus', 'xenvbd', 'xenvif', 'xennet'], settleMs = 200): Promise<GuestRef> {
  const ref = await o.life.createGuest(s, 'inst1');
  await o.life.startGuest(ref);
  o.st.guest(ref).win.install(builtinPackages(specs, drivers, '9.1.0.100'));
  await o.life.rebootGuest(ref);
  const xs = o.st.dom0.xs;
  await connectedWithin({ read: (p) => xs.read(p), directory: (p) => xs.directory(p), sleep: (ms) => o.st.hv.sched.sleep(ms) }, ref.domid, 30_000);
  await o.st.hv.sched.sleep(settleMs);
  return ref;
}
