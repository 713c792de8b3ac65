// winpv package verify|bundle: judge a package set against drivers-spec/ and ship it as ISO + zip.
// Both report in TAP (one point per check per driver), so CI treats a broken package like a failed test.
import { join, resolve } from 'node:path';
import type { Command, CommandContext } from '../command';
import { parseCommandArgs, runSubcommand } from '../command';
import { packageRoot } from '../config';
import { ExitCode, usageError } from '../../model/errors';
import type { SpecSet } from '../../model/spec';
import { openBundle, type Arch } from '../../inf/index';
import { loadSpecs } from '../../spec/load';
import { TapWriter } from '../../build/tap';
import { enforcedSignMode, verifyPackageSet, type VerifyPoint, type VerifyReport } from '../../build/verify';
import { writeBundle } from '../../build/bundle';

const HELP = `usage: winpv package verify <dir|iso|zip> [options]
       winpv package bundle <dir> [--out DIR] [options]

verify   parse every INF of a set (a directory, or a shipped ISO or zip) and check it
         against drivers-spec/: INF syntax, DriverVer, one version across the set, hardware
         IDs inside the spec and the vendor's range, child revisions advertised by the bus
         driver in the set, services, files present, catalog digests, Authenticode
         signatures of .sys, .cat, .dll and .exe (osslsigncode; every signature of a file,
         timestamps honoured), the manifest's sizes and sha256
bundle   verify, then write winpv-drivers-<version>.iso and .zip with manifest.json inside
         (default --out: <dir>/..), and read both back

options:
  --specs DIR        driver specs (default: drivers-spec/ of this installation)
  --arch x64|x86     architecture of packages whose directory does not name one (default x64)
  --vendor PREFIX    the set's vendor prefix (default: the manifest's, else the bus driver's IDs)
  --sign-mode MODE   the signing to enforce (default TestSign); the set's own manifest.json is only
                     compared with it, never obeyed:
                       TestSign        signatures verify against --ca-file (or the system roots)
                       ProductionSign  signatures verify against --production-roots only; a
                                       self-signed signer is refused
                       Off (NoSign)    signatures are not checked
  --ca-file PEM      trusted root for TestSign chains (the test certificate)
  --production-roots PEM
                     trusted roots for ProductionSign (e.g. the Microsoft roots your attestation or
                     WHQL signatures chain to); required with --sign-mode ProductionSign
  --tsa-ca-file PEM  trusted roots of the timestamp authorities (default: the system roots); a
                     signature countersigned by a trusted timestamp verifies at the timestamp's
                     time, after its signer's certificate has expired (reported with the time)
  --version W.X.Y.Z  the version every package must have (default: the manifest's, else xenbus's)

output: TAP version 14; exit 0 all checks pass, 1 a check failed, 2 unusable input
`;

const OPTIONS = {
  specs: { type: 'string' },
  arch: { type: 'string' },
  vendor: { type: 'string' },
  'sign-mode': { type: 'string' },
  'ca-file': { type: 'string' },
  'production-roots': { type: 'string' },
  'tsa-ca-file': { type: 'string' },
  version: { type: 'string' },
  out: { type: 'string' },
} as const;

export type SpecLoader = (dir: string, cwd: string) => SpecSet | Promise<SpecSet>;

function pointToTap(tap: TapWriter, p: VerifyPoint): void {
  const message = p.driver && p.message.startsWith(`${p.driver}: `) ? p.message.slice(p.driver.length + 2) : p.message;
  tap.point({
    ok: p.ok,
    description: `${p.subject} ${p.check}: ${message}`,
    ...(p.skip ? { skip: p.skip } : {}),
    // A passing point keeps its diagnostics too when it has any (a signature that holds by its
    // timestamp says when it was countersigned).
    ...(p.diagnostics ? { diagnostics: { check: p.check, ...(p.driver ? { driver: p.driver } : {}), ...p.diagnostics } } : {}),
  });
}

