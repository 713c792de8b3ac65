// How the runner classifies what went wrong in a step: a step failure (the scenario is aborted and
// the run goes on), an interruption (SIGINT), or a host failure (the run bails out).
import { isWinpvError, type ErrorInfo } from '../model/errors';

/** A step did not achieve what it asked for (a wait timed out, a capability was missing). */
export class StepFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}

export class Interrupted extends Error {
  readonly code = 'INTERRUPTED';
  constructor(reason = 'interrupted') {
    super(reason);
    this.name = 'Interrupted';
  }
}

export const isHostFailure = (e: unknown) => isWinpvError(e) && (e.kind === 'host' || e.kind === 'infra');

/** A step failure and an interruption carry no kind (a failed test); a WinpvError keeps its kind, so a
 *  bundle refused as bad input inside a run still exits 2 and a host's refusal 3. */
export function errorInfo(e: unknown): ErrorInfo {
  if (e instanceof StepFailure || e instanceof Interrupted) return { code: e.code, message: e.message };
  if (isWinpvError(e)) return { code: e.code, message: e.message, kind: e.kind };
  return { code: 'INTERNAL', message: (e as Error)?.message ?? String(e) };
}
