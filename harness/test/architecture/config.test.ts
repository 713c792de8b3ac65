// Configuration is resolved once (cli/config.ts) and passed down: no module of harness/src reads
// process.env, or a variable out of an environment object, except the config module.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listSources } from './import-rules';

const src = join(__dirname, '..', '..', 'src');

/** The module that reads the environment. */
const CONFIG_MODULE = 'cli/config.ts';
/** The command context carries the environment from main.ts to the config functions (its type only). */
const CARRIES_ENV = new Set([CONFIG_MODULE, 'cli/command.ts']);
/** `npm run bench` is not part of a run: its modules start child processes with variables of their own
 *  (WINPV_BENCH_CPU_FILE for the CPU-time preload, XENSTORED_* for the C xenstored) and may read them. */
const allowed = (file: string) => file.startsWith('bench/');

const PROCESS_ENV = /\bprocess\s*(?:\?\.|\.)\s*env\b|\bprocess\s*\[\s*['"]env['"]\s*\]|\{[^}]*\benv\b[^}]*\}\s*=\s*process\b/;
const ENV_VARIABLE = /\benv\s*(?:\?\.|\.)\s*[A-Z][A-Z0-9_]*\b|\benv\s*\[\s*['"][A-Z][A-Z0-9_]*['"]\s*\]/;
const ENV_TYPE = /\bProcessEnv\b/;

interface Finding {
  file: string;
  line: number;
  what: string;
}

export function environmentReads(file: string, text: string): Finding[] {
  if (allowed(file)) return [];
  const out: Finding[] = [];
  text.split('\n').forEach((line, i) => {
    if (/^\s*(\/\/|\*|\/\*)/.test(line)) return;
    if (file !== CONFIG_MODULE && PROCESS_ENV.test(line)) out.push({ file, line: i + 1, what: 'reads process.env' });
    if (file !== CONFIG_MODULE && ENV_VARIABLE.test(line)) out.push({ file, line: i + 1, what: 'reads an environment variable' });
    if (!CARRIES_ENV.has(file) && ENV_TYPE.test(line)) out.push({ file, line: i + 1, what: 'takes the environment' });
  });
  return out;
}

t.test(`only ${CONFIG_MODULE} reads the environment; everything else gets resolved values`, async (t) => {
  const files = listSources(src);
  t.ok(files.includes(CONFIG_MODULE) && files.length > 100, 'the sources were found');
  const found = files.flatMap((f) => environmentReads(f, readFileSync(join(src, f), 'utf8')));
  t.same(found, [], found.map((f) => `${f.file}:${f.line} ${f.what}`).join('\n'));
});

t.test('planted reads are caught', async (t) => {
  t.same(environmentReads('hosts/xapi/config.ts', "const pw = process.env.WINPV_GUEST_PASSWORD;").map((f) => f.what), ['reads process.env', 'reads an environment variable']);
  t.same(environmentReads('lab/state.ts', "const { env } = process;").map((f) => f.what), ['reads process.env']);
  t.same(environmentReads('util/process.ts', "spawn(file, args, { env: process['env'] });").map((f) => f.what), ['reads process.env']);
  t.same(environmentReads('results/db.ts', 'export function dataDir(env: NodeJS.ProcessEnv) { return env.XDG_DATA_HOME; }').map((f) => f.what), ['reads an environment variable', 'takes the environment']);
  t.same(environmentReads('cli/commands/build.ts', "const url = ctx.env['WINPV_BUILDER'];").map((f) => f.what), ['reads an environment variable'], 'a command too: it asks cli/config.ts');
  t.same(environmentReads(CONFIG_MODULE, 'export const processEnvironment = (): NodeJS.ProcessEnv => process.env;'), [], 'the config module may');
  t.same(environmentReads('bench/xenstore.ts', 'const bin = process.env.WINPV_XENSTORED_NOHV;'), [], 'the benchmarks are allowed (commented above)');
  t.same(environmentReads('runner/run.ts', '// process.env is never read here'), [], 'comments are not reads');
});