async function verifyFromArgs(ctx: CommandContext, loadSpecs: SpecLoader, bundle: boolean) {
  const parsed = parseCommandArgs(ctx, { help: HELP }, OPTIONS, { positionals: true });
  if (!parsed) return undefined;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw usageError(`winpv package ${bundle ? 'bundle' : 'verify'} takes one directory\n\n${HELP}`);
  if (!bundle && values.out) throw usageError('--out is an option of winpv package bundle');
  if (values.arch && values.arch !== 'x64' && values.arch !== 'x86') throw usageError(`--arch takes x64 or x86, not '${values.arch}'`);
  const root = resolve(ctx.cwd, positionals[0]);
  const specs = await loadSpecs(resolve(ctx.cwd, values.specs ?? join(packageRoot(), 'drivers-spec')), ctx.cwd);
  const productionRoots = values['production-roots'] ? resolve(ctx.cwd, values['production-roots']) : undefined;
  // A wrong mode is a usage error before anything is opened.
  const signMode = enforcedSignMode({ signMode: values['sign-mode'], productionRoots });
  // verify also takes a shipped ISO or zip; bundle works from the directory it packs.
  const opened = bundle ? undefined : await openBundle(root);
  const report = await verifyPackageSet(opened?.dir ?? root, {
    specs,
    ...(values.arch ? { arch: values.arch as Arch } : {}),
    ...(values.vendor ? { vendorPrefix: values.vendor } : {}),
    signMode,
    ...(values['ca-file'] ? { caFile: resolve(ctx.cwd, values['ca-file']) } : {}),
    ...(productionRoots ? { productionRoots } : {}),
    ...(values['tsa-ca-file'] ? { tsaCaFile: resolve(ctx.cwd, values['tsa-ca-file']) } : {}),
    ...(values.version ? { version: values.version } : {}),
  }).finally(() => opened?.cleanup());
  return { root, report, out: values.out ? resolve(ctx.cwd, values.out) : resolve(root, '..') };
}

function writeReport(tap: TapWriter, root: string, report: VerifyReport): void {
  tap.comment(`package set ${root}: version ${report.version ?? '?'}, vendor ${report.vendorPrefix ?? '?'}, ${report.packages.length} package(s)`);
  for (const p of report.points) pointToTap(tap, p);
  if (report.signers.length > 0) tap.comment(`signed by ${report.signers.join('; ')}`);
}

export function packageTable(loadSpecs: SpecLoader): Record<string, (ctx: CommandContext) => Promise<number>> {
  return {
    async verify(ctx) {
      const v = await verifyFromArgs(ctx, loadSpecs, false);
      if (!v) return ExitCode.ok;
      const tap = new TapWriter(ctx.out);
      writeReport(tap, v.root, v.report);
      return tap.end().failed > 0 ? ExitCode.testFailed : ExitCode.ok;
    },
    async bundle(ctx) {
      const v = await verifyFromArgs(ctx, loadSpecs, true);
      if (!v) return ExitCode.ok;
      const tap = new TapWriter(ctx.out);
      writeReport(tap, v.root, v.report);
      if (v.report.failed > 0) {
        tap.point({ ok: false, description: `bundle: not written, ${v.report.failed} check(s) failed` });
        tap.end();
        return ExitCode.testFailed;
      }
      const b = await writeBundle(v.root, v.out, v.report);
      const n = b.manifest.files.length;
      for (const [kind, path] of [['iso', b.iso], ['zip', b.zip]] as const) {
        const problems = b.readBack[kind];
        tap.point({
          ok: problems.length === 0,
          description: `bundle ${kind}: ${path} (${n} files + manifest.json${problems.length ? '' : ', read back and matching the manifest'})`,
          ...(problems.length ? { diagnostics: { file: path, problems } } : {}),
        });
      }
      return tap.end().failed > 0 ? ExitCode.testFailed : ExitCode.ok;
    },
  };
}

const command: Command = {
  name: 'package',
  summary: 'verify and bundle driver packages',
  help: HELP,
  run(ctx) {
    return runSubcommand(ctx, { name: 'package', help: HELP }, packageTable(loadSpecs));
  },
};
export default command;
