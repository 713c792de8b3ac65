// Writing a bundle directory as an ISO 9660 image with xorriso (Joliet + Rock Ridge, so Windows and
// Linux both see the long names). `winpv package bundle` makes its ISO with it, and the Windows
// agent makes the disc it hands a XenAPI guest from a directory or zip bundle.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { infraError, hostError } from '../model/errors';

/** ISO 9660 volume identifiers are at most 32 d-characters. */
export const isoVolumeId = (version: string) => `WINPV_${version.replace(/[^0-9A-Za-z]/g, '_')}`.toUpperCase().slice(0, 32);

/** Writes `dir` as an ISO image at `out` (labelled with the set's version); nothing is left at `out` when it fails. */
export async function writeIsoImage(dir: string, out: string, version: string): Promise<void> {
  const args = ['-as', 'mkisofs', '-quiet', '-J', '-joliet-long', '-R', '-V', isoVolumeId(version), '-o', out, dir];
  const stderr = await new Promise<string | undefined>((resolve, reject) => {
    execFile('xorriso', args, { maxBuffer: 16 << 20, encoding: 'utf8' }, (err, _stdout, errText) => {
      const e = err as (NodeJS.ErrnoException & { code?: string | number }) | null;
      if (e && e.code === 'ENOENT') reject(infraError('TOOL_MISSING', 'xorriso is not installed (Debian package xorriso); it is needed to write ISO bundles', e));
      else resolve(e ? errText || e.message : undefined);
    });
  });
  if (stderr !== undefined) {
    await rm(out, { force: true });
    throw hostError('XORRISO_FAILED', `xorriso could not write the ISO: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
  }
}
