// The vendor installer path of a driver install, and Driver Verifier's own account of what it
// verifies. msiexec's exit codes are Windows Installer's: 0 done, 3010 done but a reboot is needed,
// 1641 done and the installer started a reboot (it must not, with /norestart), anything else failed.

export interface InstallerOutcome {
  ok: boolean;
  rebootRequired: boolean;
  /** One line for the trace or the error. */
  summary: string;
}

/** The meaning of msiexec's exit code, with the log's tail to say why a failure failed. */
export function installerOutcome(exitCode: number, logTail: string): InstallerOutcome {
  if (exitCode === 0) return { ok: true, rebootRequired: false, summary: 'installed' };
  if (exitCode === 3010) return { ok: true, rebootRequired: true, summary: 'installed, reboot required (3010)' };
  if (exitCode === 1641) return { ok: true, rebootRequired: true, summary: 'installed, and the installer started a reboot itself (1641) despite /norestart' };
  const known: Record<number, string> = {
    1602: 'cancelled by the user',
    1603: 'fatal error during installation',
    1618: 'another installation is in progress',
    1619: 'the package could not be opened',
    1620: 'the package could not be opened (not a valid Windows Installer package)',
    1625: 'installation forbidden by system policy',
    1638: 'another version of this product is already installed',
  };
  // Windows Installer logs the failing action as "Return value 3" a few lines after its cause.
  const lines = logTail.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const at = lines.findIndex((l) => /Return value 3\b/.test(l));
  const why = (at >= 0 ? lines.slice(Math.max(0, at - 3), at + 1) : lines.slice(-3)).join(' | ');
  return { ok: false, rebootRequired: false, summary: `msiexec exited ${exitCode} (${known[exitCode] ?? 'failed'})${why ? `: ${why}` : ''}` };
}

/** The driver files in `verifier /querysettings` output (the list under "Verified drivers:"),
 *  lower-cased; empty when none are verified. */
export function parseVerifierSettings(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const at = lines.findIndex((l) => /^\s*Verified drivers\s*:/i.test(l));
  if (at < 0) return [];
  const out: string[] = [];
  for (const line of lines.slice(at)) for (const m of line.matchAll(/\b([\w.-]+\.sys)\b/gi)) out.push(m[1]!.toLowerCase());
  return [...new Set(out)];
}
