// Opening a driver bundle wherever it is: a directory, an ISO 9660 image (extracted with
// xorriso) or a zip (extracted by zip.ts). The caller gets a directory, the manifest if the
// bundle has one, and a cleanup that removes any temporary extraction.
import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { BUNDLE_MANIFEST_SCHEMA, type BundleFile, type BundleManifest } from '../model/bundle';
import { inputError, type Problem } from '../model/errors';
import { runProcess, runProcessOk } from '../util/process';
import { extractZip, ZipFormatError } from './zip';
import { WINPV_BUNDLE } from './layouts';

export type { BundleManifest, BundleFile, BundleDriver } from '../model/bundle';

export interface OpenedBundle {
  dir: string;
  /** Where it came from and in what form. */
  source: { path: string; kind: 'dir' | 'iso' | 'zip' };
  manifest?: BundleManifest;
  cleanup(): Promise<void>;
}

async function detectKind(path: string): Promise<'dir' | 'iso' | 'zip'> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw inputError('BUNDLE_NOT_FOUND', 'no such file or directory', [], { file: path });
  if (st.isDirectory()) return 'dir';
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    if (head.readUInt32LE(0) === 0x04034b50 || head.readUInt32LE(0) === 0x06054b50) return 'zip';
    // ISO 9660: the primary volume descriptor at sector 16 starts with 0x01 "CD001".
    const pvd = Buffer.alloc(6);
    await fh.read(pvd, 0, 6, 16 * 2048);
    if (pvd.subarray(1, 6).toString('latin1') === 'CD001') return 'iso';
  } finally {
    await fh.close();
  }
  throw inputError('BUNDLE_FORMAT', 'not a directory, an ISO 9660 image or a zip archive', [], { file: path });
}

/** Opens a bundle (directory, ISO or zip); a manifest.json at its root is read and validated. */
export async function openBundle(path: string): Promise<OpenedBundle> {
  const kind = await detectKind(path);
  let dir = path;
  let cleanup = async () => {};
  if (kind !== 'dir') {
    dir = await mkdtemp(join(tmpdir(), 'winpv-bundle-'));
    cleanup = () => rm(dir, { recursive: true, force: true });
    try {
      if (kind === 'zip') extractZip(await readFile(path), dir);
      else await extractIso(path, dir);
    } catch (e) {
      await cleanup();
      if (e instanceof ZipFormatError) throw inputError('BUNDLE_FORMAT', `corrupt zip: ${e.message}`, [], { file: path });
      throw e;
    }
  }
  try {
    const manifest = await readManifest(dir, path);
    return { dir, source: { path, kind }, ...(manifest ? { manifest } : {}), cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

async function extractIso(iso: string, dir: string): Promise<void> {
  const r = await runProcess(['xorriso', '-osirrox', 'on', '-indev', iso, '-extract', '/', dir], { timeoutMs: 10 * 60_000 });
  if (r.code !== 0) throw inputError('BUNDLE_FORMAT', `xorriso could not extract it: ${lastLines(r.stderr || `exit ${r.code}`)}`, [], { file: iso });
  // xorriso extracts files read-only, as they are on the medium; make the copy removable.
  await runProcessOk(['chmod', '-R', 'u+w', dir], { timeoutMs: 60_000 });
}

const lastLines = (s: string) => s.trim().split('\n').slice(-3).join(' / ');

/** Reads and validates <dir>/manifest.json; undefined when there is none. */
export async function readManifest(dir: string, label = dir): Promise<BundleManifest | undefined> {
  const file = join(dir, WINPV_BUNDLE.manifest);
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (text === undefined) return undefined;
  const where = `${label}/${WINPV_BUNDLE.manifest}`;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw inputError('BUNDLE_MANIFEST', `not JSON (${(e as Error).message})`, [], { file: where });
  }
  const problems = validateManifest(data, where);
  if (problems.length > 0) throw inputError('BUNDLE_MANIFEST', `invalid manifest (${problems.length} problem(s))`, problems, { file: where });
  return data as BundleManifest;
}

/** Structural check of a manifest object; every problem located by its JSON path. */
export function validateManifest(data: unknown, file: string): Problem[] {
  const problems: Problem[] = [];
  const bad = (path: string, message: string) => problems.push({ location: { file, path }, message, rule: 'manifest' });
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    bad('$', 'manifest must be a JSON object');
    return problems;
  }
  const m = data as Record<string, unknown>;
  if (m.schema !== BUNDLE_MANIFEST_SCHEMA) bad('$.schema', `schema must be '${BUNDLE_MANIFEST_SCHEMA}', found ${JSON.stringify(m.schema)}`);
  for (const k of ['version', 'signMode', 'createdAt'] as const) if (typeof m[k] !== 'string') bad(`$.${k}`, `${k} must be a string`);
  if (!Array.isArray(m.drivers)) bad('$.drivers', 'drivers must be an array');
  else
    m.drivers.forEach((d: unknown, i) => {
      const o = (d ?? {}) as Record<string, unknown>;
      for (const k of ['name', 'version', 'dir', 'inf']) if (typeof o[k] !== 'string') bad(`$.drivers[${i}].${k}`, `${k} must be a string`);
    });
  if (!Array.isArray(m.files)) bad('$.files', 'files must be an array');
  else
    m.files.forEach((f: unknown, i) => {
      const o = (f ?? {}) as Record<string, unknown>;
      if (typeof o.path !== 'string' || o.path.startsWith('/') || o.path.split('/').includes('..')) bad(`$.files[${i}].path`, 'path must be a relative path inside the bundle');
      if (typeof o.size !== 'number' || !Number.isInteger(o.size) || o.size < 0) bad(`$.files[${i}].size`, 'size must be a non-negative integer');
      if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)) bad(`$.files[${i}].sha256`, 'sha256 must be 64 lower-case hex digits');
    });
  return problems;
}

/** Every regular file below dir (relative, forward slashes, sorted), manifest.json excluded. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  await walk(dir);
  return out.filter((f) => f !== WINPV_BUNDLE.manifest).sort();
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Size and SHA-256 of every file below dir, as a manifest lists them. */
export async function describeFiles(dir: string): Promise<BundleFile[]> {
  const out: BundleFile[] = [];
  for (const path of await listFiles(dir)) {
    const full = join(dir, path);
    out.push({ path, size: (await stat(full)).size, sha256: await sha256File(full) });
  }
  return out;
}

/** Compares a directory with its manifest: missing, extra, resized or changed files are problems. */
export async function checkManifestFiles(dir: string, manifest: BundleManifest, file: string = WINPV_BUNDLE.manifest): Promise<Problem[]> {
  const problems: Problem[] = [];
  const actual = new Map((await describeFiles(dir)).map((f) => [f.path, f]));
  manifest.files.forEach((f, i) => {
    const path = `$.files[${i}]`;
    const a = actual.get(f.path);
    if (!a) problems.push({ location: { file, path }, message: `${f.path} is listed but missing`, rule: 'manifest-files' });
    else if (a.size !== f.size) problems.push({ location: { file, path }, message: `${f.path} is ${a.size} bytes, manifest says ${f.size}`, rule: 'manifest-files' });
    else if (a.sha256 !== f.sha256) problems.push({ location: { file, path }, message: `${f.path} sha256 ${a.sha256} differs from the manifest's ${f.sha256}`, rule: 'manifest-files' });
    actual.delete(f.path);
  });
  for (const extra of actual.keys()) problems.push({ location: { file, path: '$.files' }, message: `${extra} is in the bundle but not in the manifest`, rule: 'manifest-files' });
  return problems;
}
