// ring-invariants: at every ring sample, in ring.h's wrapping u32 arithmetic, responses never run
// ahead of requests and at most nr_ents requests are outstanding; consumer positions, where
// visible, lie between the producers they consume.
import type { CheckResult } from '../model/result';
import { Findings } from './findings';
import { ringKey, u32diff } from './rings';
import { afterCrash, type InstanceView } from './view';

export function ringInvariants(v: InstanceView): CheckResult {
  const f = new Findings('ring-invariants');
  let samples = 0;
  const rings = new Set<string>();
  for (const e of v.events) {
    if (e.ev !== 'ring' || afterCrash(v, e.guest, e)) continue;
    samples++;
    const ring = ringKey(e);
    rings.add(ring);
    const diag = { ring, at: e.t, seq: e.seq };
    const outstanding = u32diff(e.req_prod, e.rsp_prod);
    if (e.nr_ents <= 0 || (e.nr_ents & (e.nr_ents - 1)) !== 0) {
      f.fail(`${ring}: nr_ents ${e.nr_ents} is not a power of two`, { ...diag, expected: 'a power of two', observed: e.nr_ents });
    } else if (outstanding > e.nr_ents) {
      const ahead = outstanding > 0x7fffffff;
      f.fail(
        ahead
          ? `${ring}: rsp_prod ${e.rsp_prod} is ahead of req_prod ${e.req_prod}`
          : `${ring}: ${outstanding} requests outstanding on a ring of ${e.nr_ents}`,
        { ...diag, expected: `rsp_prod <= req_prod and req_prod - rsp_prod <= ${e.nr_ents}`, observed: { req_prod: e.req_prod, rsp_prod: e.rsp_prod, outstanding: ahead ? -u32diff(e.rsp_prod, e.req_prod) : outstanding } },
      );
    }
    if (e.req_cons !== undefined && (u32diff(e.req_cons, e.rsp_prod) > outstanding || u32diff(e.req_prod, e.req_cons) > outstanding)) {
      f.fail(`${ring}: req_cons ${e.req_cons} outside [rsp_prod ${e.rsp_prod}, req_prod ${e.req_prod}]`, { ...diag, expected: 'rsp_prod <= req_cons <= req_prod', observed: { req_cons: e.req_cons } });
    }
    if (e.rsp_cons !== undefined && u32diff(e.rsp_prod, e.rsp_cons) > e.nr_ents) {
      f.fail(`${ring}: rsp_cons ${e.rsp_cons} is ahead of rsp_prod ${e.rsp_prod}`, { ...diag, expected: 'rsp_cons <= rsp_prod', observed: { rsp_cons: e.rsp_cons } });
    }
  }
  return f.result(`${samples} samples of ${rings.size} rings within the invariants`);
}
