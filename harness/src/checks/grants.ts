// grants: from the host's grant-table audits, no grant is left granted after its device closed or
// at teardown, none is left mapped by a backend, and none was ended while still mapped.
import type { CheckResult } from '../model/result';
import { Findings, skip } from './findings';
import { afterCrash, type InstanceView } from './view';

const list = (refs: number[]) => refs.slice(0, 16).join(', ') + (refs.length > 16 ? ', ...' : '');

export function grants(v: InstanceView): CheckResult {
  const f = new Findings('grants');
  let audits = 0;
  for (const e of v.events) {
    if (e.ev !== 'grants' || afterCrash(v, e.guest, e)) continue;
    audits++;
    const where = `${e.guest}${e.dev ? ` ${e.dev}` : ''} (${e.when})`;
    const diag = { at: e.t, seq: e.seq, ...(e.dev ? { device: e.dev } : {}) };
    if (e.revokedWhileMapped.length) {
      f.fail(`${where}: ${e.revokedWhileMapped.length} grant${e.revokedWhileMapped.length === 1 ? '' : 's'} ended while the backend still had them mapped: ${list(e.revokedWhileMapped)}`, {
        ...diag, expected: 'grants ended only after the backend unmapped them', observed: { revokedWhileMapped: e.revokedWhileMapped },
      });
    }
    if (e.active.length) {
      f.fail(`${where}: ${e.active.length} grant${e.active.length === 1 ? '' : 's'} still granted: ${list(e.active)}`, {
        ...diag, expected: 'no grant left after close', observed: { active: e.active },
      });
    }
    if (e.mapped.length) {
      f.fail(`${where}: ${e.mapped.length} grant${e.mapped.length === 1 ? '' : 's'} still mapped by the backend: ${list(e.mapped)}`, {
        ...diag, expected: 'no mapping left after close', observed: { mapped: e.mapped },
      });
    }
  }
  if (audits === 0) return skip('grants', 'the host recorded no grant audit in this scenario');
  return f.result(`${audits} grant audit${audits === 1 ? '' : 's'}: nothing leaked, nothing revoked while mapped`);
}
