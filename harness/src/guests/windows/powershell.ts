// Running PowerShell in a Windows guest over OpenSSH. Every script is sent as -EncodedCommand
// (UTF-16LE, base64), so nothing is reinterpreted by cmd.exe; values reach the script only as one
// JSON document in a single-quoted PowerShell literal (psQuote), never spliced into code.
import type { SshConnection } from '../../remote/ssh';
import { guestError } from '../../model/errors';

/** What a guest answers (a failed command, bad output) fails the scenario, not the run (kind
 *  'guest'): the runner stops a run only when the host is lost (an SSH connection that drops). */
export { guestError };
import { psQuote } from '../../util/quote';

export const OP_MARKER = '# winpv:';

/** The script text: a marker line naming the operation, the parameters, then the body. */
export function psScript(op: string, params: Record<string, unknown>, body: string): string {
  return [`${OP_MARKER}${op}`, `$ErrorActionPreference = 'Stop'`, `$p = ConvertFrom-Json ${psQuote(JSON.stringify(params))}`, body.trim(), ''].join('\n');
}

/** The command line OpenSSH's default shell (cmd.exe) gets. */
export function encodedCommand(script: string): string {
  return `powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ${Buffer.from(script, 'utf16le').toString('base64')}`;
}

/** Inverse of encodedCommand, for the guest double and for logs. */
export function decodeCommand(line: string): string | undefined {
  const m = /-EncodedCommand\s+([A-Za-z0-9+/=]+)\s*$/.exec(line);
  return m ? Buffer.from(m[1]!, 'base64').toString('utf16le') : undefined;
}

export interface PsResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function runPs(ssh: SshConnection, op: string, params: Record<string, unknown>, body: string, opts: { timeoutMs?: number; okCodes?: number[] | 'any' } = {}): Promise<PsResult> {
  const r = await ssh.execLine(encodedCommand(psScript(op, params, body)), { timeoutMs: opts.timeoutMs });
  // 'any': the caller reads the exit code itself (a tool whose refusals it explains)
  const ok = opts.okCodes ?? [0];
  if (r.code === null || (ok !== 'any' && !ok.includes(r.code))) {
    throw guestError('GUEST_COMMAND', `${op} failed in the guest (exit ${r.code ?? r.signal}): ${firstLines(r.stderr || r.stdout)}`);
  }
  return r;
}

/** Runs a script that prints one JSON document. */
export async function runPsJson<T>(ssh: SshConnection, op: string, params: Record<string, unknown>, body: string, opts: { timeoutMs?: number } = {}): Promise<T> {
  const r = await runPs(ssh, op, params, body, opts);
  try {
    return JSON.parse(r.stdout.replace(/^\uFEFF/, '')) as T;
  } catch {
    throw guestError('GUEST_OUTPUT', `${op}: the guest did not answer JSON: ${firstLines(r.stdout)}`);
  }
}

function firstLines(s: string): string {
  return s.trim().split(/\r?\n/).slice(0, 4).join(' | ');
}
