// Shared helpers for SimHost tests: the repository's driver specs, a guest shape, an in-memory sink.
import { loadSpecs } from '../../src/spec/load';
import type { GuestShape, BlockWorkloadStep, NetWorkloadStep } from '../../src/model/scenario';
import type { TraceEvent, TraceEventInput, TraceSink } from '../../src/model/trace';
import { SimHost } from '../../src/hosts/sim';

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

/** Opens a host, creates, starts a guest with the builtin drivers installed and rebooted. */
export async function bootedHost(seed = 1, s: GuestShape = shape()) {
  const host = new SimHost({ specs });
  const sink = new MemorySink(() => host.clock.now());
  await host.open(sink, { seed });
  const g = await host.createGuest(s, 'inst1');
  await host.startGuest(g);
  await host.agent(g).installDrivers({ location: 'builtin:9.1.0.100', version: '9.1.0.100', drivers: ['xenbus', 'xenvbd', 'xenvif', 'xennet'] });
  await host.rebootGuest(g);
  await host.clock.sleep(200);
  return { host, sink, g };
}
