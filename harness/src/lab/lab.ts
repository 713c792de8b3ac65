// `winpv lab up|status|ssh|down`: boot the cached lab image under QEMU in the background, wait for
// dom0's toolstack, and stop exactly the QEMU that was started. OpenSSH's client is used here (it is
// what `winpv lab ssh` hands the terminal to); the xl backend talks to the lab through remote/ssh.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { infraError } from '../model/errors';
import { writeFileAtomic } from '../util/atomic-write';
import { ensureImage, type LabImage } from './build';
import { ensureHvmImage, INSTALL_HVM_IMAGE } from './hvm-image';
import { DOM0_GUEST_HVM_IMAGE } from './recipe';
import { ensureHostPackages } from './host-packages';
import { runProcess } from '../util/process';
import { qemuArgv } from './qemu';
import { pidFileOf, qmpSocketOf, startQemu, stopLabQemu, type StartedQemu } from './qemu-process';
import { clearState, isOurProcess, readState, writeState, type LabState } from './state';

export interface UpOptions {
  dir: string;
  progress: (msg: string) => void;
  /** Give up waiting for `xl info` after this long (TCG boots take 40-75 s on an idle 2-core machine). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Boot milestones in the serial log worth telling the user about, in boot order. */
const MILESTONES: readonly [RegExp, string][] = [
  [/Xen version \S+/, 'Xen started'],
  [/\*\*\* Serial input to DOM0/, 'dom0 kernel loading'],
  [/Run \/init as init process|Freeing unused kernel image/, 'dom0 initramfs running'],
  [/systemd\[1\]: |Welcome to /, 'dom0 systemd running'],
  [/login:/, 'dom0 login prompt'],
];

/** The OpenSSH argv that reaches dom0 as root with the lab's key, checking dom0's host key. */
export function sshArgv(s: Pick<LabState, 'port' | 'user' | 'sshKey' | 'knownHosts'>, remote: readonly string[] = [], opts: { tty?: boolean; connectTimeout?: number } = {}): string[] {
  return [
    'ssh', '-i', s.sshKey, '-p', String(s.port),
    '-o', `UserKnownHostsFile=${s.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes',
    '-o', 'LogLevel=ERROR', '-o', `ConnectTimeout=${opts.connectTimeout ?? 10}`,
    ...(opts.tty ? ['-t'] : ['-o', 'BatchMode=yes']),
    `${s.user}@127.0.0.1`, ...remote,
  ];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The running lab of `dir`, if its QEMU is still alive. */
export function runningLab(dir: string): LabState | undefined {
  const s = readState(dir);
  return s && isOurProcess(dir, s) ? s : undefined;
}

/** Parses `xl info` (`key : value` lines). */
export function parseXlInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s*:\s?(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

export async function labUp(o: UpOptions): Promise<LabState> {
  mkdirSync(o.dir, { recursive: true });
  const existing = runningLab(o.dir);
  if (existing) {
    o.progress(`lab already running (pid ${existing.pid}, ssh port ${existing.port})`);
    return existing;
  }
  const stray = await stopLabQemu(o.dir); // a QEMU whose state was lost would hold the memory twice
  if (stray !== undefined) o.progress(`stopped QEMU pid ${stray} left by an earlier lab up`);
  await ensureHostPackages(o.progress);
  const { image, built } = await ensureImage({ root: o.dir, progress: o.progress, signal: o.signal });
  if (!built) o.progress(`using cached lab image ${image.key}`);

  const serialLog = join(o.dir, 'serial.log');
  const pidFile = pidFileOf(o.dir);
  const knownHosts = join(o.dir, 'known_hosts');
  const hostKey = readFileSync(image.hostKeyPub, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const port = await freePort();
  writeFileAtomic(knownHosts, `[127.0.0.1]:${port} ${hostKey}\n`);
  const argv = qemuArgv({ xen: image.xen, kernel: image.kernel, initrd: image.initrd, rootfs: image.rootfs, serialLog, pidFile, qmpSocket: qmpSocketOf(o.dir), sshPort: port });
  rmSync(serialLog, { force: true }); // the last boot's log would report this boot's milestones at once
  const qemu = startQemu(o.dir, argv);
  const state: LabState = {
    pid: qemu.pid, argv, port, user: 'root', sshKey: image.sshKey, knownHosts, hostKey, serialLog,
    imageKey: image.key, startedAt: new Date().toISOString(),
  };
  writeState(o.dir, state);
  o.progress(`QEMU started (pid ${qemu.pid}), dom0 ssh on 127.0.0.1:${port}; serial log ${serialLog}`);

  try {
    return await waitForDom0(o, state, image, qemu);
  } catch (e) {
    // Stop the QEMU this command started, whether or not it has written its pidfile yet.
    await stopLabQemu(o.dir, qemu).catch((err: Error) => o.progress(`could not stop QEMU: ${err.message}`));
    clearState(o.dir);
    throw e;
  }
}

/** Waits for dom0's `xl info`, telling boot milestones; throws when QEMU exits or the deadline passes. */
async function waitForDom0(o: UpOptions, state: LabState, image: LabImage, qemu: StartedQemu): Promise<LabState> {
  const t0 = Date.parse(state.startedAt);
  const secs = () => `${Math.round((Date.now() - t0) / 1000)} s`;
  const serialLog = state.serialLog;
  const deadline = Date.now() + (o.timeoutMs ?? 600_000);
  const bootStart = Date.now();
  let seen = 0;
  for (;;) {
    if (o.signal?.aborted) throw infraError('LAB_ABORTED', 'interrupted while waiting for the lab');
    if (qemu.exited()) {
      throw infraError('LAB_QEMU_EXITED', `QEMU exited during boot (${qemu.exitStatus()}).\n${tail(join(o.dir, 'qemu.log'), 10)}\n--- serial log ---\n${tail(serialLog, 30)}`);
    }
    const serial = existsSync(serialLog) ? readFileSync(serialLog, 'latin1') : '';
    while (seen < MILESTONES.length && MILESTONES[seen]![0].test(serial)) {
      o.progress(`  ${MILESTONES[seen]![1]} (${secs()})`);
      seen++;
    }
    const r = await runProcess(sshArgv(state, ['xl', 'info'], { connectTimeout: 5 }));
    if (r.code === 0) {
      const info = parseXlInfo(r.stdout);
      await installHvmImage(state, image, o.progress);
      state.readyAt = new Date().toISOString();
      state.bootSeconds = Math.round((Date.now() - bootStart) / 1000);
      writeState(o.dir, state);
      o.progress(`lab up after ${state.bootSeconds} s of boot: Xen ${info.xen_version ?? '?'}, virt_caps ${info.virt_caps ?? '?'}, free memory ${info.free_memory ?? '?'} MiB`);
      return state;
    }
    if (/REMOTE HOST IDENTIFICATION|Host key verification failed/.test(r.stderr)) {
      throw infraError('LAB_HOSTKEY', `dom0's host key does not match the one built into the image:\n${r.stderr.trim()}`);
    }
    if (Date.now() > deadline) {
      throw infraError('LAB_BOOT_TIMEOUT', `dom0 did not answer \`xl info\` within ${Math.round((o.timeoutMs ?? 600_000) / 1000)} s; last ssh error: ${r.stderr.trim() || r.stdout.trim()}\n--- serial log ---\n${tail(serialLog, 30)}`);
    }
    await sleep(3000);
  }
}

