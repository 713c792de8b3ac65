// Turning collected problems into the one error a loader throws (kind 'input', exit 2).
import { inputError, formatProblem, type Problem, type WinpvError } from '../model/errors';

/** Problems in document order: by file, then line, then column. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  return [...problems].sort(
    (a, b) =>
      a.location.file.localeCompare(b.location.file) ||
      (a.location.line ?? 0) - (b.location.line ?? 0) ||
      (a.location.column ?? 0) - (b.location.column ?? 0),
  );
}

/**
 * One WinpvError (kind 'input', exit 2) carrying every problem; its message lists them all,
 * one `file:line:col path: message [rule]` per line, so printing the message is enough.
 * `what` names the input, e.g. `driver spec` or `scenario`.
 */
export function problemsError(code: string, what: string, problems: readonly Problem[]): WinpvError {
  const sorted = sortProblems(problems);
  const head = `${sorted.length} problem${sorted.length === 1 ? '' : 's'} in ${what}`;
  return inputError(code, [head + ':', ...sorted.map((p) => '  ' + formatProblem(p))].join('\n'), sorted, sorted[0]?.location);
}

/** Throw `problemsError` when there is any problem. */
export function throwIfProblems(code: string, what: string, problems: readonly Problem[]): void {
  if (problems.length) throw problemsError(code, what, problems);
}
