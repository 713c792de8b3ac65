// Running local tools for the lab: capture output, stream lines, fail with a WinpvError naming the tool.
import { spawn, type SpawnOptions } from 'node:child_process';
import { infraError } from '../model/errors';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv to completion; onLine sees each stdout line as it arrives. Never throws for a non-zero exit. */
export function runTool(
  argv: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; onLine?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const so: SpawnOptions = { env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], signal: opts.signal };
    const child = spawn(argv[0]!, argv.slice(1), so);
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      if (!opts.onLine) return;
      pending += c;
      let i: number;
      while ((i = pending.indexOf('\n')) >= 0) {
        opts.onLine(pending.slice(0, i));
        pending = pending.slice(i + 1);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', (e) => reject(infraError('LAB_TOOL', `cannot run ${argv[0]}: ${e.message}`, e)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => undefined); // the tool may exit before reading all of it
      child.stdin!.end(opts.input);
    }
  });
}

/** runTool that throws unless the exit status is 0. */
export async function runToolOk(argv: readonly string[], opts: Parameters<typeof runTool>[1] = {}): Promise<RunResult> {
  const r = await runTool(argv, opts);
  if (r.code !== 0) {
    const tail = (r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n');
    throw infraError('LAB_TOOL', `${argv[0]} ${argv[1] ?? ''} failed (exit ${r.code}):\n${tail}`);
  }
  return r;
}
