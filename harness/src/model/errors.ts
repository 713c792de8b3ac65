// The one error family of winpv. Every failure the user can cause or meet is a WinpvError
// with a code, an exit status and, where there is one, a location in an input file.
// The CLI prints `message` (and the location) without a stack trace unless --verbose.

/** Exit statuses of the `winpv` command. */
export const ExitCode = {
  ok: 0,
  testFailed: 1,
  badInput: 2,
  hostError: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Where in an input a problem is: file, 1-based line/column, and the element path (`/driver/xenstore/key[3]`). */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
  /** Element path inside an XML document, or section/key inside an INF. */
  path?: string;
}

export function formatLocation(loc: SourceLocation): string {
  let s = loc.file;
  if (loc.line !== undefined) s += `:${loc.line}`;
  if (loc.column !== undefined) s += `:${loc.column}`;
  if (loc.path) s += ` ${loc.path}`;
  return s;
}

export type ErrorKind =
  | 'usage' // bad command line
  | 'input' // malformed or invalid file (spec, scenario, trace, INF, config)
  | 'host' // a host backend failed or dropped
  | 'infra' // a local tool or resource is missing (qemu, osslsigncode, disk)
  | 'guest' // the guest under test failed (died, hung, its workload broke): a test failure, not a host failure
  | 'internal'; // a bug in winpv

const exitFor: Record<ErrorKind, ExitCode> = {
  usage: ExitCode.badInput,
  input: ExitCode.badInput,
  host: ExitCode.hostError,
  infra: ExitCode.hostError,
  guest: ExitCode.testFailed,
  internal: ExitCode.hostError,
};

/** The exit status an error of this kind gives the command, also when it only aborted one scenario of a run. */
export function exitCodeOf(kind: ErrorKind): ExitCode {
  return exitFor[kind];
}

/** What the trace and the results keep of an error: its code and message, and its kind when it
 *  was a WinpvError (a bundle refused as bad input, a pool that refused a guest), so the run's exit
 *  status can tell bad input (2) and a host error (3) from a failed test (1). */
export interface ErrorInfo {
  code: string;
  message: string;
  kind?: ErrorKind;
}

export class WinpvError extends Error {
  readonly kind: ErrorKind;
  /** Stable machine-readable code, e.g. `SPEC_INVALID`, `XAPI_SESSION_AUTHENTICATION_FAILED`. */
  readonly code: string;
  readonly location?: SourceLocation;
  /** Further located problems (a loader reports all of them at once). */
  readonly problems: readonly Problem[];
  override readonly cause?: unknown;

  constructor(
    kind: ErrorKind,
    code: string,
    message: string,
    opts: { location?: SourceLocation; problems?: readonly Problem[]; cause?: unknown } = {},
  ) {
    super(message);
    this.name = 'WinpvError';
    this.kind = kind;
    this.code = code;
    this.location = opts.location;
    this.problems = opts.problems ?? [];
    this.cause = opts.cause;
  }

  get exitCode(): ExitCode {
    return exitFor[this.kind];
  }
}

/** One located complaint about an input; loaders collect these instead of throwing on the first. */
export interface Problem {
  location: SourceLocation;
  message: string;
  /** Rule that found it, e.g. `xsd`, `revision-exists`, `unique-key`. */
  rule?: string;
}

export function formatProblem(p: Problem): string {
  return `${formatLocation(p.location)}: ${p.message}${p.rule ? ` [${p.rule}]` : ''}`;
}

export const usageError = (message: string) => new WinpvError('usage', 'USAGE', message);
export const inputError = (code: string, message: string, problems: readonly Problem[] = [], location?: SourceLocation) =>
  new WinpvError('input', code, message, { problems, location });
export const hostError = (code: string, message: string, cause?: unknown) => new WinpvError('host', code, message, { cause });
export const guestError = (code: string, message: string, cause?: unknown) => new WinpvError('guest', code, message, { cause });
export const infraError = (code: string, message: string, cause?: unknown) => new WinpvError('infra', code, message, { cause });
/** A step or probe this host's backend cannot do (a backend-restart of a tapdisk3 disk on xl, say):
 *  the runner reports the instance skipped with this reason, never done and never failed. */
export const unsupportedError = (message: string) => new WinpvError('host', 'UNSUPPORTED', message);
export const isUnsupported = (e: unknown): boolean => isWinpvError(e) && e.code === 'UNSUPPORTED';

export function isWinpvError(e: unknown): e is WinpvError {
  return e instanceof WinpvError;
}
