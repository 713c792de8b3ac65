// Where a lab lives on disk and what a running lab records about itself (`<dir>/lab.json`), so that
// `status`, `ssh`, `down` and the `lab` host backend find the QEMU process, port and keys.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { infraError } from '../model/errors';
import { writeFileAtomic } from '../util/atomic-write';
import { labQemuPid, namesPidfile, pidFileOf } from './qemu-process';

export interface LabState {
  /** Process id of the QEMU this lab started (as spawned; `down` stops the pid in QEMU's own pidfile). */
  pid: number;
  /** The QEMU command line, for the record. */
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

/** Is the QEMU of this lab alive? Decided by the pidfile QEMU wrote (lab/qemu-process.ts), not by
 *  comparing /proc/<pid>/cmdline with the argv at an arbitrary moment (right after the spawn the pid
 *  may still be `nice`, and a lab up that took that moment for "QEMU exited" left QEMU running). */
export function isOurProcess(dir: string, s?: Pick<LabState, 'pid'>): boolean {
  // Before QEMU writes its pidfile, the spawned pid (still `nice`, or QEMU starting) carries it.
  return labQemuPid(dir) !== undefined || (s !== undefined && namesPidfile(s.pid, pidFileOf(dir)));
}
