// Reading a scenario element's attributes: integers, booleans and text may use the matrix's ${var}
// (recorded as templated values the planner fills in for each combination); durations, sizes and
// fixed values may not. Every problem is located at its attribute.
import type { Problem, SourceLocation } from '../model/errors';
import type { TemplatedValue } from '../model/scenario';
import { boolValue, type XmlElement } from '../xml';
import { parseDuration, parseSize } from './units';
import { replaceVariables, usesVariables } from '../model/matrix';

export type Path = (string | number)[];

/** Reads attributes of the raw (unsubstituted) tree; values with ${var} are templated for the planner. */
export class Reader {
  readonly problems: Problem[] = [];
  readonly templated: TemplatedValue[] = [];
  constructor(
    private readonly vars: Record<string, string>,
    private readonly axes: Set<string>,
  ) {}

  private sub(el: XmlElement, attr: string, raw: string, kind: 'int' | 'bool' | 'string' | 'fixed'): string {
    let used = false;
    const out = replaceVariables(raw, (n) => {
      used = true;
      if (!this.axes.has(n)) {
        this.problems.push({ location: el.attrLoc(attr), message: `\${${n}} is not a matrix variable${this.axes.size ? ` (have: ${[...this.axes].join(', ')})` : ' (the scenario has no <matrix>)'}`, rule: 'matrix-variable' });
        return undefined;
      }
      return this.vars[n];
    });
    if (used && kind === 'fixed') {
      this.problems.push({ location: el.attrLoc(attr), message: `attribute '${attr}' cannot use matrix variables (only integer, boolean and text attributes can)`, rule: 'matrix-variable' });
    }
    return out;
  }

  /** Text values keep their ${var}: the planner substitutes strings everywhere. */
  str(el: XmlElement, attr: string): string | undefined {
    const raw = el.attr(attr);
    if (raw === undefined) return undefined;
    this.sub(el, attr, raw, 'string'); // reports unknown variables
    return raw;
  }

  int(el: XmlElement, attr: string, at: Path): number | undefined;
  int(el: XmlElement, attr: string, at: Path, dflt: number): number;
  int(el: XmlElement, attr: string, at: Path, dflt?: number): number | undefined {
    const raw = el.attr(attr);
    if (raw === undefined) return dflt;
    const v = this.sub(el, attr, raw, 'int');
    if (usesVariables(raw)) this.templated.push({ at, template: raw, as: 'int' });
    return Number(v);
  }

  bool(el: XmlElement, attr: string, at: Path, dflt: boolean): boolean {
    const raw = el.attr(attr);
    if (raw === undefined) return dflt;
    const v = this.sub(el, attr, raw, 'bool');
    if (usesVariables(raw)) this.templated.push({ at, template: raw, as: 'bool' });
    return boolValue(v);
  }

  duration(el: XmlElement, attr: string, dflt?: number): number {
    const raw = el.attr(attr);
    if (raw === undefined) return dflt ?? 0;
    return parseDuration(this.sub(el, attr, raw, 'fixed')) ?? 0;
  }

  size(el: XmlElement, attr: string, dflt: number): number {
    const raw = el.attr(attr);
    if (raw === undefined) return dflt;
    return parseSize(this.sub(el, attr, raw, 'fixed')) ?? 0;
  }

  fixed(el: XmlElement, attr: string): string | undefined {
    const raw = el.attr(attr);
    return raw === undefined ? undefined : this.sub(el, attr, raw, 'fixed');
  }

  problem(location: SourceLocation, message: string, rule: string): void {
    this.problems.push({ location, message, rule });
  }
}
