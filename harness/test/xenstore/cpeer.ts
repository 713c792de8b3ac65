// Test helper: the real C xenstored (Xen 4.17, built without a hypervisor by
// ../shared/peers/xenstored-nohv/build.sh, which .ci/run calls) running in a temporary directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';

export function cXenstoredPath(): string | undefined {
  const p = process.env.WINPV_XENSTORED_NOHV ?? join(homedir(), '.cache', 'winpv', 'xenstored-nohv', 'xenstored');
  return existsSync(p) ? p : undefined;
}

export interface CPeer {
  socket: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the C daemon; resolves once its socket exists. */
export async function startCXenstored(bin: string): Promise<CPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-cxs-'));
  const child = spawn(bin, ['-N', '-D', '--internal-db'], {
    env: { ...process.env, XENSTORED_RUNDIR: dir, XENSTORED_ROOTDIR: dir },
    stdio: 'ignore',
  });
  const socket = join(dir, 'socket');
  for (let i = 0; i < 500 && !existsSync(socket); i++) {
    if (child.exitCode !== null) throw new Error(`C xenstored exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  if (!existsSync(socket)) throw new Error('C xenstored did not create its socket');
  // The socket file appears at bind(), before listen(): wait until a connection is accepted.
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection(socket);
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (i > 500) throw new Error('C xenstored does not accept connections');
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    socket,
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
