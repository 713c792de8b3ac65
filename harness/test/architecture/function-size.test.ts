// No function of harness/src over MAX_LINES (issue #21 point 7: functions that fit on a screen). A
// function that grows past it is split into named parts, not added to the allow-list.
import t from 'tap';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { longFunctions, longFunctionsIn } from './function-size';

const MAX_LINES = 60;

/**
 * Functions allowed over the limit, `<file>:<name>` with why: none (#21 item 7 is done). The report
 * page's browser-side code is held to the limit too: report.html gets it as several functions declared
 * in one scope (html-client.ts `pageScript`), each short. An entry added here must say why its function
 * cannot be split; the test fails while an entry is no longer needed.
 */
const ALLOWED: Record<string, string> = {};

const src = join(__dirname, '..', '..', 'src');

t.test(`no function of harness/src over ${MAX_LINES} lines`, async (t) => {
  const long = longFunctions(src, MAX_LINES);
  const unexpected = long.filter((f) => !(f.key in ALLOWED)).map((f) => `${f.key} (line ${f.line}): ${f.lines} lines`);
  t.same(unexpected, [], `split into named parts:\n${unexpected.join('\n')}`);
  const keys = new Set(long.map((f) => f.key));
  for (const k of Object.keys(ALLOWED)) t.ok(keys.has(k), `${k} is still over ${MAX_LINES} lines (remove it from ALLOWED once split)`);
});

t.test('a planted long function is reported by name with its length', async (t) => {
  const body = (n: number) => Array.from({ length: n }, (_, i) => `  x += ${i};`).join('\n');
  const text = [
    `export function long(): number {\n  let x = 0;\n${body(MAX_LINES)}\n  return x;\n}`,
    `export function short(): number {\n  return 1;\n}`,
    `export class C {\n  method(): void {\n${body(MAX_LINES)}\n  }\n}`,
    `export const arrow = (): void => {\n${body(MAX_LINES)}\n};`,
  ].join('\n');
  const found = longFunctionsIn('x/planted.ts', text, MAX_LINES).map((f) => [f.key, f.lines]);
  t.same(found, [['x/planted.ts:long', MAX_LINES + 4], ['x/planted.ts:method', MAX_LINES + 2], ['x/planted.ts:arrow', MAX_LINES + 2]]);
  const root = mkdtempSync(join(tmpdir(), 'winpv-fn-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'report'));
  writeFileSync(join(root, 'report', 'long.ts'), text);
  t.same(longFunctions(root, MAX_LINES).map((f) => f.key), ['x/planted.ts:long', 'x/planted.ts:method', 'x/planted.ts:arrow'].map((k) => k.replace('x/planted.ts', 'report/long.ts')));
});
