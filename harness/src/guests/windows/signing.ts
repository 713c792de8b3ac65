// What a Windows guest must allow before a bundle's drivers can load there, read before the
// install changes anything: the processor architecture (an x86 or arm64 package never binds on an
// x64 guest) and, for a test-signed build, Secure Boot and test signing.
//
// Test-signed drivers load only when test signing is on for this boot and the test certificate
// chains to a trusted root (Microsoft, "The TESTSIGNING Boot Configuration Option" and "Installing
// a Test Certificate on a Test Computer": certificate in the LocalMachine Root and
// TrustedPublisher stores, `bcdedit /set testsigning on`, restart). With Secure Boot on, bcdedit
// refuses ("The value is protected by Secure Boot policy and cannot be modified or deleted",
// Microsoft, "BCDEdit /set"), so such a build is refused before the guest is touched.
import type { SshConnection } from '../../remote/ssh';
import { guestError, inputError } from '../../model/errors';
import { runPs, runPsJson } from './powershell';

/** Architectures as winpv names them. */
export type GuestArch = 'x64' | 'x86' | 'arm64';

export interface GuestSigningFacts {
  arch: GuestArch | string;
  /** Secure Boot on (Confirm-SecureBootUEFI; the registry's UEFISecureBootEnabled where the cmdlet is missing). */
  secureBoot: boolean;
  /** Test signing in force in this boot (SystemStartOptions carries TESTSIGNING), not the BCD's next-boot value. */
  testSigning: boolean;
}

/** PROCESSOR_ARCHITECTURE of the native OS (PROCESSOR_ARCHITEW6432 when PowerShell itself runs as WOW64). */
const ARCH: Record<string, GuestArch> = { AMD64: 'x64', X86: 'x86', ARM64: 'arm64' };

const FACTS_SCRIPT = `
$a = if ($env:PROCESSOR_ARCHITEW6432) { $env:PROCESSOR_ARCHITEW6432 } else { $env:PROCESSOR_ARCHITECTURE }
# Confirm-SecureBootUEFI throws on a BIOS guest (not supported) and without rights; the registry value
# HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecureBoot\\State UEFISecureBootEnabled says the same.
$sb = $false
try { $sb = [bool](Confirm-SecureBootUEFI) } catch {
  $v = Get-ItemProperty -ErrorAction SilentlyContinue 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecureBoot\\State'
  if ($v) { $sb = ($v.UEFISecureBootEnabled -eq 1) }
}
$opts = (Get-ItemProperty 'HKLM:\\SYSTEM\\CurrentControlSet\\Control').SystemStartOptions
[pscustomobject]@{ arch = [string]$a; secureBoot = $sb; testSigning = ([string]$opts -match '\\bTESTSIGNING\\b') } | ConvertTo-Json -Compress
`;

/** Reads the facts; changes nothing in the guest. */
export async function readSigningFacts(ssh: SshConnection): Promise<GuestSigningFacts> {
  const f = await runPsJson<{ arch: string; secureBoot: boolean; testSigning: boolean }>(ssh, 'guest-facts', {}, FACTS_SCRIPT);
  return { arch: ARCH[f.arch.toUpperCase()] ?? f.arch, secureBoot: f.secureBoot === true, testSigning: f.testSigning === true };
}

/** What a bundle says about itself that decides whether it can load in a guest. */
export interface BundleTraits {
  /** Where the bundle is (named in errors). */
  where: string;
  /** Each driver's package architecture, where the bundle says it. */
  archs: Map<string, GuestArch | string>;
  /** build.ps1 -SignMode of the set (TestSign, ProductionSign, Off) or undefined when not said. */
  signMode?: string;
  /** Test certificates the bundle carries (relative paths), for a TestSign set. */
  testCerts: string[];
}

export const isTestSigned = (signMode: string | undefined) => signMode === 'TestSign';

/** Refuses, before anything changes in the guest, a bundle that cannot load there. */
export function refuseUnloadable(guest: string, b: BundleTraits, f: GuestSigningFacts): void {
  const wrong = [...b.archs].filter(([, a]) => a !== f.arch);
  if (wrong.length) {
    throw inputError('BUNDLE_ARCH', `${guest} runs ${f.arch} Windows, but in the bundle ${b.where} ${wrong.map(([d, a]) => `the ${d} package is ${a}`).join(', ')}: Windows binds only packages of its own architecture`, [], { file: b.where });
  }
  if (b.signMode === 'Off') {
    throw inputError('BUNDLE_UNSIGNED', `${b.where}: the bundle was built unsigned (SignMode Off): 64-bit Windows loads no unsigned kernel driver; build it with TestSign or ProductionSign`, [], { file: b.where });
  }
  if (!isTestSigned(b.signMode)) return;
  if (f.secureBoot) {
    throw inputError('SECURE_BOOT_TEST_SIGNED', `${guest} boots with Secure Boot on and the bundle (${b.where}) is test-signed: Windows will not turn test signing on under Secure Boot (bcdedit: "The value is protected by Secure Boot policy"). Use a production-signed build, or turn Secure Boot off for this VM (XenServer/XCP-ng: platform:secureboot=false while it is halted)`, [], { file: b.where });
  }
  if (!b.testCerts.length) {
    throw inputError('BUNDLE_NO_TEST_CERT', `${b.where}: the bundle is test-signed but carries no test certificate (.cer) to trust in the guest; put the certificate the build signed with beside the catalogs (<driver>.cer, as the win-pv packages carry it) or at the bundle's root`, [], { file: b.where });
  }
}

