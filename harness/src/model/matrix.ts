// Matrix variables, defined once: a variable's name, a `${name}` reference in a value, the
// combinations of a scenario's matrix and their substitution. The scenario loader (every
// combination validated, unknown variables reported) and the planner (one instance per
// combination) both use these, so they cannot disagree on what a scenario expands to.
import type { MatrixAxis } from './scenario';

/** What a matrix variable may be called (the `name` of a scenario's `<axis>`). */
export const MATRIX_VARIABLE_NAME = /^[A-Za-z_][\w-]*$/;
const REFERENCE = /\$\{([A-Za-z_][\w-]*)\}/g;

/** Every combination of the axes, in order (the first axis varies slowest). */
export function combinations(axes: readonly MatrixAxis[]): Record<string, string>[] {
  return axes.reduce<Record<string, string>[]>((acc, a) => acc.flatMap((c) => a.values.map((v) => ({ ...c, [a.name]: v }))), [{}]);
}

/** Each `${name}` in `s` replaced by `value(name)`; where that is undefined the reference stays. */
export const replaceVariables = (s: string, value: (name: string) => string | undefined): string =>
  s.replace(REFERENCE, (m, n: string) => value(n) ?? m);

/** `${name}` replaced by the parameter's value; unknown names are left as they are. */
export const substitute = (s: string, params: Record<string, string>): string =>
  replaceVariables(s, (n) => (Object.hasOwn(params, n) ? params[n] : undefined));

/** Whether a value is a template (holds `${`), to be substituted per instance. */
export const usesVariables = (s: string): boolean => s.includes('${');
