// How a request handler fails, and the C daemon's number parsing, shared by the requests (ops.ts),
// XS_CONTROL (control.ts) and the dispatcher that turns a failure into XS_ERROR (server.ts).
import type { XsErrno } from './codec';

/** A request failed with this errno; the dispatcher answers XS_ERROR. */
export class XsFail extends Error {
  constructor(readonly errno: XsErrno) {
    super(errno);
  }
}

/** atoi(): leading blanks, optional sign, digits; 0 when none; wraps like a C int cast to unsigned. */
export function atoi(s: string): number {
  const m = /^[ \t\n\r\f\v]*([-+]?\d+)/.exec(s);
  if (!m) return 0;
  const v = Number.parseInt(m[1], 10);
  return Number.isFinite(v) ? v | 0 : 0;
}
