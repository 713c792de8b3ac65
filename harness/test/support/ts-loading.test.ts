import t from 'tap';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// How the tests load TypeScript (support/ts-hook.mjs, support/ts-require.cjs): the suite depends on
// two properties that nothing else would notice losing.

t.test('a stack trace names the TypeScript line (inline source maps: tap\'s coverage uses them too)', async (t) => {
  const stack = ((): string => {
    type Unused = { a: number };
    const u: Unused | undefined = undefined;
    void u;
    return new Error('here').stack ?? '';
  })();
  t.match(stack, /ts-loading\.test\.ts:15:\d+/, stack.split('\n')[1] ?? stack);
});

t.test('a child forked from source in another directory loads TypeScript the same way', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-ts-loading-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = join(dir, 'child.ts');
  writeFileSync(child, "const n: number = 42;\nprocess.send!({ n, argv: process.execArgv });\n");
  const got = await new Promise<{ n: number; argv: string[] }>((resolve, reject) => {
    const p = fork(child, [], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], timeout: 30_000 });
    p.once('message', (m) => resolve(m as { n: number; argv: string[] }));
    p.once('exit', (code) => reject(new Error(`the child exited with ${code} before it answered`)));
  });
  t.equal(got.n, 42);
  t.ok(got.argv.some((a) => /^--import=file:.*\/ts-hook\.mjs$/.test(a)), `the hook by absolute URL: ${got.argv.join(' ')}`);
});
