// Test helper: running real peer tools. Finding them and skipping without them is
// harness/test/support/tools.ts (re-exported here for the xenstore tests).
import { execFile } from 'node:child_process';
import { findTool } from '../support/tools';

export { findTool, missing, needTool } from '../support/tools';
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool asynchronously (the server under test lives in this process and must keep running). */
export function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? ((err as unknown as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Debian's python, where python3-pyxs is installed (a pyenv python first on PATH would not see it). */
export function debianPython(): string | undefined {
  return findTool('/usr/bin/python3') ?? findTool('python3');
}
