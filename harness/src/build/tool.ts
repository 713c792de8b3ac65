// Running the local tools the build toolkit relies on (osslsigncode, xorriso): argv only, never
// a shell; a missing tool is an infra error naming the Debian package.
import { execFile } from 'node:child_process';
import { infraError } from '../model/errors';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

const PACKAGES: Record<string, string> = { osslsigncode: 'osslsigncode', xorriso: 'xorriso', openssl: 'openssl' };

/** Runs a tool and resolves with its exit code and output (a non-zero exit is not an error here). */
export function runTool(tool: string, args: readonly string[], opts: { cwd?: string } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { cwd: opts.cwd, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: string | number }) | null;
      if (e && e.code === 'ENOENT') {
        reject(infraError('TOOL_MISSING', `${tool} is not installed${PACKAGES[tool] ? ` (Debian package ${PACKAGES[tool]})` : ''}`, e));
        return;
      }
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr });
    });
  });
}
