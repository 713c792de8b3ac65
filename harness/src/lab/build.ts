// Building the lab image once into the cache: hypervisor, dom0 kernel/initrd, dom0 root filesystem
// (ext4 image), the reference PV guest, the lab's SSH key and dom0's host key. The image directory is
// named by a key over the recipe and the package versions, so a new Xen or kernel means a new image.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { infraError } from '../model/errors';
import { writeFileAtomic } from '../util/atomic-write';
import { machineMirror, type LabMirror } from './apt-sources';
import {
  BUILD_SCRIPT, CACHE_KEY_PACKAGES, DOM0_EXTRA_PACKAGES, DOM0_FILES, DOM0_LAB_DIR, DOM0_PACKAGES, GUEST_INIT, GUEST_MODULES,
} from './recipe';
import { runProcess, runProcessOk } from '../util/process';

/** An empty-cache image build took 687 s on a loaded 2-core machine; a slower one still gets there. */
const LAB_BUILD_DEADLINE_MS = 120 * 60_000;

/** Size of dom0's root filesystem image (sparse); guest disks live in it too. */
const IMAGE_SIZE = '8G';

export interface LabImage {
  dir: string;
  key: string;
  xen: string;
  kernel: string;
  initrd: string;
  rootfs: string;
  sshKey: string;
  hostKeyPub: string;
  manifest: LabManifest;
}

export interface LabManifest {
  key: string;
  versions: Record<string, string>;
  kernelVersion: string;
  builtAt: string;
  /** Seconds per build step, as measured. */
  stepSeconds: Record<string, number>;
}

/** Candidate versions of `pkgs` from `apt-cache policy` output. */
export function parseAptPolicy(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let pkg: string | undefined;
  for (const line of text.split('\n')) {
    const head = /^(\S+):$/.exec(line);
    if (head) pkg = head[1];
    const cand = /^\s+Candidate:\s*(\S+)/.exec(line);
    if (cand && pkg && cand[1] !== '(none)') out[pkg] = cand[1]!;
  }
  return out;
}

async function packageVersions(): Promise<Record<string, string>> {
  const r = await runProcessOk(['apt-cache', 'policy', ...CACHE_KEY_PACKAGES]);
  const v = parseAptPolicy(r.stdout);
  const missing = CACHE_KEY_PACKAGES.filter((p) => !v[p]);
  if (missing.length) {
    throw infraError('LAB_NO_PACKAGE', `apt knows no candidate for ${missing.join(', ')}; run apt-get update (the lab is built from this machine's Debian mirror)`);
  }
  return v;
}

/** The image key: the recipe itself plus every keyed package version. */
export function imageKey(versions: Record<string, string>): string {
  const h = createHash('sha256');
  h.update(BUILD_SCRIPT).update(GUEST_INIT).update(JSON.stringify(DOM0_FILES)).update(IMAGE_SIZE);
  h.update(JSON.stringify(Object.entries(versions).sort()));
  return h.digest('hex').slice(0, 16);
}

function imageAt(dir: string, key: string): LabImage | undefined {
  const m = join(dir, 'manifest.json');
  if (!existsSync(m)) return undefined;
  const manifest = JSON.parse(readFileSync(m, 'utf8')) as LabManifest;
  return {
    dir, key, manifest,
    xen: join(dir, 'xen'), kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), rootfs: join(dir, 'rootfs.img'),
    sshKey: join(dir, 'id_ed25519'), hostKeyPub: join(dir, 'host_ed25519.pub'),
  };
}

export interface BuildOptions {
  /** Cache root: images go to <root>/images/<key>. */
  root: string;
  progress: (msg: string) => void;
  signal?: AbortSignal;
  mirror?: LabMirror;
}

