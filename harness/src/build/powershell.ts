// The PowerShell a Windows builder runs for one driver: go to the driver's checkout, set the
// version and vendor environment build.ps1 reads, report the source commit, run build.ps1, and
// list the package it produced. Every value is quoted with psQuote; the script travels as
// -EncodedCommand (base64 of UTF-16LE), so neither cmd.exe nor the SSH server re-parses it.
import { psQuote } from '../util/quote';

export interface DriverBuildRequest {
  driver: string;
  /** The driver's checkout on the builder, e.g. `C:\winpv\src\xenvif`. */
  sourceDir: string;
  /** build.ps1 (or another script the spec names) relative to sourceDir. */
  entry: string;
  type: 'free' | 'checked';
  arch: 'x64' | 'x86';
  signMode?: string;
  /** MAJOR.MINOR.MICRO.BUILD_NUMBER stamped into DriverVer; absent: the checkout's own. */
  version?: string;
  vendorPrefix?: string;
  vendorName?: string;
}

/** Markers the script prints on stdout; everything else is build output. */
export const MARKER = { commit: 'WINPV-SOURCE-COMMIT', file: 'WINPV-FILE', packageDir: 'WINPV-PACKAGE-DIR' } as const;

/** Where build.ps1 leaves the package: <checkout>\<driver>\<arch> (as the win-pv repositories do). */
const packageDirOf = (r: Pick<DriverBuildRequest, 'sourceDir' | 'driver' | 'arch'>) => `${r.sourceDir.replace(/[\\/]+$/, '')}\\${r.driver}\\${r.arch}`;

export function buildScript(r: DriverBuildRequest): string {
  const lines = ["$ErrorActionPreference = 'Stop'", '$ProgressPreference = \'SilentlyContinue\'', `Set-Location -LiteralPath ${psQuote(r.sourceDir)}`];
  if (r.version) {
    const [major, minor, micro, build] = r.version.split('.');
    lines.push(`$env:MAJOR_VERSION = ${psQuote(major)}`, `$env:MINOR_VERSION = ${psQuote(minor)}`, `$env:MICRO_VERSION = ${psQuote(micro)}`, `$env:BUILD_NUMBER = ${psQuote(build)}`);
  }
  if (r.vendorPrefix) lines.push(`$env:VENDOR_PREFIX = ${psQuote(r.vendorPrefix)}`);
  if (r.vendorName) lines.push(`$env:VENDOR_NAME = ${psQuote(r.vendorName)}`);
  lines.push(
    '$commit = (& git rev-parse HEAD 2>$null)',
    `if ($LASTEXITCODE -eq 0 -and $commit) { Write-Output (${psQuote(MARKER.commit + ' ')} + $commit) }`,
    `& (Join-Path -Path (Get-Location) -ChildPath ${psQuote(r.entry)}) -Type ${psQuote(r.type)} -Arch ${psQuote(r.arch)}${r.signMode ? ` -SignMode ${psQuote(r.signMode)}` : ''}`,
    '$code = $LASTEXITCODE',
    'if ($code -ne 0) { exit $code }',
    `$pkg = ${psQuote(packageDirOf(r))}`,
    `Write-Output (${psQuote(MARKER.packageDir + ' ')} + $pkg)`,
    `Get-ChildItem -LiteralPath $pkg -File | ForEach-Object { Write-Output (${psQuote(MARKER.file + ' ')} + $_.Length + ' ' + $_.Name) }`,
    'exit 0',
  );
  return lines.join('\r\n');
}

/** The command line that runs a script: powershell.exe with the script as -EncodedCommand. */
export function encodedCommandLine(script: string): string {
  const encoded = Buffer.from(script, 'utf16le').toString('base64');
  return `powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ${encoded}`;
}

/** Decodes an -EncodedCommand line back to the script (the test builder and logs use it). */
export function decodeCommandLine(line: string): string | undefined {
  const m = /-EncodedCommand\s+([A-Za-z0-9+/=]+)/.exec(line);
  return m ? Buffer.from(m[1], 'base64').toString('utf16le') : undefined;
}

export interface BuildMarkers {
  commit?: string;
  packageDir?: string;
  files: { name: string; size: number }[];
}

/** Splits a marker line out of the output; returns false for ordinary output. */
export function takeMarker(line: string, into: BuildMarkers): boolean {
  const l = line.replace(/\r$/, '');
  if (l.startsWith(MARKER.commit + ' ')) into.commit = l.slice(MARKER.commit.length + 1).trim();
  else if (l.startsWith(MARKER.packageDir + ' ')) into.packageDir = l.slice(MARKER.packageDir.length + 1).trim();
  else if (l.startsWith(MARKER.file + ' ')) {
    const m = /^(\d+) (.+)$/.exec(l.slice(MARKER.file.length + 1));
    if (!m) return false;
    into.files.push({ size: Number(m[1]), name: m[2] });
  } else return false;
  return true;
}