/** Trusts the test certificates (LocalMachine Root and TrustedPublisher) and asks for test signing
 *  from the next boot. Returns whether a restart is needed for it to take effect. */
export async function enableTestSigning(ssh: SshConnection, guest: string, certs: string[], f: GuestSigningFacts): Promise<boolean> {
  await runPs(ssh, 'trust-test-cert', { certs }, `
foreach ($c in $p.certs) {
  Import-Certificate -FilePath $c -CertStoreLocation Cert:\\LocalMachine\\Root | Out-Null
  Import-Certificate -FilePath $c -CertStoreLocation Cert:\\LocalMachine\\TrustedPublisher | Out-Null
}`);
  if (f.testSigning) return false;
  await runPs(ssh, 'bcdedit-testsigning', {}, `& bcdedit.exe /set testsigning on\nexit $LASTEXITCODE`).catch((e: Error) => {
    throw guestError('GUEST_TESTSIGNING', `${guest}: bcdedit /set testsigning on failed (${e.message}); with Secure Boot on only production-signed drivers can be used`);
  });
  return true;
}

/** One file's Authenticode verdict as Get-AuthenticodeSignature gives it (System.Management.Automation.SignatureStatus). */
export interface FileSignature {
  path: string;
  /** Valid, NotSigned, HashMismatch, NotTrusted, UnknownError, NotSupportedFileFormat, Incompatible. */
  status: string;
  signer: string;
}

/**
 * A disc without a manifest (the vendor tools ISO installed with method="installer") says nothing
 * about its signing, so the guest is asked what Windows itself will decide: Get-AuthenticodeSignature
 * of the installer and of every driver catalog on the disc (the catalogs are what Code Integrity
 * checks a kernel driver against at load), and the test certificates the disc carries (TOOLS_ISO's
 * testsign folder, or .cer/.crt files at the root). Changes nothing in the guest.
 */
export async function readDiscSignatures(ssh: SshConnection, root: string, msi: string, certDirs: string[]): Promise<{ files: FileSignature[]; certs: string[] }> {
  const r = await runPsJson<{ files: FileSignature[] | null; certs: string[] | null }>(ssh, 'authenticode', { root, msi, certDirs }, `
$files = @($p.msi) + @(Get-ChildItem -LiteralPath $p.root -Recurse -File -Filter *.cat -ErrorAction SilentlyContinue | ForEach-Object { $_.FullName })
$sigs = @(foreach ($f in $files) {
  $s = Get-AuthenticodeSignature -LiteralPath $f
  [pscustomobject]@{ path = $f; status = [string]$s.Status; signer = $(if ($s.SignerCertificate) { $s.SignerCertificate.Subject } else { '' }) }
})
$certs = @(foreach ($d in $p.certDirs) { if (Test-Path -LiteralPath $d) { Get-ChildItem -File -LiteralPath $d | Where-Object { $_.Extension -in '.cer', '.crt' } | ForEach-Object { $_.FullName } } })
[pscustomobject]@{ files = $sigs; certs = $certs } | ConvertTo-Json -Compress -Depth 4`);
  return { files: r.files ?? [], certs: r.certs ?? [] };
}

/**
 * What the signatures of a manifest-less disc mean, as Windows would apply them: every file Valid is
 * a production-signed build; a signature whose chain ends in a root this guest does not trust
 * (UnknownError / NotTrusted: how a test-signed build looks before its test root is imported) is a
 * test-signed build, which then goes through the same test-signing steps and Secure Boot refusal as a
 * TestSign bundle; NotSigned is refused (x64 Windows loads no kernel driver from an unsigned catalog:
 * Microsoft, "Driver Signing Policy"; win-installer signs the MSI of every signed build), and a file
 * whose content no longer matches its signature (HashMismatch) or that cannot carry one is refused.
 */
export function discSigningTraits(where: string, root: string, found: { files: FileSignature[]; certs: string[] }): BundleTraits {
  const name = (f: FileSignature) => f.path.split('\\').at(-1) ?? f.path;
  const unsigned = found.files.filter((f) => f.status === 'NotSigned');
  if (unsigned.length) {
    throw inputError('BUNDLE_UNSIGNED', `${where}: ${unsigned.map(name).join(', ')} carr${unsigned.length === 1 ? 'ies' : 'y'} no Authenticode signature (Get-AuthenticodeSignature in the guest: NotSigned): 64-bit Windows loads no kernel driver from an unsigned catalog, and a signed tools build signs its installer; use a signed build of the tools`, [], { file: where });
  }
  const broken = found.files.filter((f) => !['Valid', 'UnknownError', 'NotTrusted'].includes(f.status));
  if (broken.length) {
    throw inputError('BUNDLE_SIGNATURE', `${where}: ${broken.map((f) => `${name(f)} (${f.status})`).join(', ')}: the signature does not match the file or the file cannot carry one (Get-AuthenticodeSignature in the guest); the disc is damaged or was changed after signing`, [], { file: where });
  }
  const untrusted = found.files.some((f) => f.status !== 'Valid');
  // certificates relative to the disc's root, forward slashes, as every bundle's traits name them
  const rel = (c: string) => (c.toLowerCase().startsWith(`${root.toLowerCase()}\\`) ? c.slice(root.length + 1) : c).split('\\').join('/');
  return { where, archs: new Map(), signMode: untrusted ? 'TestSign' : 'ProductionSign', testCerts: found.certs.map(rel) };
}
