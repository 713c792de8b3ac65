// A crashed Windows guest's dump, into the run's report: once the guest is back (XAPI restarted the
// preserved domain, or Windows restarted itself after the bugcheck) Windows has written the dump
// from the page file; the newest of MEMORY.DMP and the minidumps is copied over SFTP into
// `<report dir>/artifacts/<inst>/<guest>-<file>` and recorded with an `artifact` trace event, or
// the event says why there is none.
import type { TraceSink } from '../../model/trace';
import type { WindowsAgent } from '../../guests/windows/agent';
import type { Secret } from '../../model/secret';
import { open } from 'node:fs/promises';
import { secretPatterns, storeArtifact } from '../../util/artifacts';
import { stopCode } from '../../model/trace';
import { DUMP_HEADER_BYTES, readDumpHeader } from '../../sim/windows/crashdump';

/** Where Windows writes crash dumps (the agent looks there). */
const CRASH_DUMP_PLACES = 'C:\\Windows\\MEMORY.DMP, C:\\Windows\\Minidump\\*.dmp';

export interface CrashedGuest {
  name: string;
  inst: string;
  /** Resolves once the guest runs again and answers (restarting it first where that is ours to do). */
  back(): Promise<void>;
  agent(): WindowsAgent;
}

/** `secrets`: the run's passwords, masked in the copy (a memory image can hold them in plain text). */
export async function collectCrashDump(g: CrashedGuest, trace: TraceSink | undefined, artifactsDir: string | undefined, secrets: readonly Secret[] = []): Promise<void> {
  const artifact = (fields: { path?: string; bytes?: number; sha256?: string; source?: string; missing?: string; redacted?: number; bugcheck?: string }) =>
    trace?.emit({ ev: 'artifact', inst: g.inst, guest: g.name, kind: 'crash-dump', ...fields });
  const log = (level: 'info' | 'warn' | 'error', msg: string) => trace?.emit({ ev: 'log', inst: g.inst, level, msg });
  let source: string | undefined;
  try {
    await g.back();
    const agent = g.agent();
    const dump = await agent.findCrashDump();
    if (!dump) {
      log('error', `no crash dump found in ${g.name}`);
      artifact({ missing: `Windows wrote no crash dump (${CRASH_DUMP_PLACES})` });
      return;
    }
    source = dump.path;
    log('error', `crash dump of ${g.name}: ${dump.path} (${dump.bytes} bytes)`);
    if (!artifactsDir) {
      artifact({ source, bytes: dump.bytes, missing: 'this run keeps no artifacts (no report directory); the dump stays in the guest' });
      return;
    }
    const name = `${g.name}-${dump.path.split(/[\\/]/).pop()}`;
    let bugcheck: string | undefined;
    const stored = await storeArtifact(artifactsDir, g.inst, name, async (tmp) => {
      await agent.downloadFile(dump.path, tmp);
      bugcheck = await stopCodeOf(tmp);
    }, { redact: secretPatterns(secrets.map((s) => s.reveal())) });
    if (bugcheck) log('info', `the crash dump of ${g.name} records stop code ${bugcheck}`);
    artifact({ ...stored, source, ...(bugcheck ? { bugcheck } : {}) });
  } catch (e) {
    log('warn', `could not collect the crash dump of ${g.name}: ${(e as Error).message}`);
    artifact({ ...(source ? { source } : {}), missing: `could not collect the crash dump: ${(e as Error).message}` });
  }
}

/** The stop code a kernel dump's header records (DUMP_HEADER64: "PAGE" "DU64", BugCheckCode at 0x38,
 *  as sim/windows/crashdump.ts reads it), or undefined for a file that is no such dump. */
async function stopCodeOf(file: string): Promise<string | undefined> {
  const f = await open(file, 'r');
  try {
    const b = Buffer.alloc(DUMP_HEADER_BYTES);
    await f.read(b, 0, b.length, 0); // a shorter file leaves zeros: no signature, no dump
    const h = readDumpHeader(b);
    return 'code' in h ? stopCode(h.code) : undefined;
  } finally {
    await f.close();
  }
}
