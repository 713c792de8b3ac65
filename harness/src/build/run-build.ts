// `winpv build`: each selected driver's build.ps1 on the builder, in dependency order, output
// streamed as TAP comments with progress; a failed driver is `not ok` and its dependents are
// skipped; packages are fetched into build/<version>/<driver>/ and a manifest is written.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUNDLE_MANIFEST_SCHEMA, type BundleDriver, type BundleManifest } from '../model/bundle';
import { inputError, isWinpvError } from '../model/errors';
import type { DriverName, DriverSpec, SpecSet } from '../model/spec';
import { describeFiles, readDriverInf } from '../inf/index';
import { WINPV_BUNDLE } from '../inf/layouts';
import type { Builder } from './builder';
import { buildOrder, dependentsOf } from './order';
import { buildScript, takeMarker, type BuildMarkers, type DriverBuildRequest } from './powershell';
import type { TapWriter } from './tap';

/** The build settings shared by every driver (type, arch, signMode, version, vendor), plus the run's. */
export interface BuildOptions extends Pick<DriverBuildRequest, 'type' | 'arch' | 'signMode' | 'version' | 'vendorPrefix' | 'vendorName'> {
  specs: SpecSet;
  /** Drivers to build; the order comes from the specs' dependsOn. */
  drivers: DriverName[];
  /** Directory on the builder holding one checkout per driver (`<root>\xenbus`, ...). */
  sourceRoot: string;
  /** Local output root; packages land in <outRoot>/<version>/<driver>/. */
  outRoot: string;
  builder: Builder;
  tap: TapWriter;
  timeoutMs?: number;
  now?: () => Date;
}

export interface BuildResult {
  built: DriverName[];
  failed: DriverName[];
  skipped: DriverName[];
  version?: string;
  dir?: string;
  manifest?: BundleManifest;
}

interface Built {
  driver: DriverName;
  version: string;
  commit?: string;
  files: string[];
}

const TAIL = 15;

/** Why a spec cannot be built with these settings (its build section lists what it supports). */
function unsupported(spec: DriverSpec, o: BuildOptions): string | undefined {
  const b = spec.build;
  if (b.configurations.length && !b.configurations.includes(o.type)) return `${spec.name} builds ${b.configurations.join('/')}, not ${o.type}`;
  if (b.platforms.length && !b.platforms.includes(o.arch)) return `${spec.name} builds for ${b.platforms.join('/')}, not ${o.arch}`;
  if (o.signMode && b.signModes.length && !b.signModes.includes(o.signMode)) return `${spec.name} supports sign modes ${b.signModes.join(', ')}, not ${o.signMode}`;
  return undefined;
}

