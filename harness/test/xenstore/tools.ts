// Test helper: real peer tools. A test that needs one skips only when it is missing outside CI;
// under CI (process.env.CI set) a missing tool is a failure.
import type { Test } from 'tap';
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { delimiter, join } from 'node:path';

export function findTool(name: string): string | undefined {
  if (name.startsWith('/')) return existsSync(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** Returns the tool's path, or undefined after skipping (outside CI) or failing (in CI) the test. */
export function needTool(t: Test, name: string, pkg: string): string | undefined {
  const p = findTool(name);
  if (p) return p;
  if (process.env.CI) t.fail(`${name} is missing (Debian package ${pkg}, installed by .ci/run)`);
  else t.plan(0, `${name} not installed (Debian package ${pkg})`);
  return undefined;
}

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
/** Skips the running test (outside CI) or fails it (in CI) for a missing prerequisite. */
export function missing(t: Test, what: string): void {
  if (process.env.CI) t.fail(`${what} is missing (installed by .ci/run)`);
  else t.plan(0, `${what} not installed`);
}

export function debianPython(): string | undefined {
  return findTool('/usr/bin/python3') ?? findTool('python3');
}
