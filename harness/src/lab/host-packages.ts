// The host tools the lab needs: find the missing ones and install them (as root) or name them.
import { infraError } from '../model/errors';
import { HOST_PACKAGES } from './recipe';
import { runProcess, runProcessOk } from '../util/process';

/** Debian packages whose command is not on PATH. */
async function missingHostPackages(which: (cmd: string) => Promise<boolean> = onPath): Promise<string[]> {
  const missing: string[] = [];
  for (const p of HOST_PACKAGES) if (!(await which(p.cmd))) missing.push(p.pkg);
  return missing;
}

async function onPath(cmd: string): Promise<boolean> {
  const r = await runProcess(['sh', '-c', 'command -v "$1"', 'sh', cmd]);
  return r.code === 0;
}

/** Installs what is missing when running as root; otherwise fails naming the command to run. */
export async function ensureHostPackages(progress: (msg: string) => void, isRoot = process.getuid?.() === 0): Promise<void> {
  const missing = await missingHostPackages();
  if (missing.length === 0) return;
  if (!isRoot) {
    throw infraError('LAB_HOST_PACKAGES', `the lab needs these Debian packages: ${missing.join(' ')}\n  install them with: sudo apt-get install ${missing.join(' ')}`);
  }
  progress(`installing host packages: ${missing.join(' ')}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await runProcessOk(['apt-get', 'update', '-qq'], { env });
  await runProcessOk(['apt-get', 'install', '-y', '-qq', ...missing], { env });
  const still = await missingHostPackages();
  if (still.length) throw infraError('LAB_HOST_PACKAGES', `still missing after apt-get install: ${still.join(' ')}`);
}