export async function runBuild(o: BuildOptions): Promise<BuildResult> {
  const order = buildOrder(o.specs, o.drivers);
  const staging = join(o.outRoot, `.partial-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  try {
    return await buildAll(o, order, staging);
  } catch (e) {
    // Interrupted or the builder dropped: no half-collected set is left behind.
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
}

/** What one run of buildAll has so far: results, the packages built, what a failure blocks. */
interface BuildProgress {
  o: BuildOptions;
  order: DriverName[];
  staging: string;
  settings: string;
  result: BuildResult;
  built: Built[];
  blockedBy: Map<DriverName, DriverName>;
}

async function buildAll(o: BuildOptions, order: DriverName[], staging: string): Promise<BuildResult> {
  const settings = `${o.type} ${o.arch}${o.signMode ? ` ${o.signMode}` : ''}`;
  const run: BuildProgress = { o, order, staging, settings, result: { built: [], failed: [], skipped: [] }, built: [], blockedBy: new Map() };
  o.tap.comment(`building ${order.join(', ')} (${settings}) on ${o.builder.label}`);
  for (const [i, driver] of order.entries()) await buildDriver(run, driver, `[${i + 1}/${order.length}] ${driver}`);
  return finishSet(run);
}

/** A failed driver: its not-ok point, and its dependents skipped. */
function failDriver(run: BuildProgress, driver: DriverName, description: string, diagnostics: Record<string, unknown>): void {
  run.o.tap.point({ ok: false, description, diagnostics });
  run.result.failed.push(driver);
  for (const d of dependentsOf(run.o.specs, driver, run.order)) if (!run.blockedBy.has(d)) run.blockedBy.set(d, driver);
}

/** One driver: skipped behind a failed dependency, refused by its spec, or built and collected. */
async function buildDriver(run: BuildProgress, driver: DriverName, progress: string): Promise<void> {
  const { o } = run;
  const spec = o.specs.get(driver)!;
  const blocker = run.blockedBy.get(driver);
  if (blocker) {
    o.tap.point({ ok: true, description: `build ${driver}`, skip: `dependency ${blocker} failed` });
    run.result.skipped.push(driver);
    return;
  }
  const why = unsupported(spec, o);
  if (why) return failDriver(run, driver, `build ${driver}: not supported by its spec`, { problem: why, spec: spec.source.file });
  const started = Date.now();
  const ran = await runBuildScript(run, driver, spec, progress);
  if (!ran) return;
  const { code, markers, tail } = ran;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (code !== 0) return failDriver(run, driver, `build ${driver}: ${spec.build.entry} exited with ${code ?? 'a signal'}`, { exitCode: code, seconds: Number(seconds), output: tail });
  if (!markers.packageDir || markers.files.length === 0) {
    return failDriver(run, driver, `build ${driver}: ${spec.build.entry} succeeded but left no package`, { packageDir: markers.packageDir ?? '(not reported)', output: tail });
  }
  await collectDriver(run, driver, spec, markers, progress, seconds);
}

/** build.ps1 for one driver on the builder, its output streamed as TAP comments (markers kept
 *  apart, the tail kept for a failure); undefined when it timed out (already a failure). */
async function runBuildScript(run: BuildProgress, driver: DriverName, spec: DriverSpec, progress: string): Promise<{ code: number | null; markers: BuildMarkers; tail: string[] } | undefined> {
  const { o } = run;
  const sourceDir = `${o.sourceRoot.replace(/[\\/]+$/, '')}\\${driver}`;
  const script = buildScript({
    driver,
    sourceDir,
    entry: spec.build.entry,
    type: o.type,
    arch: o.arch,
    ...(o.signMode ? { signMode: o.signMode } : {}),
    ...(o.version ? { version: o.version } : {}),
    ...(o.vendorPrefix ? { vendorPrefix: o.vendorPrefix } : {}),
    ...(o.vendorName ? { vendorName: o.vendorName } : {}),
  });
  o.tap.comment(`${progress}: ${sourceDir}\\${spec.build.entry} -Type ${o.type} -Arch ${o.arch}${o.signMode ? ` -SignMode ${o.signMode}` : ''}`);
  const markers: BuildMarkers = { files: [] };
  const tail: string[] = [];
  try {
    const code = await o.builder.run(
      script,
      (line, stream) => {
        if (stream === 'out' && takeMarker(line, markers)) return;
        tail.push(line);
        if (tail.length > TAIL) tail.shift();
        o.tap.comment(`${driver}${stream === 'err' ? ' !' : ' |'} ${line}`);
      },
      o.timeoutMs ? { timeoutMs: o.timeoutMs } : {},
    );
    return { code, markers, tail };
  } catch (e) {
    if (isWinpvError(e) && e.code === 'SSH_TIMEOUT') {
      failDriver(run, driver, `build ${driver}: timed out`, { problem: e.message, output: tail });
      return undefined;
    }
    o.tap.bailOut(`${driver}: ${(e as Error).message}`);
    throw e;
  }
}

/** The built package fetched into the staging set; a dropped builder bails the build out. */
async function collectDriver(run: BuildProgress, driver: DriverName, spec: DriverSpec, markers: BuildMarkers, progress: string, seconds: string): Promise<void> {
  const { o } = run;
  try {
    const got = await collect(o, driver, spec, markers, join(run.staging, WINPV_BUNDLE.packageDir(driver)));
    run.built.push({ driver, version: got.version, ...(markers.commit ? { commit: markers.commit } : {}), files: got.files });
    run.result.built.push(driver);
    o.tap.point({
      ok: true,
      description: `build ${driver} (${run.settings}): ${got.files.length} files, version ${got.version}${markers.commit ? `, commit ${markers.commit.slice(0, 12)}` : ''}`,
    });
    o.tap.comment(`${progress}: built in ${seconds} s`);
  } catch (e) {
    if (!isWinpvError(e) || e.kind === 'internal') throw e;
    if (e.code === 'SSH_DROPPED') {
      o.tap.bailOut(`${driver}: ${e.message}`);
      throw e;
    }
    failDriver(run, driver, `build ${driver}: collecting the package failed`, { problem: e.message, packageDir: markers.packageDir });
  }
}

/** The staged set moved to <out>/<version> with its manifest; nothing kept when nothing was built. */
async function finishSet(run: BuildProgress): Promise<BuildResult> {
  const { o, built, result, staging } = run;
  if (built.length === 0) {
    await rm(staging, { recursive: true, force: true });
    return result;
  }
  const version = o.version ?? built[0].version;
  const dir = join(o.outRoot, version);
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  const manifest = await writeManifest(dir, version, built, o);
  o.tap.point({ ok: true, description: `manifest: ${join(dir, WINPV_BUNDLE.manifest)} (${manifest.files.length} files, ${built.length} driver(s))` });
  return { ...result, version, dir, manifest };
}

/** Fetches every file build.ps1 listed, checks sizes, and reads the version from the INF. */
async function collect(o: BuildOptions, driver: DriverName, spec: DriverSpec, m: BuildMarkers, into: string): Promise<{ version: string; files: string[] }> {
  await mkdir(into, { recursive: true });
  const files: string[] = [];
  for (const f of m.files) {
    if (f.name.includes('/') || f.name.includes('\\') || f.name === '..') throw inputError('BUILD_FETCH', `unsafe file name from the builder: ${f.name}`);
    const data = await o.builder.fetch(`${m.packageDir}\\${f.name}`);
    if (data.length !== f.size) {
      throw inputError('BUILD_FETCH', `${f.name}: fetched ${data.length} bytes, the builder listed ${f.size}`);
    }
    await writeFile(join(into, f.name), data);
    files.push(f.name);
  }
  const infName = files.find((f) => f.toLowerCase() === spec.identity.inf.toLowerCase());
  if (!infName) {
    throw inputError('BUILD_NO_INF', `the package has no ${spec.identity.inf} (files: ${files.join(', ')})`);
  }
  const inf = readDriverInf(await readFile(join(into, infName)), `${driver}/${infName}`);
  const version = inf.version.driverVer?.value.version;
  if (!version) {
    throw inputError('BUILD_NO_VERSION', `${driver}/${infName} has no valid DriverVer`, inf.problems);
  }
  return { version, files };
}

async function writeManifest(dir: string, version: string, built: Built[], o: BuildOptions): Promise<BundleManifest> {
  const drivers: BundleDriver[] = built.map((b) => ({
    name: b.driver,
    version: b.version,
    dir: WINPV_BUNDLE.packageDir(b.driver),
    inf: WINPV_BUNDLE.packageFile(b.driver, b.files.find((f) => f.toLowerCase().endsWith('.inf'))!),
    ...(b.commit ? { sourceCommit: b.commit } : {}),
  }));
  const commits = new Set(built.map((b) => b.commit));
  const manifest: BundleManifest = {
    schema: BUNDLE_MANIFEST_SCHEMA,
    version,
    ...(o.vendorPrefix ? { vendorPrefix: o.vendorPrefix } : {}),
    arch: o.arch,
    buildType: o.type,
    signMode: o.signMode ?? 'unknown',
    ...(commits.size === 1 && built[0].commit ? { sourceCommit: built[0].commit } : {}),
    createdAt: (o.now?.() ?? new Date()).toISOString(),
    drivers,
    files: await describeFiles(dir),
  };
  await writeFile(join(dir, WINPV_BUNDLE.manifest), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
