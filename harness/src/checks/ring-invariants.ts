// ring-invariants: at every ring sample, in ring.h's wrapping u32 arithmetic, responses never run
// ahead of requests and at most nr_ents requests are outstanding; consumer positions, where
// visible, lie between the producers they consume.
//
// A sample read from a live ring one index at a time (netback's debugfs: parseNetbackIoRing) carries
// a second read (`reread`): each index held, at every moment between the two reads, a value between
// its two reads. Such a sample fails only where no such moment can satisfy the invariant (the lower
// bound of one side already past the upper bound of the other); a sample without one is one moment.
import type { CheckResult } from '../model/result';
import type { RingSampleEvent } from '../model/trace';
import { Findings } from './findings';
import { ringKey } from './rings';
import { idxAhead as ahead } from '../abi/ring';
import { afterCrash, type InstanceView } from './view';

/** One index as the sample bounds it: its first read and, where the ring was read twice, its second. */
interface Bounded {
  lo: number;
  hi: number;
}

const show = (b: Bounded) => (b.lo === b.hi ? `${b.lo}` : `${b.lo}..${b.hi}`);

function bounded(e: RingSampleEvent, name: 'req_prod' | 'rsp_prod' | 'req_cons' | 'rsp_cons'): Bounded | undefined {
  const lo = e[name];
  if (lo === undefined) return undefined;
  return { lo, hi: e.reread?.[name] ?? lo };
}

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
    const reqProd = bounded(e, 'req_prod')!;
    const rspProd = bounded(e, 'rsp_prod')!;
    const reqCons = bounded(e, 'req_cons');
    const rspCons = bounded(e, 'rsp_cons');
    // indices only grow: a second read behind the first is no bracket (and no ring ring.h allows)
    const back = e.reread ? Object.entries({ req_prod: reqProd, rsp_prod: rspProd, req_cons: reqCons, rsp_cons: rspCons }).find(([, b]) => b && ahead(b.hi, b.lo) < 0) : undefined;
    if (back) {
      const [name, b] = back as [string, Bounded];
      f.fail(`${ring}: ${name} went back from ${b.lo} to ${b.hi} between two reads of one sample`, { ...diag, expected: 'indices never go back', observed: { [name]: [b.lo, b.hi] } });
      continue;
    }
    if (e.nr_ents <= 0 || (e.nr_ents & (e.nr_ents - 1)) !== 0) {
      f.fail(`${ring}: nr_ents ${e.nr_ents} is not a power of two`, { ...diag, expected: 'a power of two', observed: e.nr_ents });
    } else if (ahead(rspProd.lo, reqProd.hi) > 0) {
      f.fail(`${ring}: rsp_prod ${show(rspProd)} is ahead of req_prod ${show(reqProd)}`, { ...diag, expected: 'rsp_prod <= req_prod', observed: { req_prod: e.req_prod, rsp_prod: e.rsp_prod, ...(e.reread ? { reread: e.reread } : {}) } });
    } else if (ahead(reqProd.lo, rspProd.hi) > e.nr_ents) {
      const outstanding = ahead(reqProd.lo, rspProd.hi);
      f.fail(`${ring}: ${outstanding} requests outstanding on a ring of ${e.nr_ents}`, { ...diag, expected: `req_prod - rsp_prod <= ${e.nr_ents}`, observed: { req_prod: e.req_prod, rsp_prod: e.rsp_prod, outstanding, ...(e.reread ? { reread: e.reread } : {}) } });
    }
    if (reqCons && (ahead(rspProd.lo, reqCons.hi) > 0 || ahead(reqCons.lo, reqProd.hi) > 0)) {
      f.fail(`${ring}: req_cons ${show(reqCons)} outside [rsp_prod ${show(rspProd)}, req_prod ${show(reqProd)}]`, { ...diag, expected: 'rsp_prod <= req_cons <= req_prod', observed: { req_cons: e.req_cons, ...(e.reread ? { reread: e.reread } : {}) } });
    }
    if (rspCons && ahead(rspCons.lo, rspProd.hi) > 0) {
      f.fail(`${ring}: rsp_cons ${show(rspCons)} is ahead of rsp_prod ${show(rspProd)}`, { ...diag, expected: 'rsp_cons <= rsp_prod', observed: { rsp_cons: e.rsp_cons } });
    } else if (rspCons && ahead(rspProd.lo, rspCons.hi) > e.nr_ents) {
      f.fail(`${ring}: ${ahead(rspProd.lo, rspCons.hi)} responses unconsumed on a ring of ${e.nr_ents}`, { ...diag, expected: `rsp_prod - rsp_cons <= ${e.nr_ents}`, observed: { rsp_cons: e.rsp_cons, rsp_prod: e.rsp_prod } });
    }
  }
  return f.result(`${samples} samples of ${rings.size} rings within the invariants`);
}
