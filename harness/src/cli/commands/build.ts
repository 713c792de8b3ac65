// winpv build: run each driver's build.ps1 on a Windows builder in dependency order and collect
// the packages into build/<version>/<driver>/ with a manifest. Reports in TAP.
import { join, resolve } from 'node:path';
import type { Command, CommandContext } from '../command';
import { parseCommandArgs } from '../command';
import { packageRoot, resolveBuilderConfig } from '../config';
import { ExitCode, usageError } from '../../model/errors';
import type { DriverName, SpecSet } from '../../model/spec';
import { openBuilder, type Builder } from '../../build/builder';
import { runBuild } from '../../build/run-build';
import { loadSpecs } from '../../spec/load';
import { TapWriter } from '../../build/tap';
import { parseFourPartVersion } from '../../inf/index';

const HELP = `usage: winpv build [options]

Runs each driver's build.ps1 (the entry its drivers-spec build section names) in dependency order
(xenbus before xenvif before xennet; xenvbd; xeniface) on a Windows builder, streams the output,
skips the dependents of a driver that fails, and collects the packages into
<out>/<version>/<driver>/ with manifest.json. Then: winpv package verify <out>/<version>.

options:
  --drivers LIST        comma-separated drivers (default: every driver in the specs)
  --type free|checked   build type (default free)
  --arch x64|x86        architecture (default x64)
  --sign-mode MODE      passed to build.ps1 -SignMode (default TestSign)
  --builder URL         ssh://user@windows-builder[:port] or local (Windows only);
                        default $WINPV_BUILDER, else local
  --source-root DIR     directory on the builder with one checkout per driver
                        (default $WINPV_BUILD_SOURCE_ROOT, else C:\\winpv\\src)
  --build-version V     stamp w.x.y.z into every driver (MAJOR/MINOR/MICRO_VERSION, BUILD_NUMBER)
  --vendor PREFIX       VENDOR_PREFIX for build.ps1 (XP, XN, ...)
  --vendor-name NAME    VENDOR_NAME for build.ps1
  --out DIR             local output root (default build/ of this installation)
  --specs DIR           driver specs (default drivers-spec/ of this installation)
  --timeout SECONDS     per-driver limit (default 3600)
  --identity FILE       SSH private key (default $WINPV_SSH_IDENTITY); password: $WINPV_SSH_PASSWORD
  --known-hosts FILE    check the builder's host key against this file (default ~/.ssh/known_hosts)
  --host-key SHA256:..  or pin the host key's fingerprint

output: TAP version 14, build output as comments; exit 0 all built, 1 a driver failed,
2 bad usage or specs, 3 the builder could not be reached
`;

const OPTIONS = {
  drivers: { type: 'string' },
  type: { type: 'string' },
  arch: { type: 'string' },
  'sign-mode': { type: 'string' },
  builder: { type: 'string' },
  'source-root': { type: 'string' },
  'build-version': { type: 'string' },
  vendor: { type: 'string' },
  'vendor-name': { type: 'string' },
  out: { type: 'string' },
  specs: { type: 'string' },
  timeout: { type: 'string' },
  identity: { type: 'string' },
  'known-hosts': { type: 'string' },
  'host-key': { type: 'string' },
} as const;

export interface BuildDeps {
  loadSpecs(dir: string, cwd: string): SpecSet | Promise<SpecSet>;
  openBuilder: typeof openBuilder;
}

export async function buildMain(ctx: CommandContext, deps: BuildDeps): Promise<number> {
  const parsed = parseCommandArgs(ctx, { help: HELP }, OPTIONS);
  if (!parsed) return ExitCode.ok;
  const v = parsed.values;
  const type = v.type ?? 'free';
  if (type !== 'free' && type !== 'checked') throw usageError(`--type takes free or checked, not '${type}'`);
  const arch = v.arch ?? 'x64';
  if (arch !== 'x64' && arch !== 'x86') throw usageError(`--arch takes x64 or x86, not '${arch}'`);
  if (v['build-version'] !== undefined && !parseFourPartVersion(v['build-version']).ok) throw usageError(`--build-version takes w.x.y.z (each 0..65535), not '${v['build-version']}'`);
  const timeout = v.timeout !== undefined ? Number(v.timeout) : 3600;
  if (!Number.isInteger(timeout) || timeout <= 0) throw usageError(`--timeout takes whole seconds, not '${v.timeout}'`);
  const specs = await deps.loadSpecs(resolve(ctx.cwd, v.specs ?? join(packageRoot(), 'drivers-spec')), ctx.cwd);
  const drivers = (v.drivers ? v.drivers.split(',').map((d) => d.trim()).filter(Boolean) : [...specs.keys()]) as DriverName[];
  if (drivers.length === 0) throw usageError('--drivers names no driver');

  const b = resolveBuilderConfig({ builder: v.builder, identity: v.identity, sourceRoot: v['source-root'] }, ctx.env);
  const builder: Builder = await deps.openBuilder(
    b.url,
    {
      ...(b.identityFile ? { identityFile: resolve(ctx.cwd, b.identityFile) } : {}),
      ...(v['known-hosts'] ? { knownHostsFile: resolve(ctx.cwd, v['known-hosts']) } : {}),
      ...(v['host-key'] ? { hostKeySha256: v['host-key'] } : {}),
      ...(b.password ? { password: b.password } : {}),
    },
    ctx.signal,
  );
  const tap = new TapWriter(ctx.out);
  try {
    const r = await runBuild({
      specs,
      drivers,
      type,
      arch,
      signMode: v['sign-mode'] ?? 'TestSign',
      ...(v['build-version'] ? { version: v['build-version'] } : {}),
      ...(v.vendor ? { vendorPrefix: v.vendor } : {}),
      ...(v['vendor-name'] ? { vendorName: v['vendor-name'] } : {}),
      sourceRoot: b.sourceRoot,
      outRoot: resolve(ctx.cwd, v.out ?? join(packageRoot(), 'build')),
      builder,
      tap,
      timeoutMs: timeout * 1000,
    });
    if (r.dir) tap.comment(`packages in ${r.dir}; next: winpv package verify ${r.dir}`);
    return tap.end().failed > 0 ? ExitCode.testFailed : ExitCode.ok;
  } finally {
    await builder.close();
  }
}

const command: Command = {
  name: 'build',
  summary: 'build the drivers with their build.ps1 on a Windows builder',
  help: HELP,
  run(ctx) {
    return buildMain(ctx, { loadSpecs, openBuilder });
  },
};
export default command;
