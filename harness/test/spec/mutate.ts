// Applies a fixture mutation to a fresh copy of the shipped drivers-spec/ in a temporary directory.
import { cpSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Mutation } from '../fixtures/spec/mutations';

export const repoRoot = join(__dirname, '..', '..', '..');
export const shippedDir = join(repoRoot, 'drivers-spec');

export interface Applied {
  dir: string;
  /** The edited file's name after any rename. */
  file: string;
  /** Expected file, 1-based line and element path of the problem. */
  expect: { file: string; line: number; path: string };
}

export function applyMutation(m: Mutation): Applied {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-spec-'));
  cpSync(shippedDir, dir, { recursive: true });
  const path = join(dir, m.file);
  let text = readFileSync(path, 'utf8');
  let firstAt = -1;
  for (const [find, replace] of m.edits) {
    const at = text.indexOf(find);
    if (at < 0) throw new Error(`mutation for ${m.rule}: '${find}' not found in ${m.file}`);
    if (firstAt < 0) firstAt = at;
    text = text.slice(0, at) + replace + text.slice(at + find.length);
  }
  writeFileSync(path, text);
  let file = m.file;
  if (m.renameTo) {
    renameSync(path, join(dir, m.renameTo));
    file = m.renameTo;
  }
  if (m.copyTo) writeFileSync(join(dir, m.copyTo), text);
  let anchor = firstAt;
  if (m.expect.lineOf !== undefined) {
    anchor = text.indexOf(m.expect.lineOf);
    if (anchor < 0) throw new Error(`mutation for ${m.rule}: lineOf '${m.expect.lineOf}' not found`);
  }
  const line = text.slice(0, Math.max(0, anchor)).split('\n').length + (m.expect.lineDelta ?? 0);
  return { dir, file, expect: { file: m.expect.file ?? file, line, path: m.expect.path } };
}