/** Puts the HVM Linux guest's boot disk into dom0 (lab/hvm-image.ts). */
async function installHvmImage(state: LabState, image: LabImage, progress: (msg: string) => void): Promise<void> {
  const gz = await ensureHvmImage(image, progress);
  const r = await runProcess(sshArgv(state, [INSTALL_HVM_IMAGE]), { input: readFileSync(gz) });
  if (r.code !== 0) throw infraError('LAB_HVM_IMAGE', `could not copy the HVM Linux guest disk into dom0: ${r.stderr.trim()}`);
  progress(`  HVM Linux guest disk in dom0 at ${DOM0_GUEST_HVM_IMAGE}`);
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '(none)';
  return readFileSync(file, 'latin1').replace(/\r/g, '').trimEnd().split('\n').slice(-lines).join('\n');
}

/** Stops the lab's QEMU (found by its pidfile, so also one left by an earlier failed `lab up`) and
 *  forgets the lab. */
export async function labDown(o: { dir: string; progress: (msg: string) => void }): Promise<boolean> {
  const s = readState(o.dir);
  const pid = await stopLabQemu(o.dir, s?.pid);
  clearState(o.dir);
  if (pid !== undefined) o.progress(`lab stopped (QEMU pid ${pid})`);
  else if (s) o.progress(`lab QEMU (pid ${s.pid}) is no longer running; forgetting it`);
  else o.progress('no lab running');
  return pid !== undefined;
}
