// Where the lint rules (lint*.ts) put what they find: each problem with its location and rule id.
import type { Problem, SourceLocation } from '../model/errors';

export class Collector {
  readonly problems: Problem[] = [];
  add(location: SourceLocation, rule: string, message: string): void {
    this.problems.push({ location, message, rule });
  }
}
