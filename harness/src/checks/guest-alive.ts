// guest-alive: no guest crashed or halted on its own, and none rebooted or shut down outside a
// step that asked for it (a `bugcheck` step asks for the restart that follows its crash dump; the
// dump itself is crash-dump's).
import type { CheckResult } from '../model/result';
import type { ArtifactEvent } from '../model/trace';
import { Findings } from './findings';
import type { InstanceView } from './view';

/** Step kinds during which a guest may legitimately reboot or stop. */
const REBOOTS = new Set(['reboot', 'install-drivers', 'uninstall-drivers', 'bugcheck']);
const STOPS = new Set(['shutdown', 'save-restore', 'migrate', 'suspend', 'suspend-resume']);

export function guestAlive(v: InstanceView): CheckResult {
  const f = new Findings('guest-alive');
  const active = new Map<string, string>(); // step id -> kind
  const horizon = v.events.find((e) => e.ev === 'scenario.end');
  for (const e of v.events) {
    if (e.ev === 'step.start') active.set(e.step, e.kind);
    else if (e.ev === 'step.end') active.delete(e.step);
    else if (e.ev === 'guest') {
      const diag = { at: e.t, seq: e.seq, guest: e.guest, domid: e.domid, ...(e.detail ? { detail: e.detail } : {}) };
      const during = new Set(active.values());
      const inSteps = !horizon || e.seq < horizon.seq;
      if (e.what === 'crashed' || e.what === 'halted-unexpectedly') {
        const dump = e.what === 'crashed' ? crashDump(v, e.guest, e.seq) : undefined;
        f.fail(`${e.guest} (domid ${e.domid}) ${e.what === 'crashed' ? 'crashed' : 'halted unexpectedly'}${dump?.said ?? ''}`, {
          ...diag, expected: 'running until the scenario ends', observed: e.what, ...(dump ? { crashDump: dump.diag } : {}),
        });
      } else if (e.what === 'xenstore-lost') {
        f.fail(`${e.guest} (domid ${e.domid}) lost its xenstore connection: xenstored stopped serving it${e.detail?.reason ? ` (${e.detail.reason})` : ''}; its PV drivers can no longer reach the toolstack`, {
          ...diag, expected: 'the guest keeps its xenstore connection', observed: 'xenstore-lost',
        });
      } else if (e.what === 'rebooted' && inSteps && ![...during].some((k) => REBOOTS.has(k))) {
        // Windows restarts by itself after a bugcheck: the dump, if the host collected one, is named
        const dump = crashDump(v, e.guest, e.seq);
        f.fail(`${e.guest} rebooted with no reboot step running${dump?.said ?? ''}`, {
          ...diag, expected: 'reboots only in reboot or install steps', observed: 'rebooted', ...(dump ? { crashDump: dump.diag } : {}),
        });
      } else if ((e.what === 'shutdown' || e.what === 'destroyed') && inSteps && ![...during].some((k) => STOPS.has(k))) {
        f.fail(`${e.guest} ${e.what === 'shutdown' ? 'shut down' : 'was destroyed'} while the steps were running`, { ...diag, expected: 'running until the scenario ends', observed: e.what });
      }
    }
  }
  const n = v.guests.size;
  return f.result(`${n} guest${n === 1 ? '' : 's'} alive through the scenario`);
}

/** The crash dump the host collected for a crash (its `artifact` event after the crash), for the
 *  report: where it is in the report directory and its sha256, or why there is none. Hosts that do
 *  not collect dumps record nothing, and nothing is said. */
function crashDump(v: InstanceView, guest: string, afterSeq: number): { said: string; diag: Record<string, unknown> } | undefined {
  const a = v.events.find((x): x is ArtifactEvent => x.ev === 'artifact' && x.kind === 'crash-dump' && x.guest === guest && x.seq > afterSeq);
  if (!a) return undefined;
  if (a.path) {
    return { said: `; crash dump ${a.path}`, diag: { path: a.path, bytes: a.bytes, sha256: a.sha256, ...(a.source ? { source: a.source } : {}), ...(a.redacted ? { secretsMasked: a.redacted } : {}) } };
  }
  return { said: '; no crash dump', diag: { none: a.missing ?? 'not collected', ...(a.source ? { source: a.source } : {}) } };
}
