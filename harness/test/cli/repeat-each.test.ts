// winpv run --repeat-each N on the simulator: each instance N times, the pass rates printed and in summary.json.
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runWinpv } from '../support/cli-io';

const repo = resolve(__dirname, '..', '..', '..');

t.test('--repeat-each 2 runs the scenario twice and prints its pass rate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-repeat-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await runWinpv(['run', 'scenarios/vif-connect.xml', '--repeat-each', '2', '--report-dir', dir, '--db', 'none', '--seed', '3'], { cwd: repo, env: {} });
  t.equal(r.code, 0, r.err);
  t.match(r.out, /pass rates over 2 runs each:\n {2}vif-connect: 2\/2 passed \(100%\)\n/);
  const run = readdirSync(dir).find((d) => d !== 'latest' && !d.endsWith('.json'))!;
  const summary = JSON.parse(readFileSync(join(dir, run, 'summary.json'), 'utf8'));
  t.same(summary.instances.map((i: { inst: string }) => i.inst), ['vif-connect~rep1', 'vif-connect~rep2']);
  t.same(summary.passRates, [{ inst: 'vif-connect', runs: 2, passed: 2, failed: 0, skipped: 0, failures: [], rate: 1 }]);
  t.match(readFileSync(join(dir, run, 'results.tap'), 'utf8'), /ok 1 - vif-connect~rep1[\s\S]*ok 2 - vif-connect~rep2/);
  t.notOk(readdirSync(dir).includes('durations.json'), 'repetitions stay out of the durations file');
});

t.test('winpv check and report merge of a repeated run give the same pass rates', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-repeat-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await runWinpv(['run', 'scenarios/vif-connect.xml', '--repeat-each', '2', '--report-dir', dir, '--db', 'none', '--seed', '3', '--reporter', 'none'], { cwd: repo, env: {} });
  t.equal(r.code, 0, r.err);
  const run = join(dir, readdirSync(dir).find((d) => d !== 'latest' && !d.endsWith('.json'))!);
  const live = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')).passRates;
  const merged = await runWinpv(['report', 'merge', run, '--report-dir', join(dir, 'merged'), '--reporter', 'none'], { cwd: repo, env: {} });
  t.equal(merged.code, 0, merged.err);
  t.same(JSON.parse(readFileSync(join(dir, 'merged', 'latest', 'summary.json'), 'utf8')).passRates, live);
});

t.test('--repeat-each refuses what is not a count (exit 2)', async (t) => {
  for (const bad of ['0', '-2', 'x', '1.5', '1001']) {
    const r = await runWinpv(['run', 'scenarios/vif-connect.xml', `--repeat-each=${bad}`, '--db', 'none'], { cwd: repo, env: {} });
    t.equal(r.code, 2, `--repeat-each ${bad}`);
    t.match(r.err, /--repeat-each takes an integer from 1 to 1000/);
  }
});