/** Returns the cached image for the current package versions, building it first if needed. */
export async function ensureImage(o: BuildOptions): Promise<{ image: LabImage; built: boolean }> {
  const versions = await packageVersions();
  const key = imageKey(versions);
  const dir = join(o.root, 'images', key);
  const cached = imageAt(dir, key);
  if (cached) return { image: cached, built: false };
  if (process.getuid?.() !== 0) {
    throw infraError('LAB_NOT_ROOT', 'building the lab image needs root (debootstrap, chroot); run `winpv lab up` as root once, later boots do not rebuild');
  }
  const mirror = o.mirror ?? machineMirror();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  o.progress(`building lab image ${key} (xen ${versions['xen-hypervisor-4.17-amd64']}, linux ${versions['linux-image-amd64']}) from ${mirror.suite}`);

  const keyFile = join(dir, 'id_ed25519');
  await runProcessOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `winpv-lab-${key}`, '-f', keyFile]);
  const scratch = mkdtempSync(join(tmpdir(), 'winpv-lab-'));
  try {
    const env = buildEnv(dir, mirror, keyFile, stageBuildInputs(scratch));
    const t0 = Date.now();
    const stepSeconds = await runBuildScript(env, o, t0);
    const manifest: LabManifest = {
      key, versions,
      kernelVersion: readFileSync(join(dir, 'kernel.version'), 'utf8').trim(),
      builtAt: new Date().toISOString(), stepSeconds,
    };
    writeFileAtomic(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    o.progress(`lab image built in ${Math.round((Date.now() - t0) / 1000)} s`);
    return { image: imageAt(dir, key)!, built: true };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The files the build script copies into dom0 and the guest's init, written under `scratch`. */
function stageBuildInputs(scratch: string): { files: string; init: string } {
  const files = join(scratch, 'dom0');
  for (const [path, content] of Object.entries(DOM0_FILES)) {
    mkdirSync(dirname(join(files, path)), { recursive: true });
    writeFileSync(join(files, path), content);
  }
  const init = join(scratch, 'init');
  writeFileSync(init, GUEST_INIT);
  return { files, init };
}

/** The build script's inputs (it reads them from its environment). */
function buildEnv(dir: string, mirror: LabMirror, keyFile: string, staged: { files: string; init: string }): Record<string, string> {
  return {
    OUT: dir, SUITE: mirror.suite, MIRROR: mirror.mirror, SOURCES_LIST: mirror.sourcesList,
    PUBKEY: readFileSync(keyFile + '.pub', 'utf8').trim(), DOM0_FILES_DIR: staged.files, GUEST_INIT_FILE: staged.init,
    INCLUDE: DOM0_PACKAGES.join(','), EXTRA: DOM0_EXTRA_PACKAGES.join(' '), GUEST_MODULES: GUEST_MODULES.join(' '),
    LABDIR: DOM0_LAB_DIR, IMAGE_SIZE,
  };
}

/** Runs the build script, reporting each `@@step` it prints; returns the seconds each step took
 *  (a failed build names the step it failed in, with the end of its output). */
async function runBuildScript(env: Record<string, string>, o: BuildOptions, t0: number): Promise<Record<string, number>> {
  const stepSeconds: Record<string, number> = {};
  let step = 'start';
  let stepStart = Date.now();
  const r = await runProcess(['nice', '-n', '10', 'bash', '-c', BUILD_SCRIPT], {
    env, signal: o.signal, timeoutMs: LAB_BUILD_DEADLINE_MS,
    onLine: (line) => {
      const m = /^@@step (\S+)/.exec(line);
      if (!m) return;
      stepSeconds[step] = (Date.now() - stepStart) / 1000;
      step = m[1]!;
      stepStart = Date.now();
      if (step !== 'done') o.progress(`  ${step} (${Math.round((Date.now() - t0) / 1000)} s so far)`);
    },
  });
  if (r.code !== 0) {
    throw infraError('LAB_BUILD', `lab image build failed in step '${step}' (exit ${r.code}):\n${(r.stdout + r.stderr).trim().split('\n').slice(-20).join('\n')}`);
  }
  delete stepSeconds.start;
  return stepSeconds;
}
