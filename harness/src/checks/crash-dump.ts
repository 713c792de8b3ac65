// crash-dump: every bugcheck a scenario caused on purpose (a `bugcheck` lifecycle event) is followed
// by the crash dump the host found in the guest after it restarted: written (its size), recording the
// stop code the guest bugchecked with, and collected into the report when the run keeps artifacts.
// Where the host shows the ring requests (ring-ids), the dump path is also judged against the
// backend it wrote to: blkif.h says BLKIF_OP_WRITE_BARRIER is "recognised only if feature-barrier is
// present" and BLKIF_OP_FLUSH_DISKCACHE only if feature-flush-cache is, so a dump target that sends
// either to a backend advertising neither (tapdisk3 answers BLKIF_RSP_EOPNOTSUPP, blktap
// drivers/td-req.c tapdisk_xenblkif_make_vbd_request) is named as the cause.
import { BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_WRITE_BARRIER } from '../abi/blkif';
import type { CheckResult } from '../model/result';
import type { ArtifactEvent, GuestEvent, RingIoEvent } from '../model/trace';
import { Findings, skip } from './findings';
import { XsReplay, type InstanceView } from './view';

const NEEDS: Record<number, { name: string; feature: string }> = {
  [BLKIF_OP_WRITE_BARRIER]: { name: 'BLKIF_OP_WRITE_BARRIER', feature: 'feature-barrier' },
  [BLKIF_OP_FLUSH_DISKCACHE]: { name: 'BLKIF_OP_FLUSH_DISKCACHE', feature: 'feature-flush-cache' },
};

export function crashDumpCheck(v: InstanceView): CheckResult {
  const f = new Findings('crash-dump');
  const bugchecks = v.events.filter((e): e is GuestEvent => e.ev === 'guest' && e.what === 'bugcheck');
  if (bugchecks.length === 0) return skip('crash-dump', 'no guest bugchecked in this scenario');
  const replay = new XsReplay();
  // the bugcheck each guest is in (until its dump is reported), for the ring requests of the dump path
  const dumping = new Map<string, GuestEvent>();
  const flagged = new Set<string>();
  const seen = new Set<GuestEvent>();
  let written = 0;
  let collected = 0;
  const codeOf = (e: GuestEvent) => String(e.detail?.code ?? '?');
  for (const e of v.events) {
    if (e.ev === 'xs') replay.apply(e);
    else if (e.ev === 'guest' && e.what === 'bugcheck') {
      const open = dumping.get(e.guest);
      if (open) f.fail(`${e.guest}: bugchecked (${codeOf(open)}) and the host recorded no crash dump before it bugchecked again`, { at: open.t, seq: open.seq, guest: e.guest, expected: 'a crash dump after each bugcheck', observed: 'none' });
      dumping.set(e.guest, e);
      seen.add(e);
    } else if (e.ev === 'ring.io' && e.dir === 'req' && dumping.has(e.guest) && e.ops) {
      e.ids.forEach((id, k) => {
        const op = e.ops![k] ?? -1;
        if (!NEEDS[op]) return;
        const why = unadvertised(v, replay, e, op);
        const key = `${e.guest} ${e.dev} ${op}`;
        if (!why || flagged.has(key)) return;
        flagged.add(key);
        const bc = dumping.get(e.guest)!;
        f.fail(`${e.guest} ${e.dev}: the crash-dump path sent ${why} (request ${id}, while writing the dump of bugcheck ${codeOf(bc)})`, {
          at: e.t, seq: e.seq, guest: e.guest, ring: `${e.dev} q${e.queue}`,
          expected: 'a cache flush the backend does not offer completed in the guest (win-xenvbd xencrsh pdo.c PrepareSyncCache)', observed: why,
        });
      });
    } else if (e.ev === 'artifact' && e.kind === 'crash-dump' && dumping.has(e.guest)) {
      const bc = dumping.get(e.guest)!;
      dumping.delete(e.guest);
      judgeDump(f, bc, e, codeOf(bc));
      if (e.bytes && e.bugcheck === codeOf(bc)) {
        written++;
        if (e.path) collected++;
      }
    }
  }
  for (const [guest, bc] of dumping) {
    f.fail(`${guest}: bugchecked (${codeOf(bc)}) and the host recorded no crash dump by the end of the scenario`, {
      at: bc.t, seq: bc.seq, guest, expected: 'the dump found in the guest after it restarted', observed: 'no artifact event',
    });
  }
  return f.result(`${written} crash dump${written === 1 ? '' : 's'} written for ${seen.size} bugcheck${seen.size === 1 ? '' : 's'}, ${collected} collected into the report`);
}

function judgeDump(f: Findings, bc: GuestEvent, a: ArtifactEvent, code: string): void {
  const diag = { at: a.t, seq: a.seq, guest: a.guest, bugcheckAt: bc.t, ...(a.source ? { source: a.source } : {}) };
  if (!a.bytes || !a.bugcheck) {
    f.fail(`${a.guest}: no crash dump after the bugcheck ${code}: ${a.missing ?? 'the host found none'}`, { ...diag, expected: `a dump recording stop code ${code}`, observed: a.missing ?? 'none' });
  } else if (a.bugcheck !== code) {
    f.fail(`${a.guest}: the crash dump records stop code ${a.bugcheck}, the guest bugchecked with ${code} (a stale dump?)`, { ...diag, expected: code, observed: a.bugcheck });
  }
}

/** Why a barrier or flush request broke the backend's advertisement, or undefined when it did not. */
function unadvertised(v: InstanceView, replay: XsReplay, e: RingIoEvent, op: number): string | undefined {
  const need = NEEDS[op]!;
  const domid = v.guests.get(e.guest)?.domids.filter((d) => d.from <= e.t).pop()?.domid;
  if (domid === undefined) return undefined;
  const backend = replay.get(`/local/domain/${domid}/device/${e.dev}/backend`);
  if (!backend) return undefined;
  const value = replay.get(`${backend}/${need.feature}`);
  if (value === '1') return undefined;
  return `${need.name} to a backend that ${value === undefined ? `has no ${need.feature}` : `advertises ${need.feature}=${value}`} (blkif.h: recognised only if ${need.feature} is present)`;
}
