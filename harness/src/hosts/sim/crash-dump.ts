// The simulated guest's crash dump, into the run's report as on a pool (hosts/xapi/crash-dump.ts):
// once the guest is back, the dump the dump path wrote into the page file is what Windows keeps as
// C:\Windows\MEMORY.DMP when its header is valid; it is read from the disk model, copied to
// `<report dir>/artifacts/<inst>/<guest>-MEMORY.DMP` and recorded with an `artifact` event carrying
// its size, sha256 and the stop code its header records; or the event says why there is none.
import { writeFile } from 'node:fs/promises';
import { vdevToDevid } from '../../model/vdev';
import { stopCode } from '../../model/trace';
import { storeArtifact } from '../../util/artifacts';
import { DUMP_BYTES, readDumpHeader, type DumpOutcome } from '../../sim/windows/crashdump';
import { SECTOR_SIZE } from '../../abi/blkif';
import type { FaultTarget, SimGuest } from './sim-guest';

/** Where Windows keeps the dump it found in its page file at boot. */
const SIM_DUMP_SOURCE = 'C:\\Windows\\MEMORY.DMP';
/** KeBugCheckEx's four parameters, as a manually initiated crash leaves them. */
export const STOP_PARAMS: bigint[] = [0n, 0n, 0n, 0n];

export async function collectSimDump(o: { host: Pick<FaultTarget, 'hv' | 'ts' | 'emit'>; g: SimGuest; outcome: DumpOutcome; artifactsDir?: string }): Promise<void> {
  const { host, g, outcome } = o;
  const artifact = (fields: { path?: string; bytes?: number; sha256?: string; missing?: string; bugcheck?: string }) =>
    host.emit({ ev: 'artifact', inst: g.inst, guest: g.ref.name, kind: 'crash-dump', source: SIM_DUMP_SOURCE, ...fields });
  const bootDisk = g.shape.vbds[0];
  const devid = bootDisk ? vdevToDevid(bootDisk.vdev) : undefined;
  const rec = devid !== undefined ? host.ts().record(g.dom.domid, `vbd/${devid}`) : undefined;
  if (!outcome.written || outcome.sector === undefined || !rec?.disk) {
    artifact({ missing: `Windows wrote no crash dump: ${outcome.why ?? 'the dump path did not finish'}` });
    return;
  }
  const image = Buffer.alloc(DUMP_BYTES);
  rec.disk.read(outcome.sector, image, 0, DUMP_BYTES / SECTOR_SIZE);
  const header = readDumpHeader(image);
  if ('invalid' in header) {
    artifact({ missing: `Windows found no valid crash dump in its page file at boot: ${header.invalid}` });
    return;
  }
  const bugcheck = stopCode(header.code);
  host.emit({ ev: 'log', inst: g.inst, level: 'info', msg: `crash dump of ${g.ref.name}: ${SIM_DUMP_SOURCE} (${DUMP_BYTES} bytes, stop code ${bugcheck}; written to device ${outcome.devid} through dump target ${outcome.targetId})` });
  if (!o.artifactsDir) {
    artifact({ bytes: DUMP_BYTES, bugcheck, missing: 'this run keeps no artifacts (no report directory); the dump stays in the guest' });
    return;
  }
  const dir = o.artifactsDir;
  const stored = await host.hv.sched.holding(() => storeArtifact(dir, g.inst, `${g.ref.name}-MEMORY.DMP`, (tmp) => writeFile(tmp, image)));
  artifact({ ...stored, bugcheck });
}
