// --keep-on-failure: the guests of the first failing instance stay running for a person to look at,
// and the host stays open, until `KeptGuests.release()` destroys them and closes the host. Guests an
// instance held (runInstance with holdGuests) and that are not kept are destroyed here as the
// instance's teardown would have destroyed them.
import type { HostBackend } from '../model/host';
import type { InstanceResult } from '../model/result';
import type { TraceSink } from '../model/trace';
import type { HeldGuest } from './instance';
import { errorInfo } from './errors';
import { withDeadline } from './deadline';
import { TEARDOWN_DEADLINE_MS, TeardownStack } from './teardown';

/** The guests of the first failing instance, kept running for a person to look at (--keep-on-failure). */
export interface KeptGuests {
  inst: string;
  /** Why the instance failed: its failed checks or the abort, one line each. */
  why: string[];
  guests: { name: string; domid: number; home: string }[];
  /** Destroys the kept guests and closes the host (bounded, errors logged to the trace, never thrown). */
  release: () => Promise<void>;
}

export interface HostEnd {
  host: HostBackend;
  /** Where teardown failures and a failed close are written. */
  sink: TraceSink;
  teardownMs?: number;
}

/** Destroys guests whose destruction runInstance left to the caller, each with its deadline. */
export async function destroyGuests(guests: readonly HeldGuest[], inst: string, o: HostEnd): Promise<void> {
  const teardown = new TeardownStack({ clock: o.host.clock, ms: o.teardownMs ?? TEARDOWN_DEADLINE_MS });
  for (const g of guests) teardown.defer(`destroy guest ${g.name}`, () => o.host.destroyGuest(g.ref));
  for (const f of await teardown.unwind()) {
    o.sink.emit({ ev: 'teardown.fail', inst, label: f.label, error: { code: f.error.code ?? 'TEARDOWN', message: f.error.message } });
  }
}

/** Closes the host within the teardown deadline; a failure or a hang is logged, never thrown. */
export async function closeHost(o: HostEnd): Promise<void> {
  try {
    await withDeadline(o.host.clock, o.teardownMs ?? TEARDOWN_DEADLINE_MS, undefined, 'closing the host', () => o.host.close());
  } catch (e) {
    o.sink.emit({ ev: 'log', level: 'error', msg: `closing the host failed: ${errorInfo(e).message}` });
  }
}

/** Keeps a failed instance's guests (the host frees their names where it names guests per scenario). */
export async function keepGuests(r: InstanceResult, guests: readonly HeldGuest[], o: HostEnd): Promise<KeptGuests> {
  const why = [...r.checks.filter((c) => c.verdict === 'fail').map((c) => `${c.check}: ${c.message}`), ...(r.aborted ? [`aborted: ${r.aborted.code}: ${r.aborted.message}`] : [])];
  // where they live is asked while the host still counts them as the run's (keepGuest lets go of them)
  const shown = guests.map((g) => ({ name: g.name, domid: g.ref.domid, home: o.host.homePath(g.ref) }));
  for (const g of guests) await o.host.keepGuest?.(g.ref).catch((e: Error) => o.sink.emit({ ev: 'log', inst: r.inst, level: 'warn', msg: `keeping ${g.name}: ${e.message}` }));
  o.sink.emit({ ev: 'log', inst: r.inst, level: 'warn', msg: `--keep-on-failure: keeping ${guests.map((g) => `${g.name} (domid ${g.ref.domid})`).join(', ')} of ${r.inst}` });
  let released = false;
  return {
    inst: r.inst,
    why,
    guests: shown,
    release: async () => {
      if (released) return;
      released = true;
      await destroyGuests(guests, r.inst, o);
      await closeHost(o);
    },
  };
}
