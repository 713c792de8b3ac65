// The one place tests ask for a tool this machine may lack (Debian packages .ci/run and
// `npm run setup` install). Outside CI a missing tool skips the test with the Debian package to
// install; under CI (CI set, not "false"/"0") it FAILS, naming the package, so CI can never pass by
// skipping. A file that needs a tool at import time uses skipUnlessTool (a tap `skip` option); a
// test that finds out inside itself uses needTool / missing.
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The Debian package that provides each tool the tests use (README's list, .ci/run's PKGS). */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  xorriso: 'xorriso',
  osslsigncode: 'osslsigncode',
  openssl: 'openssl',
  unzip: 'unzip',
  xmllint: 'libxml2-utils',
  perl: 'perl',
  pkill: 'procps',
  prlimit: 'util-linux',
  setpriv: 'util-linux',
  gcc: 'gcc',
  python3: 'python3',
  mke2fs: 'e2fsprogs',
  debugfs: 'e2fsprogs',
  'mkfs.vfat': 'dosfstools',
  mcopy: 'mtools',
  mtype: 'mtools',
  syslinux: 'syslinux',
  'xenstore-read': 'xenstore-utils',
  'xenstore-write': 'xenstore-utils',
  'xenstore-ls': 'xenstore-utils',
  'xenstore-watch': 'xenstore-utils',
  '/usr/lib/xen-4.17/bin/test-xenstore': 'xen-utils-4.17',
  '/usr/include/xen/io/ring.h': 'libxen-dev',
  '/usr/include/xen/io/xenbus.h': 'libxen-dev',
};

/** Under CI a missing tool is a failure, not a skip. */
export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI;
  return v !== undefined && v !== '' && v !== 'false' && v !== '0';
}

/** The tool's path (a name on PATH, or an absolute path to a file that must exist). */
export function findTool(name: string): string | undefined {
  if (name.startsWith('/')) return existsSync(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export const hasTool = (name: string): boolean => findTool(name) !== undefined;

/** "x (Debian package p), y (Debian package q)" for the tools, grouped by package. */
export function missingReason(tools: readonly string[], pkgs: Readonly<Record<string, string>> = {}): string {
  const byPkg = new Map<string, string[]>();
  for (const tool of tools) {
    const pkg = pkgs[tool] ?? TOOL_PACKAGES[tool] ?? tool;
    byPkg.set(pkg, [...(byPkg.get(pkg) ?? []), tool]);
  }
  return [...byPkg].map(([pkg, ts]) => `${ts.join(', ')} (Debian package ${pkg})`).join('; ') + ' not installed: `npm run setup` or apt-get install them';
}

/**
 * A tap `skip` option for tests that need these tools: false when all are there; else the reason
 * naming the Debian packages. Under CI the file also gets a failing assertion with that reason.
 */
export function skipUnlessTool(...tools: string[]): string | false {
  const missing = tools.filter((x) => !hasTool(x));
  if (missing.length === 0) return false;
  const reason = missingReason(missing);
  if (inCI()) t.fail(`CI must not skip: ${reason}`);
  return reason;
}

/** Inside a test: the tool's path, or undefined after skipping it (outside CI) or failing it (CI). */
export function needTool(tt: Test, name: string, pkg = TOOL_PACKAGES[name] ?? name): string | undefined {
  const p = findTool(name);
  if (p) return p;
  missing(tt, missingReason([name], { [name]: pkg }));
  return undefined;
}

/** Skips the running test (outside CI) or fails it (in CI) for a missing prerequisite. */
export function missing(tt: Test, what: string): void {
  if (inCI()) tt.fail(`CI must not skip: ${what}`);
  else tt.plan(0, what);
}
