import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkFile, checkTree, readRules } from './import-rules';

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
