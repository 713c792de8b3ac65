// The repository's known-issues file (scenarios/known-issues.json): a list of
// { scenario, check, symptom, issue } mapping a failure to the issue that tracks it. Every problem
// is reported with the file and the entry's JSON path; a missing default file is no known issues.
import { existsSync, readFileSync } from 'node:fs';
import { inputError, type Problem } from '../model/errors';
import type { KnownIssue } from '../model/outcomes';

export const KNOWN_ISSUES_FILE = 'known-issues.json';

export function loadKnownIssues(file: string, required = false): KnownIssue[] {
  if (!existsSync(file)) {
    if (required) throw inputError('KNOWN_ISSUES_UNREADABLE', `no known-issues file ${file}`, [], { file });
    return [];
  }
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw inputError('KNOWN_ISSUES_INVALID', `the known-issues file is not valid JSON: ${(e as Error).message}`, [], { file });
  }
  const problems: Problem[] = [];
  const bad = (path: string, message: string) => problems.push({ location: { file, path }, message });
  if (!Array.isArray(data)) throw inputError('KNOWN_ISSUES_INVALID', 'the known-issues file must hold a JSON array of { scenario, check, symptom, issue }', [], { file });
  data.forEach((e: Record<string, unknown>, k) => {
    if (typeof e !== 'object' || e === null) return bad(`/${k}`, 'must be an object');
    for (const f of ['scenario', 'check', 'symptom', 'issue']) if (typeof e[f] !== 'string' || !e[f]) bad(`/${k}/${f}`, `needs a non-empty string '${f}'`);
    for (const f of Object.keys(e)) if (!['scenario', 'check', 'symptom', 'issue', 'note'].includes(f)) bad(`/${k}/${f}`, `unknown field '${f}'`);
    if (typeof e.symptom === 'string') {
      try {
        new RegExp(e.symptom);
      } catch (err) {
        bad(`/${k}/symptom`, `not a regular expression: ${(err as Error).message}`);
      }
    }
    if (typeof e.issue === 'string' && !/^https?:\/\/\S+$/.test(e.issue)) bad(`/${k}/issue`, 'must be a link (http:// or https://)');
  });
  if (problems.length) throw inputError('KNOWN_ISSUES_INVALID', `the known-issues file has ${problems.length} problem(s)`, problems, { file });
  return data as KnownIssue[];
}
