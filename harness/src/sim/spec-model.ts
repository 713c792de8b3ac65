// Reading a DriverSpec the way the simulated frontends need it: the state path to take for each
// procedure, which frontend keys the driver writes (name patterns with <q>/{N} placeholders), and
// the ring parameters. Nothing here hard-codes a driver: change the spec and the frontend changes.
import type { DriverSpec, KeySpec, RingSpec } from '../model/spec';
import type { RegistrySetting } from '../model/scenario';
import { XenbusState } from '../model/xenbus';
import { WinpvError } from '../model/errors';
import { conditionHolds, keyNamePattern, type KeyReader } from '../model/spec-eval';

/** Shortest state path from `from` to `to` over the spec's frontend transitions of `phase` (any phase as fallback).
 *  With `backendState`, the first hop must be one the spec allows while the backend is in that state
 *  (a frontend whose backend is already Closing goes straight to Closed, as xenvbd's FrontendClose does). */
export function statePath(spec: DriverSpec, from: number, to: number, phase: string, backendState?: number): number[] {
  const all = spec.device?.frontendTransitions ?? [];
  const byPhase = all.filter((t) => t.phase === phase);
  const firstHopAllowed = (t: { from: number; peerStates?: number[] }) =>
    backendState === undefined || t.from !== from || !t.peerStates?.length || t.peerStates.includes(backendState);
  for (const set of [byPhase, all]) {
    const prev = new Map<number, number>([[from, -1]]);
    const queue = [from];
    while (queue.length) {
      const s = queue.shift()!;
      if (s === to) break;
      for (const t of set) if (t.from === s && !prev.has(t.to) && firstHopAllowed(t)) {
        prev.set(t.to, s);
        queue.push(t.to);
      }
    }
    if (prev.has(to)) {
      const path: number[] = [];
      for (let s = to; s !== from; s = prev.get(s)!) path.unshift(s);
      return path;
    }
  }
  throw new WinpvError('input', 'SPEC_NO_PATH', `${spec.name}: the spec allows no frontend path from state ${from} to ${to} (${phase})`, { location: spec.source });
}

/** Ring parameters with the defaults the blkif/netif protocols imply when the spec leaves them out. */
export function ringOf(spec: DriverSpec): RingSpec {
  if (!spec.ring) throw new WinpvError('input', 'SPEC_NO_RING', `${spec.name}: the spec describes no ring`, { location: spec.source });
  return spec.ring;
}

/** Backend state the frontend waits for before leaving Initialising (InitWait unless the spec says otherwise). */
export const waitsFor = (spec: DriverSpec): number => spec.device?.waitsForBackendState ?? XenbusState.InitWait;

/** A driver's REG_DWORD parameter as the driver reads it at boot: the administrator's value when the
 *  guest's registry (scenario `<registry>`) or a device override sets one, else what the spec says the
 *  INF's AddReg installs, else undefined (not installed: the driver then uses its built-in default). */
export function registryDword(spec: DriverSpec, value: string, override?: number | readonly RegistrySetting[]): number | undefined {
  if (typeof override === 'number') return override;
  const set = override?.find((r) => r.driver === spec.name && r.value === value);
  if (set) return set.data;
  const p = spec.registry.find((r) => r.value === value && r.type === 'REG_DWORD');
  return p?.default !== undefined && /^(0x[0-9a-f]+|\d+)$/i.test(p.default) ? Number(p.default) : undefined;
}

/** The frontend keys a driver writes in its connect transaction (spec keys with written-in), in the
 *  spec's document order, which is the real driver's order; consecutive per-queue keys form one run
 *  written queue by queue (xenvbd ring.c BlkifRingStoreWrite: event-channel then ring-ref, per queue). */
function connectRuns(spec: DriverSpec): KeySpec[][] {
  const runs: KeySpec[][] = [];
  for (const k of spec.device?.keys ?? []) {
    if (k.side !== 'frontend' || k.read || k.writtenIn === undefined) continue;
    const last = runs[runs.length - 1];
    if (k.perQueue && last?.[0].perQueue) last.push(k);
    else runs.push([k]);
  }
  return runs;
}

/**
 * What a frontend following `spec` writes in its connect transaction, in order: the spec decides
 * which keys and in what order; a key the spec fixes (`value`) gets that value when its `when`
 * holds (0 when its `unless-registry` toggle is set); every other key takes the value the device
 * model computed (`computed`: ring refs, ports, queue count, order, target id, by concrete path,
 * `queue-<q>/` prefixed when there are several queues). Computed keys the spec does not list are
 * dropped: the spec is the one list of what the driver writes.
 */
export function connectWrites(
  spec: DriverSpec,
  computed: Record<string, string>,
  readBackend: (name: string) => string | undefined,
  registry?: readonly RegistrySetting[],
): [string, string][] {
  const keys = spec.device?.keys ?? [];
  const queueKey = keys.find((k) => k.side === 'frontend' && k.role === 'queue-count');
  const nq = Math.max(1, Number((queueKey && computed[queueKey.name]) ?? 1) || 1);
  const prefixes = nq > 1 ? Array.from({ length: nq }, (_, q) => `queue-${q}/`) : [''];
  const read: KeyReader = (ref) => (ref.side === 'backend' ? readBackend(ref.name) : computed[ref.name]);
  const out: [string, string][] = [];
  const emit = (k: KeySpec, prefix: string) => {
    if (k.value !== undefined) {
      if (!conditionHolds(k.conditions, keys, read)) return;
      const off = k.unlessRegistry !== undefined && (registryDword(spec, k.unlessRegistry, registry) ?? 0) !== 0;
      out.push([prefix + k.name, off ? '0' : k.value]);
      return;
    }
    const re = keyNamePattern({ name: k.name });
    const page = (p: string) => Number(/(\d+)$/.exec(p)?.[1] ?? 0);
    const paths = Object.keys(computed)
      .filter((p) => p.startsWith(prefix) && re.test(p.slice(prefix.length)) && !(prefix === '' && p.startsWith('queue-')))
      .sort((a, b) => page(a) - page(b));
    for (const p of paths) out.push([p, computed[p]]);
  };
  for (const run of connectRuns(spec)) {
    for (const prefix of run[0].perQueue ? prefixes : ['']) for (const k of run) emit(k, prefix);
  }
  return out;
}

/** The backend keys the spec's connect-transaction keys are conditioned on (read before composing). */
export function connectConditionKeys(spec: DriverSpec): string[] {
  const names = new Set<string>();
  for (const run of connectRuns(spec)) for (const k of run) for (const c of k.conditions ?? []) if (c.ref.side === 'backend') names.add(c.ref.name);
  return [...names];
}

/** The guest keys a driver writes under `dir` (a spec name such as `data/scsi/target/<N>/`,
 *  placeholders filled from `fill`), in the spec's order: the spec's fixed value, else `computed`'s
 *  value for the key's last component; keys with neither are not written. Paths are relative to the
 *  guest's home. */
export function guestKeyWrites(spec: DriverSpec, dir: string, fill: Record<string, string>, computed: Record<string, string>): [string, string][] {
  const subst = (name: string) => name.replace(/<([A-Za-z]+)>/g, (m, p: string) => fill[p] ?? m);
  const out: [string, string][] = [];
  for (const k of spec.guestKeys) {
    if (!k.name.startsWith(dir)) continue;
    const value = k.value ?? computed[k.name.slice(dir.length)];
    if (value !== undefined) out.push([subst(k.name), value]);
  }
  return out;
}
