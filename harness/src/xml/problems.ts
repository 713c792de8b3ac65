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
 * One WinpvError (kind 'input', exit 2) carrying every problem, sorted. Its message is a one-line
 * summary (`3 problems in driver specs`); the CLI prints each problem below it as
 * `file:line:col path: message [rule]` (formatProblem). `what` names the input, e.g. `driver specs`.
 */
export function problemsError(code: string, what: string, problems: readonly Problem[]): WinpvError {
  const sorted = sortProblems(problems);
  const head = `${sorted.length} problem${sorted.length === 1 ? '' : 's'} in ${what}`;
  return inputError(code, sorted.length === 1 ? `${head}: ${sorted[0].message}` : head, sorted);
}

/** Every problem of an error, one `file:line:col path: message [rule]` per line. */
export const formatProblems = (problems: readonly Problem[]): string => problems.map(formatProblem).join('\n');

/** Throw `problemsError` when there is any problem. */
export function throwIfProblems(code: string, what: string, problems: readonly Problem[]): void {
  if (problems.length) throw problemsError(code, what, problems);
}
