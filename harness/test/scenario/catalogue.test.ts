// The README's first command, `winpv run` with no arguments, runs the default catalogue (scenarios/)
// on the simulated host. Every instance of it must pass with the correct driver models: a spec rule
// or a simulator change that fails one of them (as `ring-page-order` required at order 0 once did)
// is caught here rather than by the first user on a fresh machine. The seed is random, as in the
// README, and printed, so a failure can be repeated.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runWinpv } from '../support/cli-io';

const repo = resolve(__dirname, '..', '..', '..');

t.test('winpv run (the default catalogue on the simulated host) passes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-catalogue-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const seed = String(Math.floor(Math.random() * 2 ** 31));
  const { code, err: e } = await runWinpv(['run', '--report-dir', dir, '--db', 'none', '--reporter', 'none', '--seed', seed], { cwd: repo, env: {} });
  const tap = readFileSync(join(dir, 'latest', 'results.tap'), 'utf8');
  const failed = tap.split('\n').filter((l) => /^not ok /.test(l) || /^\s+not ok \d+ - /.test(l));
  t.equal(code, 0, `winpv run --seed ${seed} exits 0\n${failed.join('\n')}\n${e.slice(-800)}`);
  t.ok(/^1\.\.\d+$/m.test(tap) && !/^not ok /m.test(tap), 'every instance ok');
});
