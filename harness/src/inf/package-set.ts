// A directory of driver packages (a build output or an opened bundle): every INF below it,
// parsed, with the directory it lives in (its package: the .sys and .cat files beside it).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { listFiles } from './bundle';
import { readDriverInf, type DriverInf } from './driver-inf';
import type { ParseOptions } from './document';

export interface PackageInf {
  /** Path relative to the set's root, forward slashes (`xenvif/x64/xenvif.inf`). */
  path: string;
  /** The package directory relative to the root (`xenvif/x64`, or `` for the root itself). */
  dir: string;
  inf: DriverInf;
}

/** Parses every *.inf below root; problems stay on each DriverInf, nothing throws for bad INFs. */
export async function readPackageSet(root: string, opts: ParseOptions = {}): Promise<PackageInf[]> {
  const out: PackageInf[] = [];
  for (const path of await listFiles(root)) {
    if (!/\.inf$/i.test(path)) continue;
    const bytes = await readFile(join(root, path));
    const d = dirname(path);
    out.push({ path, dir: d === '.' ? '' : d, inf: readDriverInf(bytes, path, opts) });
  }
  return out;
}
