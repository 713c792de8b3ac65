// Where a lab lives on disk and what a running lab records about itself (`<dir>/lab.json`), so that
// `status`, `ssh`, `down` and the `lab` host backend find the QEMU process, port and keys.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { infraError } from '../model/errors';
import { writeFileAtomic } from '../util/atomic-write';

/** The lab directory: --dir, else $WINPV_LAB_DIR, else $XDG_CACHE_HOME/winpv/lab, else ~/.cache/winpv/lab. */
export function labDir(env: NodeJS.ProcessEnv, explicit?: string): string {
  if (explicit) return explicit;
  if (env.WINPV_LAB_DIR) return env.WINPV_LAB_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'winpv', 'lab');
}

export interface LabState {
  /** Process id of the QEMU this lab started (the only process `down` stops). */
  pid: number;
  /** The QEMU command line, compared with /proc/<pid>/cmdline so a recycled pid is never killed. */
  argv: string[];
  /** dom0's sshd, forwarded to 127.0.0.1:<port>. */
  port: number;
  user: string;
  sshKey: string;
  knownHosts: string;
  /** dom0's ed25519 host key, as `ssh-ed25519 <base64>`. */
  hostKey: string;
  serialLog: string;
  imageKey: string;
  startedAt: string;
  /** Set once `xl info` answered. */
  readyAt?: string;
  bootSeconds?: number;
}

export const stateFile = (dir: string) => join(dir, 'lab.json');

export function readState(dir: string): LabState | undefined {
  const f = stateFile(dir);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as LabState;
  } catch (e) {
    throw infraError('LAB_STATE', `unreadable lab state ${f}: ${(e as Error).message}`);
  }
}

export function writeState(dir: string, s: LabState): void {
  writeFileAtomic(stateFile(dir), JSON.stringify(s, null, 2) + '\n');
}

export function clearState(dir: string): void {
  rmSync(stateFile(dir), { force: true });
}

/** Is `pid` still the QEMU described by `argv`? (Reads /proc, so a reused pid is not mistaken for it.) */
export function isOurProcess(s: Pick<LabState, 'pid' | 'argv'>, readCmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8')): boolean {
  let cmdline: string;
  try {
    cmdline = readCmdline(s.pid);
  } catch {
    return false;
  }
  // `nice -n 10 qemu...` execs qemu under the same pid: compare from the QEMU binary on, on both
  // sides, since right after the spawn the pid may still be `nice` about to exec qemu (a lab up
  // that compared the whole cmdline took that moment for "QEMU exited" and left QEMU running).
  const fromQemu = (argv: readonly string[]) => argv.slice(Math.max(0, argv.findIndex((a) => a.includes('qemu-system'))));
  const got = fromQemu(cmdline.split('\0').filter((x) => x !== ''));
  const want = fromQemu(s.argv);
  return got.length === want.length && got.every((a, i) => a === want[i]);
}
