// The one way the harness runs a local program (on execa): argv only, never a shell; output captured
// and, when asked, stdout streamed line by line; stdin from a string or buffer; every run bounded by
// a deadline and abortable by a signal. A program that is not installed is an infra error naming its
// Debian package; a non-zero exit is the caller's to judge (runProcess) or an infra error with the
// end of the program's output (runProcessOk).
import { infraError } from '../model/errors';

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ProcessOptions {
  cwd?: string;
  /** Variables set for the program on top of the environment it inherits from winpv. */
  env?: Readonly<Record<string, string>>;
  input?: string | Buffer;
  /** Each stdout line as it arrives (the whole stdout is still in the result). */
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  /** Deadline of the run; when it passes the program is killed and the run is an infra error. */
  timeoutMs?: number;
  /** The error code of a failed runProcessOk (default TOOL_FAILED). */
  errorCode?: string;
}

/** Programs the harness runs and the Debian packages that hold them, for "not installed" errors. */
const DEBIAN_PACKAGES: Record<string, string> = {
  osslsigncode: 'osslsigncode', xorriso: 'xorriso', openssl: 'openssl', debugfs: 'e2fsprogs', 'mkfs.ext4': 'e2fsprogs',
  'qemu-system-x86_64': 'qemu-system-x86', 'qemu-img': 'qemu-utils', debootstrap: 'debootstrap', 'ssh-keygen': 'openssh-client', ssh: 'openssh-client',
};

/** Long enough for any tool the harness runs (a lab image build is bounded by its own caller). */
const DEFAULT_PROCESS_DEADLINE_MS = 30 * 60_000;

/** Runs argv to completion; a non-zero exit is returned, not thrown. */
export async function runProcess(argv: readonly string[], opts: ProcessOptions = {}): Promise<ProcessResult> {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('runProcess needs a program');
  const { execa } = await import('execa');
  const child = execa(file, args, {
    cwd: opts.cwd,
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    reject: false,
    stripFinalNewline: false,
    maxBuffer: 256 << 20,
    timeout: opts.timeoutMs ?? DEFAULT_PROCESS_DEADLINE_MS,
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
  });
  if (opts.onLine) {
    let pending = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => {
      pending += c;
      let i: number;
      while ((i = pending.indexOf('\n')) >= 0) {
        opts.onLine!(pending.slice(0, i));
        pending = pending.slice(i + 1);
      }
    });
  }
  const r = await child;
  const cause = r as { code?: string; timedOut?: boolean; isCanceled?: boolean; exitCode?: number; signal?: string; originalMessage?: string };
  if (cause.code === 'ENOENT') {
    const pkg = DEBIAN_PACKAGES[file.split('/').pop()!];
    throw infraError('TOOL_MISSING', `${file} is not installed${pkg ? ` (Debian package ${pkg})` : ''}`);
  }
  if (cause.timedOut) throw infraError('TOOL_TIMEOUT', `${file} did not finish within ${Math.round((opts.timeoutMs ?? DEFAULT_PROCESS_DEADLINE_MS) / 1000)} s and was killed`);
  if (cause.isCanceled) throw infraError('TOOL_CANCELLED', `${file} was stopped: the run was interrupted`);
  if (cause.exitCode === undefined && !cause.signal) throw infraError('TOOL_FAILED', `cannot run ${file}: ${cause.originalMessage ?? cause.code ?? 'unknown error'}`);
  const stderr = String(r.stderr ?? '') + (cause.signal ? `\n${file} was killed by ${cause.signal}` : '');
  // killed by a signal: a failure like a non-zero exit (-1 stands for "no exit status")
  return { code: cause.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr };
}

/** runProcess that throws unless the exit status is 0, with the end of the program's output. */
export async function runProcessOk(argv: readonly string[], opts: ProcessOptions = {}): Promise<ProcessResult> {
  const r = await runProcess(argv, opts);
  if (r.code !== 0) {
    const tail = (r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n');
    throw infraError(opts.errorCode ?? 'TOOL_FAILED', `${argv[0]} ${argv[1] ?? ''} failed (exit ${r.code}):\n${tail}`);
  }
  return r;
}
