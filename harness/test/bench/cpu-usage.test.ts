import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import ts from 'typescript';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const preload = join(__dirname, '..', '..', 'src', 'bench', 'cpu-usage-preload.ts');

t.test('the preload writes the child process CPU time at exit, only when asked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-bench-cpu-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'cpu.json');
  // the preload as the build emits it (CommonJS), without a TypeScript loader in the child
  const js = join(dir, 'preload.js');
  writeFileSync(js, ts.transpileModule(readFileSync(preload, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText);
  const run = (env: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, ['--require', js, '-e', 'let x = 0; for (let i = 0; i < 1e6; i++) x += i;'], { env: { ...process.env, ...env }, timeout: 120_000 });
  t.equal(run({ WINPV_BENCH_CPU_FILE: file }).status, 0);
  const cpu = JSON.parse(readFileSync(file, 'utf8')) as { user: number; system: number };
  t.ok(cpu.user > 0, `user ${cpu.user} us`);
  t.ok(cpu.system >= 0);
  rmSync(file);
  t.equal(run({ WINPV_BENCH_CPU_FILE: '' }).status, 0);
  t.notOk(existsSync(file), 'nothing written without WINPV_BENCH_CPU_FILE');
});
