// The lab's QEMU process, identified by what QEMU itself writes: its `-pidfile` (QEMU writes it once
// it has parsed its options and locked it, so the pid in it is QEMU, never the `nice` that execs it)
// and its QMP socket (`quit` there is the clean way to stop it). Until the pidfile appears, the
// process `lab up` spawned is followed through its ChildProcess handle (its exit event, not /proc),
// so a slow exec is never mistaken for an exit. A failing `lab up` and a later `lab down` both stop
// the QEMU through the pidfile, so a QEMU from an earlier failed `lab up` is found.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { infraError } from '../model/errors';

export const pidFileOf = (dir: string) => join(resolve(dir), 'qemu.pid');
export const qmpSocketOf = (dir: string) => join(resolve(dir), 'qmp.sock');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readCmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}

/** The pid in the lab's pidfile, if that process is alive and is the QEMU told to write this pidfile
 *  (its command line names the same `-pidfile`: a recycled pid is not taken for it). */
export function labQemuPid(dir: string, cmdline: (pid: number) => string[] | undefined = readCmdline): number | undefined {
  const pidFile = pidFileOf(dir);
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return namesPidfile(pid, pidFile, cmdline) ? pid : undefined;
}

/** Does process `pid` carry `-pidfile <pidFile>` in its command line? True for the `nice` about to
 *  exec QEMU as for QEMU itself (both carry QEMU's options), false for a recycled pid. */
export function namesPidfile(pid: number, pidFile: string, cmdline: (pid: number) => string[] | undefined = readCmdline): boolean {
  const argv = cmdline(pid);
  if (!argv) return false;
  const i = argv.indexOf('-pidfile');
  return i >= 0 && argv[i + 1] === pidFile;
}

export interface StartedQemu {
  child: ChildProcess;
  pid: number;
  /** Set by the child's exit event: the process `lab up` spawned is gone. */
  exited(): boolean;
  /** Exit status or signal, for the error message. */
  exitStatus(): string;
}

/** Spawns QEMU detached (it outlives this command), its output in `<dir>/qemu.log`. */
export function startQemu(dir: string, argv: readonly string[]): StartedQemu {
  rmSync(pidFileOf(dir), { force: true }); // a stale pidfile would name a process before this QEMU wrote its own
  const log = openSync(join(dir, 'qemu.log'), 'w');
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  let status: string | undefined;
  child.on('exit', (code, signal) => (status = signal ? `signal ${signal}` : `exit ${code}`));
  child.on('error', (e) => (status = `cannot run ${argv[0]}: ${e.message}`));
  child.unref();
  if (!child.pid) throw infraError('LAB_QEMU', `QEMU did not start (${argv[0]})`);
  return { child, pid: child.pid, exited: () => status !== undefined, exitStatus: () => status ?? 'running' };
}

/** Asks QEMU to quit over QMP; resolves false when the socket is absent or does not answer in time. */
function qmpQuit(socket: string, timeoutMs = 3000): Promise<boolean> {
  if (!existsSync(socket)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const c = createConnection(socket);
    let buf = '';
    let sent = 0;
    const done = (ok: boolean) => {
      clearTimeout(timer);
      c.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    c.on('error', () => done(false));
    c.on('close', () => done(sent === 2));
    c.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      // QMP: a greeting line, then `qmp_capabilities` leaves negotiation mode, then `quit`.
      if (sent === 0 && buf.includes('"QMP"')) {
        c.write('{"execute":"qmp_capabilities"}\n');
        sent = 1;
      } else if (sent === 1 && buf.includes('"return"')) {
        c.write('{"execute":"quit"}\n');
        sent = 2;
      }
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(gone: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!gone() && Date.now() < end) await sleep(100);
  return gone();
}

/**
 * Stops the lab's QEMU: the one named by the pidfile, else `started` (a QEMU this command spawned
 * that has not written its pidfile yet: its handle proves the pid was not recycled; or a pid from
 * lab.json whose command line names this lab's pidfile). QMP `quit`
 * first, then SIGTERM, then SIGKILL, each with a deadline. Returns the pid stopped, or undefined.
 */
export async function stopLabQemu(dir: string, started?: StartedQemu | number, waitMs = 10_000): Promise<number | undefined> {
  let pid = labQemuPid(dir);
  if (typeof started === 'number') {
    // a pid from lab.json: only while it still carries this lab's -pidfile (QEMU not yet written it)
    if (pid === undefined && namesPidfile(started, pidFileOf(dir))) pid = started;
    started = undefined;
  }
  if (started) {
    // The QEMU this command spawned, and only it: a cleanup that runs late (after a `lab down` and a
    // new `lab up` on the same directory) must not stop the newer QEMU that the pidfile now names.
    // `nice` execs QEMU, so the spawned pid is QEMU's pid.
    if (started.exited()) return undefined;
    pid = started.pid;
  }
  if (pid === undefined) return undefined;
  const target = pid;
  const gone = () => (started && started.pid === target ? started.exited() : !alive(target) || labQemuPid(dir) !== target);
  // The QMP socket is the directory's: ask it only when the pidfile says it belongs to the target.
  const viaQmp = labQemuPid(dir) === target && (await qmpQuit(qmpSocketOf(dir)));
  if (!(viaQmp && (await waitGone(gone, waitMs)))) {
    try {
      process.kill(target, 'SIGTERM');
    } catch { /* gone already */ }
    if (!(await waitGone(gone, waitMs))) {
      try {
        process.kill(target, 'SIGKILL');
      } catch { /* gone already */ }
      if (!(await waitGone(gone, waitMs))) throw infraError('LAB_QEMU', `QEMU (pid ${target}) did not stop after SIGKILL`);
    }
  }
  if (labQemuPid(dir) === undefined) {
    rmSync(pidFileOf(dir), { force: true });
    rmSync(qmpSocketOf(dir), { force: true });
  }
  return target;
}
