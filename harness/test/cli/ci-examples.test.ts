// The CI examples in docs/ci/ use each engine's own means (GitHub matrix + concurrency, GitLab
// parallel:matrix + resource_group, Jenkins lockable resources), and every winpv command and flag
// they run exists: each is checked against that command's --help. YAML is checked textually
// (no YAML parser is a dependency of the project): no tabs, even indentation, no duplicate top keys.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runWinpv } from '../support/cli-io';

const dir = join(resolve(__dirname, '..', '..', '..'), 'docs', 'ci');
const read = (f: string) => readFileSync(join(dir, f), 'utf8');

/** Every `harness/bin/winpv <command> [<subcommand>] ...` line: the words and the --flags. */
function invocations(text: string): { words: string[]; flags: string[] }[] {
  const out: { words: string[]; flags: string[] }[] = [];
  for (const m of text.matchAll(/harness\/bin\/winpv ([^\n"']+)/g)) {
    const args = m[1].trim().split(/\s+/);
    const words = args.slice(0, 2).filter((a) => /^[a-z]+$/.test(a));
    out.push({ words: args[0] === 'report' ? words : words.slice(0, 1), flags: args.filter((a) => a.startsWith('--')) });
  }
  return out;
}

function yamlProblems(text: string): string[] {
  const problems: string[] = [];
  const top = new Set<string>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line.includes('\t')) problems.push(`line ${i + 1}: tab`);
    const indent = /^ */.exec(line)![0].length;
    if (line.trim() && !line.trim().startsWith('#') && indent % 2) problems.push(`line ${i + 1}: odd indentation`);
    const key = /^([A-Za-z][\w-]*):/.exec(line)?.[1];
    if (key && top.has(key)) problems.push(`line ${i + 1}: duplicate key ${key}`);
    if (key) top.add(key);
  }
  return problems;
}

const examples = [
  { file: 'github-actions.yml', yaml: true, must: [/^concurrency:/m, /strategy:\n\s+fail-fast: false\n\s+matrix:\n\s+shard: \[1, 2, 3, 4\]/, /--shard \$\{\{ matrix\.shard \}\}\/4/, /junit\.xml/, /upload-artifact/] },
  { file: 'gitlab-ci.yml', yaml: true, must: [/parallel:\n\s+matrix:\n\s+- SHARD: \['1', '2', '3', '4'\]/, /resource_group: /, /--shard \$SHARD\/4/, /junit: reports\/merged\/latest\/junit\.xml/] },
  { file: 'Jenkinsfile', yaml: false, must: [/lock\(label: '[^']+', quantity: 1\)/, /parallel shards/, /junit '[^']*junit\.xml'/, /publishHTML/, /--shard \$\{k\}\/4/] },
];

for (const ex of examples) {
  t.test(ex.file, async (t) => {
    const text = read(ex.file);
    for (const re of ex.must) t.match(text, re, `uses ${re}`);
    if (ex.yaml) t.same(yamlProblems(text), [], 'well-formed YAML (textual check)');
    const calls = invocations(text);
    t.ok(calls.some((c) => c.words[0] === 'run') && calls.some((c) => c.words.join(' ') === 'report merge'), 'shards run, and the shards are merged');
    for (const c of calls) {
      const help = await runWinpv([...c.words, '--help']);
      t.equal(help.code, 0, `winpv ${c.words.join(' ')} exists`);
      for (const f of c.flags) t.match(help.out, new RegExp(`${f}\\b`), `winpv ${c.words.join(' ')} takes ${f}`);
    }
  });
}

t.test('the checks can fail: an unknown flag or command is caught', async (t) => {
  const [c] = invocations('harness/bin/winpv run --shard 1/2 --no-such-flag');
  const help = await runWinpv([...c.words, '--help']);
  t.notMatch(help.out, /--no-such-flag\b/);
  t.same(yamlProblems('a: 1\n\tb: 2\n a: 3\n'), ['line 2: tab', 'line 3: odd indentation']);
  t.equal((await runWinpv(['frobnicate', '--help'])).code, 2);
});
