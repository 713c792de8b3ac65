// Files a run collects from its hosts (crash dumps) live in the run's report directory, beside the
// reports that name them: `artifacts/<inst>/<name>`. Each is filled through a temporary file that is
// hashed and renamed into place, so a report never names a half-written file.
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface StoredArtifact {
  /** Relative to the report directory, with `/` separators: `artifacts/<inst>/<name>`. */
  path: string;
  bytes: number;
  sha256: string;
}

/** Instance ids and guest file names become one safe path segment each (no separators, no dot-dot). */
export function artifactSegment(s: string): string {
  const safe = s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_');
  return safe || '_';
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Stores one artifact under `artifactsDir` (the report directory's `artifacts/`): `fill` writes the
 * content to the temporary path it is given; the file is renamed into place once hashed.
 */
export async function storeArtifact(artifactsDir: string, inst: string, name: string, fill: (tmpPath: string) => Promise<void>): Promise<StoredArtifact> {
  const instSeg = artifactSegment(inst);
  const nameSeg = artifactSegment(name);
  const dir = join(artifactsDir, instSeg);
  mkdirSync(dir, { recursive: true });
  const final = join(dir, nameSeg);
  const tmp = join(dir, `.${nameSeg}.${process.pid}.part`);
  try {
    await fill(tmp);
    const sha256 = await sha256File(tmp);
    const bytes = statSync(tmp).size;
    renameSync(tmp, final);
    return { path: `${basename(artifactsDir)}/${instSeg}/${nameSeg}`, bytes, sha256 };
  } catch (e) {
    rmSync(tmp, { force: true });
    if (readdirSync(dir).length === 0) rmdirSync(dir);
    throw e;
  }
}
