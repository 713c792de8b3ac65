// A file of a Windows guest other than a crash dump (the vendor installer's verbose log, msiexec
// /l*v) copied into the run's report: `<report dir>/artifacts/<inst>/<guest>-<file>`, recorded with
// an `artifact` trace event, or the event says why it stays in the guest.
import type { ArtifactEvent, TraceSink } from '../../model/trace';
import type { Secret } from '../../model/secret';
import type { WindowsAgent } from '../../guests/windows/agent';
import { secretPatterns, storeArtifact } from '../../util/artifacts';

/** Returns where the file is now (its report path, or the guest path and why it was not copied). */
export async function collectGuestFile(
  g: { name: string; inst: string; agent(): WindowsAgent }, guestPath: string, kind: ArtifactEvent['kind'],
  trace: TraceSink | undefined, artifactsDir: string | undefined, secrets: readonly Secret[] = [],
): Promise<string> {
  const emit = (fields: Partial<ArtifactEvent>) => trace?.emit({ ev: 'artifact', inst: g.inst, guest: g.name, kind, source: guestPath, ...fields });
  if (!artifactsDir) {
    emit({ missing: 'this run keeps no artifacts (no report directory); the file stays in the guest' });
    return `${guestPath} in the guest`;
  }
  try {
    const stored = await storeArtifact(artifactsDir, g.inst, `${g.name}-${guestPath.split(/[\\/]/).pop()}`, (tmp) => g.agent().downloadFile(guestPath, tmp), { redact: secretPatterns(secrets.map((s) => s.reveal())) });
    emit({ ...stored });
    return stored.path;
  } catch (e) {
    emit({ missing: `could not copy it: ${(e as Error).message}` });
    return `${guestPath} in the guest (not copied: ${(e as Error).message})`;
  }
}
