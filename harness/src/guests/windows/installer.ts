// The vendor's installer and Driver Verifier, the two install options a scenario can ask for on a
// Windows guest. The installer is the .msi at the root of the driver bundle (XenServer VM Tools,
// XCP-ng Windows PV Tools), run quietly by msiexec without letting it restart the guest: the
// scenario's reboot step does that, so the probes can follow the new domain.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SshConnection } from '../../remote/ssh';
import { inputError } from '../../model/errors';
import { guestError, runPs, runPsJson } from './powershell';
import { TOOLS_ISO } from '../../inf/layouts';

/** msiexec exit codes (Windows Installer error codes) the harness reads. */
const MSI_EXIT: Record<number, string> = {
  0: 'success',
  1602: 'the user cancelled the installation',
  1603: 'fatal error during installation',
  1605: 'this action is only valid for products that are currently installed',
  1618: 'another installation is already in progress',
  1619: 'the installation package could not be opened',
  1620: 'the installation package is not a valid package',
  1625: 'the installation is forbidden by system policy',
  1633: 'the package is not supported on this processor type',
  1638: 'another version of this product is already installed',
  1641: 'the installer has initiated a restart',
  3010: 'a restart is required to complete the install',
};

export const msiExitMeaning = (code: number): string => MSI_EXIT[code] ?? `Windows Installer error ${code}`;

/** The installer of a bundle directory: exactly one .msi at its root. */
export function localInstaller(bundleDir: string): string {
  const msis = readdirSync(bundleDir).filter((n) => /\.msi$/i.test(n) && statSync(join(bundleDir, n)).isFile());
  if (msis.length !== 1) {
    throw inputError('BUNDLE_NO_INSTALLER', msis.length ? `the bundle has ${msis.length} installers at its root (${msis.join(', ')}); the vendor install needs one` : 'the bundle has no installer (.msi) at its root for method="installer"', [], { file: bundleDir });
  }
  return msis[0]!;
}

/** The installer for the guest's architecture on the bundle disc (`D:`), where the vendor tools ISO
 *  keeps them (inf/layouts.ts TOOLS_ISO: the root or `package\`, one per architecture). */
export async function discInstaller(ssh: SshConnection, guest: string, drive: string, arch: string): Promise<string> {
  const roots = TOOLS_ISO.installerDirs.map((d) => (d ? `${drive}\\${d.split('/').join('\\')}\\` : `${drive}\\`));
  const full = await runPsJson<string[]>(ssh, 'find-msi', { roots }, `ConvertTo-Json -Compress -InputObject @(foreach ($r in $p.roots) { if (Test-Path -LiteralPath $r) { Get-ChildItem -File -LiteralPath $r -Filter *.msi | ForEach-Object { $_.FullName } } })`);
  const rel = full.map((f) => f.slice(drive.length + 1).split('\\').join('/'));
  const pick = TOOLS_ISO.installerFor(rel, arch);
  if (!pick) {
    throw guestError('BUNDLE_NO_INSTALLER', `${guest}: the bundle disc has ${rel.length ? `${rel.length} installers (${rel.join(', ')}) and none is the one for ${arch}` : `no installer (.msi) at its root or in ${TOOLS_ISO.installerDirs.filter(Boolean).join(', ')}`}`);
  }
  return full[rel.indexOf(pick)]!;
}

/** Runs the installer quietly, without a restart; returns whether Windows wants one. A failure's
 *  verbose log is handed to `keepLog` (the host collects it into the report) before it is reported. */
export async function runInstaller(ssh: SshConnection, guest: string, msi: string, log: string, keepLog?: (guestPath: string) => Promise<string>): Promise<{ rebootRequired: boolean }> {
  // msiexec is a GUI program: piping it makes PowerShell wait for it and set $LASTEXITCODE.
  const r = await runPs(ssh, 'msiexec', { msi, log }, `& msiexec.exe /i $p.msi /qn /norestart /l*v $p.log | Out-Null\nexit $LASTEXITCODE`, { okCodes: 'any', timeoutMs: 20 * 60_000 });
  const code = r.code ?? -1;
  if (code !== 0 && code !== 1641 && code !== 3010) {
    const where = keepLog ? await keepLog(log).catch((e: Error) => `${log} in the guest (not collected: ${e.message})`) : `${log} in the guest`;
    throw guestError('GUEST_DRIVER_INSTALL', `${guest}: the vendor installer ${msi} failed (${code}: ${msiExitMeaning(code)}); its log is ${where}`);
  }
  return { rebootRequired: code === 3010 || code === 1641 };
}

/** Driver Verifier with the standard settings on these drivers (`xenbus.sys` ...), from the next boot. */
export async function enableVerifier(ssh: SshConnection, drivers: string[]): Promise<void> {
  // verifier.exe exits 2 when the settings need a reboot, which they always do.
  await runPs(ssh, 'verifier', { drivers }, `& verifier.exe /standard /driver @($p.drivers)\nexit $LASTEXITCODE`, { okCodes: [0, 2] });
}

/** The drivers Driver Verifier checks now. `verifier /querysettings` shows the settings for the next
 *  boot (what /standard /driver just wrote), so it would pass before any reboot; `verifier /query`
 *  shows the running verifier's statistics per verified driver loaded now. Its labels are in the
 *  display language, so only the driver image names (`xenbus.sys`) are read. */
export async function verifiedDrivers(ssh: SshConnection): Promise<string[]> {
  const r = await runPs(ssh, 'verifier-query', {}, `& verifier.exe /query\nexit $LASTEXITCODE`);
  return parseVerifierQuery(r.stdout);
}

/** Driver image names in `verifier /query` output (any display language). */
export function parseVerifierQuery(text: string): string[] {
  return [...new Set([...text.matchAll(/(?:^|[\s:,])([A-Za-z0-9_-]+\.sys)\b/gim)].map((m) => m[1]!.toLowerCase()))];
}
