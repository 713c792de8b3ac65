// The two disc/bundle layouts winpv meets, described once: read by the guest agents and the bundle
// readers, and written by `winpv build` (build/run-build.ts) and `winpv package bundle`
// (build/bundle.ts) through the same names. winpv writes no tools ISO (the vendor's win-installer
// does), so TOOLS_ISO is only read:
//
// winpv's own bundle (`winpv build`, `winpv package bundle`): manifest.json at the root naming each
// driver's package folder and INF (`xenbus/` or `xenbus/x64/`); without a manifest, a folder per
// driver holding `<driver>.inf`. A TestSign package carries its certificate beside its catalog
// (`xenbus.cer`, as the win-pv packages do).
//
// The vendor tools ISO (XenServer VM Tools, XCP-ng Windows PV Tools, built by win-installer): no
// INF packages to hand to pnputil but the installers, one per architecture —
// `managementagentx64.msi` / `managementagentx86.msi` and `Setup.exe` at the root (xenserver
// win-installer's build copies exactly these three), `managementagent-<version>-x64.msi`, or
// `package/XenDrivers-x64.msi` with its test certificates in `testsign/*.crt` (the layouts
// xcp-ng-tests' tests/guest_tools/win/test_guest_tools_win.py installs from).

export type LayoutArch = 'x64' | 'x86' | 'arm64';

/** Package folder names and INF platform decorations, as winpv names the architecture. */
export const ARCH_NAMES: Readonly<Record<string, LayoutArch>> = { x64: 'x64', amd64: 'x64', x86: 'x86', i386: 'x86', arm64: 'arm64' };

/** The folder `winpv build` writes a driver's package into, and where a bundle without a manifest
 *  has it: one folder per driver, named after it. */
const packageDir = (driver: string) => driver;
/** A file of a driver's package as `winpv build` writes it, relative to the bundle root. */
const packageFile = (driver: string, file: string) => `${packageDir(driver)}/${file}`;

export const WINPV_BUNDLE = {
  /** The manifest at the root: written by `winpv build` and `winpv package bundle`, read by every reader. */
  manifest: 'manifest.json',
  packageDir,
  packageFile,
  /** The INF of a driver in a bundle without a manifest. */
  flatInf: (driver: string) => packageFile(driver, `${driver}.inf`),
  /** The architecture a package folder names (`xenbus/x64`, `x86/xenbus`: the innermost segment that names one). */
  folderArch: (dir: string): LayoutArch | undefined => dir.toLowerCase().split('/').reverse().map((seg) => ARCH_NAMES[seg]).find((a) => a !== undefined),
  /** Test certificates travel as DER/PEM `.cer` (win-pv packages) or `.crt` files. */
  isTestCert: (path: string) => /\.(cer|crt)$/i.test(path),
} as const;

export const TOOLS_ISO = {
  /** Folders (relative to the disc root, `/`-separated) the vendor installers are found in. */
  installerDirs: ['', 'package'] as readonly string[],
  /** Folder of the test certificates of a test-signed tools ISO. */
  testCertDir: 'testsign',
  /** The installer for an architecture among the ones found (paths relative to the root): the only
   *  one, or the one whose name says the architecture (`x64`, `x86`, `arm64`, `amd64`). */
  installerFor(found: readonly string[], arch: string): string | undefined {
    if (found.length === 1) return found[0];
    const tokens = Object.entries(ARCH_NAMES).filter(([, a]) => a === arch).map(([n]) => n);
    const named = found.filter((f) => tokens.some((t) => new RegExp(`(^|[^a-z0-9])${t}([^a-z0-9]|$)|${t}\\.msi$`, 'i').test(f.split('/').at(-1)!)));
    return named.length === 1 ? named[0] : undefined;
  },
} as const;
