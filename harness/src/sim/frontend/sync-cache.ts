// What xenvbd sends for a cache flush (SCSIOP_SYNCHRONIZE_CACHE), given the disk features its backend
// advertised, and how a BLKIF_RSP_EOPNOTSUPP answer changes them.
import * as blk from '../../abi/blkif';

/** What the backend offers at Connected (win-xenvbd frontend.c FrontendConnect reads them each time). */
export interface DiskFeatures {
  barrier: boolean;
  flushCache: boolean;
  discard: boolean;
}

/**
 * The ring operation of a cache flush: BLKIF_OP_FLUSH_DISKCACHE where the backend offers
 * feature-flush-cache, else BLKIF_OP_WRITE_BARRIER where it offers feature-barrier (tapdisk3's tapback
 * offers only barriers), else none: the SRB completes in the guest ("not supported, suppressing").
 * The source read here, xenserver/win-xenvbd ec2dfdc (2015) pdo.c PrepareSyncCache, always sends
 * WRITE_BARRIER and PdoSyncCache suppresses the SRB without feature-barrier; later xenvbd (target.c)
 * prefers FLUSH_DISKCACHE when the backend has it (not in the stored source: to be confirmed against
 * win-xenvbd master). Against tapback both send barriers. `flushUnadvertised` is the planted bug of
 * that name: FLUSH_DISKCACHE whatever the backend offers.
 */
export function syncCacheOp(f: DiskFeatures, flushUnadvertised: boolean): number | undefined {
  if (flushUnadvertised || f.flushCache) return blk.BLKIF_OP_FLUSH_DISKCACHE;
  return f.barrier ? blk.BLKIF_OP_WRITE_BARRIER : undefined;
}

/** frontend.c FrontendRemoveFeature: a BLKIF_RSP_EOPNOTSUPP drops the feature the request relied on
 *  (the SRB itself fails: pdo.c PdoCompleteSubmittedRequest, SRB_STATUS_INVALID_REQUEST). */
export function dropFeature(f: DiskFeatures, op: number): void {
  if (op === blk.BLKIF_OP_FLUSH_DISKCACHE) f.flushCache = false;
  else if (op === blk.BLKIF_OP_WRITE_BARRIER) f.barrier = false;
  else if (op === blk.BLKIF_OP_DISCARD) f.discard = false;
}
