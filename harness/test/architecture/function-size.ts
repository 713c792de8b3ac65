// The functions of a source tree longer than a limit, found with the TypeScript compiler's parser
// (function declarations, methods, constructors, accessors, function expressions and arrow functions
// with a body), each named as a reader would look for it.
import ts from 'typescript';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listSources } from './import-rules';

export interface LongFunction {
  /** `<file relative to the root>:<name>` (`<anonymous>` when it has none). */
  key: string;
  line: number;
  lines: number;
}

function nameOf(n: ts.FunctionLikeDeclaration, sf: ts.SourceFile): string {
  if (n.name) return n.name.getText(sf);
  if (ts.isConstructorDeclaration(n)) return 'constructor';
  const p = n.parent;
  if ((ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && p.name) return p.name.getText(sf);
  return '<anonymous>';
}

/** The functions of one file over `max` lines (from the line of their first token to their last). */
export function longFunctionsIn(file: string, text: string, max: number): LongFunction[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: LongFunction[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const f = n as ts.FunctionLikeDeclaration;
      const first = sf.getLineAndCharacterOfPosition(f.getStart(sf)).line;
      const lines = sf.getLineAndCharacterOfPosition(f.getEnd()).line - first + 1;
      if (lines > max) out.push({ key: `${file}:${nameOf(f, sf)}`, line: first + 1, lines });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Every function of a source tree over `max` lines, longest first. */
export function longFunctions(root: string, max: number): LongFunction[] {
  return listSources(root)
    .flatMap((f) => longFunctionsIn(f, readFileSync(join(root, f), 'utf8'), max))
    .sort((a, b) => b.lines - a.lines);
}
