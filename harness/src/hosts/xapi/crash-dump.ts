// A crashed Windows guest's dump, into the run's report: once the guest is back (XAPI restarted the
// preserved domain, or Windows restarted itself after the bugcheck) Windows has written the dump
// from the page file; the newest of MEMORY.DMP and the minidumps is copied over SFTP into
// `<report dir>/artifacts/<inst>/<guest>-<file>` and recorded with an `artifact` trace event, or
// the event says why there is none.
import type { TraceSink } from '../../model/trace';
import type { WindowsAgent } from '../../guests/windows/agent';
import type { Secret } from '../../model/secret';
import { secretPatterns, storeArtifact } from '../../util/artifacts';

/** Where Windows writes crash dumps (the agent looks there). */
export const CRASH_DUMP_PLACES = 'C:\\Windows\\MEMORY.DMP, C:\\Windows\\Minidump\\*.dmp';

export interface CrashedGuest {
  name: string;
  inst: string;
  /** Resolves once the guest runs again and answers (restarting it first where that is ours to do). */
  back(): Promise<void>;
  agent(): WindowsAgent;
}

/** `secrets`: the run's passwords, masked in the copy (a memory image can hold them in plain text). */
export async function collectCrashDump(g: CrashedGuest, trace: TraceSink | undefined, artifactsDir: string | undefined, secrets: readonly Secret[] = []): Promise<void> {
  const artifact = (fields: { path?: string; bytes?: number; sha256?: string; source?: string; missing?: string; redacted?: number }) =>
    trace?.emit({ ev: 'artifact', inst: g.inst, guest: g.name, kind: 'crash-dump', ...fields });
  const log = (level: 'warn' | 'error', msg: string) => trace?.emit({ ev: 'log', inst: g.inst, level, msg });
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
    const stored = await storeArtifact(artifactsDir, g.inst, name, (tmp) => agent.downloadFile(dump.path, tmp), { redact: secretPatterns(secrets.map((s) => s.reveal())) });
    artifact({ ...stored, source });
  } catch (e) {
    log('warn', `could not collect the crash dump of ${g.name}: ${(e as Error).message}`);
    artifact({ ...(source ? { source } : {}), missing: `could not collect the crash dump: ${(e as Error).message}` });
  }
}
