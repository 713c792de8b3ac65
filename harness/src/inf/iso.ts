// Writing a bundle directory as an ISO 9660 image with xorriso (Joliet + Rock Ridge, so Windows and
// Linux both see the long names). `winpv package bundle` makes its ISO with it, and the Windows
// agent makes the disc it hands a XenAPI guest from a directory or zip bundle.
import { rm } from 'node:fs/promises';
import { hostError } from '../model/errors';
import { runProcess } from '../util/process';

/** ISO 9660 volume identifiers are at most 32 d-characters. */
export const isoVolumeId = (version: string) => `WINPV_${version.replace(/[^0-9A-Za-z]/g, '_')}`.toUpperCase().slice(0, 32);

/** Writes `dir` as an ISO image at `out` (labelled with the set's version); nothing is left at `out` when it fails. */
export async function writeIsoImage(dir: string, out: string, version: string): Promise<void> {
  const args = ['-as', 'mkisofs', '-quiet', '-J', '-joliet-long', '-R', '-V', isoVolumeId(version), '-o', out, dir];
  const r = await runProcess(['xorriso', ...args], { timeoutMs: 10 * 60_000 }).catch(async (e: unknown) => {
    await rm(out, { force: true });
    throw e;
  });
  if (r.code !== 0) {
    await rm(out, { force: true });
    throw hostError('XORRISO_FAILED', `xorriso could not write the ISO: ${(r.stderr || `exit ${r.code}`).trim().split('\n').slice(-3).join(' / ')}`);
  }
}
