import t from 'tap';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFile, checkTree, findCycles, importGraph, readRules } from './import-rules';

const repo = join(__dirname, '..', '..', '..');
const rules = readRules(readFileSync(join(repo, 'ARCHITECTURE.md'), 'utf8'));

t.test('every folder of harness/src follows the import rules of ARCHITECTURE.md', async (t) => {
  t.ok(rules.size >= 10, 'the rules table was found');
  const violations = checkTree(join(repo, 'harness', 'src'), rules);
  t.same(violations, [], violations.map((v) => `${v.file}:${v.line} ${v.reason}`).join('\n'));
});

t.test('a model file importing I/O is caught', async (t) => {
  const v = checkFile('model/bad.ts', "import { readFileSync } from 'node:fs';\n", rules);
  t.equal(v.length, 1);
  t.match(v[0].reason, /pure/);
  const v2 = checkFile('model/bad.ts', "const x = require('execa');\n", rules);
  t.equal(v2.length, 1);
});

t.test('a reporter importing a backend is caught', async (t) => {
  const v = checkFile('report/tap.ts', "import { SimHost } from '../hosts/sim-host';\n", rules);
  t.equal(v.length, 1);
  t.match(v[0].reason, /'report\/' may not import 'hosts\/'/);
  const v2 = checkFile('report/tap.ts', "import type { SimHost } from '../sim/host';\n", rules);
  t.equal(v2.length, 1, 'type-only imports count too');
});

t.test('checks may not reach the trace writer or hosts', async (t) => {
  t.equal(checkFile('checks/x.ts', "import { TraceWriter } from '../trace/writer';\n", rules).length, 1);
  t.equal(checkFile('checks/x.ts', "import type { TraceEvent } from '../model/trace';\n", rules).length, 0);
});

t.test('an unknown folder is reported', async (t) => {
  t.equal(checkFile('misc/x.ts', '', rules).length, 1);
});

t.test('a folder index import counts as that folder', async (t) => {
  t.equal(checkFile('build/x.ts', "import { openBundle } from '../inf';\n", rules).length, 0);
  t.equal(checkFile('report/x.ts', "import { SimHost } from '../sim';\n", rules).length, 1);
});

/**
 * Import cycles still waiting for their split (issue #21 point 7), each as findCycles names it.
 * hosts/sim is being reworked on another branch; remove the entry when that change lands (the test
 * below fails once the cycle is gone, so the exception cannot outlive it).
 */
const KNOWN_CYCLES: string[] = [];

t.test('no import cycle between files of harness/src', async (t) => {
  const cycles = findCycles(importGraph(join(repo, 'harness', 'src'))).map((c) => c.join(' -> '));
  const unexpected = cycles.filter((c) => !KNOWN_CYCLES.includes(c));
  t.same(unexpected, [], `import cycles:\n${unexpected.join('\n')}`);
  for (const known of KNOWN_CYCLES) t.ok(cycles.includes(known), `known cycle still there (remove it from KNOWN_CYCLES once broken): ${known}`);
});

t.test('a planted cycle in a graph is named, the shortest way round', async (t) => {
  const graph = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts', 'd.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['b.ts']],
    ['e.ts', ['a.ts']],
    ['f.ts', ['f.ts']],
  ]);
  t.same(findCycles(graph), [
    ['a.ts', 'b.ts', 'c.ts', 'a.ts'],
    ['f.ts', 'f.ts'],
  ]);
  t.same(findCycles(new Map([['a.ts', ['b.ts']], ['b.ts', []]])), [], 'a chain is no cycle');
});

t.test('a planted cycle between source files is found, type-only imports included', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'winpv-cycle-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'report'));
  mkdirSync(join(root, 'model'));
  writeFileSync(join(root, 'report', 'files.ts'), "import { renderHtml } from './html';\n");
  writeFileSync(join(root, 'report', 'html.ts'), "import type { RunMeta } from './files';\nimport { x } from '../model';\n");
  writeFileSync(join(root, 'model', 'index.ts'), "// import { y } from '../report/files';\nexport const x = 1;\n");
  const graph = importGraph(root);
  t.same(graph.get('report/html.ts'), ['model/index.ts', 'report/files.ts'], 'a folder import resolves to its index');
  t.same(graph.get('model/index.ts'), [], 'a commented-out import is no edge');
  t.same(findCycles(graph).map((c) => c.join(' -> ')), ['report/files.ts -> report/html.ts -> report/files.ts']);
});
