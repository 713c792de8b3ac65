// guest-alive: no guest crashed or halted on its own, and none rebooted or shut down outside a
// step that asked for it.
import type { CheckResult } from '../model/result';
import { Findings } from './findings';
import type { InstanceView } from './view';

/** Step kinds during which a guest may legitimately reboot or stop. */
const REBOOTS = new Set(['reboot', 'install-drivers']);
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
        f.fail(`${e.guest} (domid ${e.domid}) ${e.what === 'crashed' ? 'crashed' : 'halted unexpectedly'}`, { ...diag, expected: 'running until the scenario ends', observed: e.what });
      } else if (e.what === 'rebooted' && inSteps && ![...during].some((k) => REBOOTS.has(k))) {
        f.fail(`${e.guest} rebooted with no reboot step running`, { ...diag, expected: 'reboots only in reboot or install steps', observed: 'rebooted' });
      } else if ((e.what === 'shutdown' || e.what === 'destroyed') && inSteps && ![...during].some((k) => STOPS.has(k))) {
        f.fail(`${e.guest} ${e.what === 'shutdown' ? 'shut down' : 'was destroyed'} while the steps were running`, { ...diag, expected: 'running until the scenario ends', observed: e.what });
      }
    }
  }
  const n = v.guests.size;
  return f.result(`${n} guest${n === 1 ? '' : 's'} alive through the scenario`);
}
