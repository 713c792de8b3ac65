// Reading a DriverSpec the way the simulated frontends need it: the state path to take for each
// procedure, which frontend keys the driver writes (name patterns with <q>/{N} placeholders), and
// the ring parameters. Nothing here hard-codes a driver: change the spec and the frontend changes.
import type { DriverSpec, RingSpec } from '../model/spec';
import { XenbusState } from '../model/xenbus';
import { WinpvError } from '../model/errors';

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
 *  scenario sets one, else what the spec says the INF's AddReg installs, else undefined (not installed:
 *  the driver then uses its built-in default). */
export function registryDword(spec: DriverSpec, value: string, override?: number): number | undefined {
  if (override !== undefined) return override;
  const p = spec.registry.find((r) => r.value === value && r.type === 'REG_DWORD');
  return p?.default !== undefined && /^(0x[0-9a-f]+|\d+)$/i.test(p.default) ? Number(p.default) : undefined;
}
