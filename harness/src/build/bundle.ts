// `winpv package bundle`: a verified package set as an ISO 9660 image (xorriso, Joliet + Rock
// Ridge so Windows and Linux both see the long names) and a zip, each with manifest.json at the
// root. Both are read back with openBundle and compared with the manifest before they are reported.
import { cp, mkdtemp, readFile, rm, writeFile, mkdir, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE_MANIFEST_SCHEMA, type BundleDriver, type BundleManifest } from '../model/bundle';
import { checkManifestFiles, describeFiles, openBundle, writeIsoImage, writeZip } from '../inf/index';
import { WINPV_BUNDLE } from '../inf/layouts';
import type { VerifyReport } from './verify';

export interface BundleOutput {
  iso: string;
  zip: string;
  manifest: BundleManifest;
  /** Problems found reading each artefact back (empty when both match the manifest). */
  readBack: { iso: string[]; zip: string[] };
}

/** The manifest of a verified set: the existing manifest's build facts, the verified drivers, fresh file hashes. */
async function manifestFor(root: string, report: VerifyReport, now = new Date()): Promise<BundleManifest> {
  const old = report.manifest;
  const drivers: BundleDriver[] = report.packages.map((p) => {
    const before = old?.drivers.find((d) => d.name === p.driver && d.dir === p.dir);
    return { name: p.driver, version: p.version ?? '', dir: p.dir, inf: p.inf, ...(before?.sourceCommit ? { sourceCommit: before.sourceCommit } : {}) };
  });
  const arch = old?.arch ?? (new Set(report.packages.map((p) => p.arch)).size === 1 ? report.packages[0]?.arch : undefined);
  return {
    schema: BUNDLE_MANIFEST_SCHEMA,
    version: report.version ?? old?.version ?? '0.0.0.0',
    ...(report.vendorPrefix ? { vendorPrefix: report.vendorPrefix } : {}),
    ...(arch ? { arch } : {}),
    ...(old?.buildType ? { buildType: old.buildType } : {}),
    signMode: old?.signMode ?? (report.signers.length > 0 ? 'signed' : 'unknown'),
    ...(report.signers.length > 0 ? { signer: report.signers.join('; ') } : {}),
    ...(old?.sourceCommit ? { sourceCommit: old.sourceCommit } : {}),
    createdAt: now.toISOString(),
    drivers,
    files: await describeFiles(root),
  };
}

export async function writeBundle(root: string, outDir: string, report: VerifyReport): Promise<BundleOutput> {
  const manifest = await manifestFor(root, report);
  const stage = await mkdtemp(join(tmpdir(), 'winpv-stage-'));
  try {
    // The staged copy is what goes in both artefacts: the set plus the new manifest.
    await cp(root, stage, { recursive: true, filter: (src) => src !== join(root, WINPV_BUNDLE.manifest) });
    const manifestText = JSON.stringify(manifest, null, 2) + '\n';
    await writeFile(join(stage, WINPV_BUNDLE.manifest), manifestText);
    await mkdir(outDir, { recursive: true });
    const base = join(outDir, `winpv-drivers-${manifest.version}`);

    const isoTmp = `${base}.iso.tmp`;
    await writeIsoImage(stage, isoTmp, manifest.version);
    await rename(isoTmp, `${base}.iso`);

    const entries = [...manifest.files.map((f) => f.path), WINPV_BUNDLE.manifest];
    const zipData = writeZip(await Promise.all(entries.map(async (name) => ({ name, data: await readFile(join(stage, name)) }))));
    await writeFile(`${base}.zip.tmp`, zipData);
    await rename(`${base}.zip.tmp`, `${base}.zip`);

    const readBack = { iso: await readBackProblems(`${base}.iso`, manifest), zip: await readBackProblems(`${base}.zip`, manifest) };
    return { iso: `${base}.iso`, zip: `${base}.zip`, manifest, readBack };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Opens an artefact like a consumer would and compares it with the manifest it should carry. */
async function readBackProblems(path: string, manifest: BundleManifest): Promise<string[]> {
  const b = await openBundle(path);
  try {
    if (!b.manifest) return [`${path}: no ${WINPV_BUNDLE.manifest} at its root`];
    if (b.manifest.createdAt !== manifest.createdAt) return [`${path}: carries a different manifest`];
    return (await checkManifestFiles(b.dir, b.manifest, `${path}!/${WINPV_BUNDLE.manifest}`)).map((p) => p.message);
  } finally {
    await b.cleanup();
  }
}
