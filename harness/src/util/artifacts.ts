// Files a run collects from its hosts (crash dumps) live in the run's report directory, beside the
// reports that name them: `artifacts/<inst>/<name>`. Each is filled through a temporary file that is
// hashed and renamed into place, so a report never names a half-written file.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, openSync, readdirSync, readSync, renameSync, rmdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface StoredArtifact {
  /** Relative to the report directory, with `/` separators: `artifacts/<inst>/<name>`. */
  path: string;
  bytes: number;
  sha256: string;
  /** Occurrences of the run's secrets masked in the copy (a memory dump can hold a password). */
  redacted?: number;
}

/** The byte forms a secret takes in a Windows memory image: UTF-8/ASCII and UTF-16LE. */
export function secretPatterns(secrets: readonly string[]): Buffer[] {
  return secrets.filter((s) => s.length >= 3).flatMap((s) => [Buffer.from(s, 'utf8'), Buffer.from(s, 'utf16le')]);
}

/**
 * Overwrites every occurrence of the patterns in a file with '*' bytes of the same length, in place
 * (the file keeps its size and layout, so a dump stays readable by a debugger). Read in chunks that
 * overlap by the longest pattern, so a match across a chunk boundary is found too. Returns the count.
 */
export function redactFile(path: string, patterns: readonly Buffer[], chunk = 1 << 20): number {
  if (patterns.length === 0) return 0;
  const longest = Math.max(...patterns.map((p) => p.length));
  const size = statSync(path).size;
  const fd = openSync(path, 'r+');
  let count = 0;
  try {
    const buf = Buffer.alloc(chunk + longest);
    for (let pos = 0; pos < size; pos += chunk) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      const view = buf.subarray(0, n);
      const hits: [number, number][] = [];
      for (const p of patterns) {
        // a match starting in the overlap belongs to the next chunk
        for (let i = view.indexOf(p); i >= 0 && i < chunk; i = view.indexOf(p, i + 1)) hits.push([i, p.length]);
      }
      for (const [i, len] of hits) writeSync(fd, Buffer.alloc(len, 0x2a), 0, len, pos + i);
      count += hits.length;
    }
  } finally {
    closeSync(fd);
  }
  return count;
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
 * content to the temporary path it is given; the run's secrets are masked in it, and the file is
 * renamed into place once hashed.
 */
export async function storeArtifact(artifactsDir: string, inst: string, name: string, fill: (tmpPath: string) => Promise<void>, opts: { redact?: readonly Buffer[] } = {}): Promise<StoredArtifact> {
  const instSeg = artifactSegment(inst);
  const nameSeg = artifactSegment(name);
  const dir = join(artifactsDir, instSeg);
  mkdirSync(dir, { recursive: true });
  const final = join(dir, nameSeg);
  const tmp = join(dir, `.${nameSeg}.${process.pid}.part`);
  try {
    await fill(tmp);
    const redacted = redactFile(tmp, opts.redact ?? []);
    const sha256 = await sha256File(tmp);
    const bytes = statSync(tmp).size;
    renameSync(tmp, final);
    return { path: `${basename(artifactsDir)}/${instSeg}/${nameSeg}`, bytes, sha256, ...(redacted ? { redacted } : {}) };
  } catch (e) {
    rmSync(tmp, { force: true });
    if (readdirSync(dir).length === 0) rmdirSync(dir);
    throw e;
  }
}
