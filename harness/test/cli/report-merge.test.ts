// Shards merge by replaying their traces: the merged TAP lists every instance once, in shard
// order, with the verdicts each shard's own TAP gave.
import t from 'tap';
import { readTraceFile } from '../../src/trace/reader';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Parser } from 'tap-parser';
import { main } from '../../src/cli/main';
import { runPlanned } from '../support/run-plan';
import type { TraceWriter } from '../../src/trace/writer';
import { FileReporter } from '../../src/report/files';
import { driverSpecs } from '../../src/cli/run-support';
import { plan as makePlan } from '../../src/plan/planner';
import { FakeHost } from '../fixtures/fake-host';
import { block, install, scenario, waitConnected } from '../fixtures/scenarios';

const repo = resolve(__dirname, '..', '..', '..');

t.test('report merge joins shard runs into one report', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'winpv-merge-'));
  const { specs, hashes } = driverSpecs(repo);
  const scenarios = ['a', 'b', 'c', 'd', 'e'].map((n) => scenario(n, [install(), waitConnected(), block(300)]));
  const dirs: string[] = [];
  for (const index of [1, 2]) {
    const dir = join(root, `shard${index}`);
    dirs.push(dir);
    const reporters = (trace: TraceWriter) => [new FileReporter(dir, () => ({ runId: `shard${index}`, startedAt: 'x', inputs: [], command: 'run' }), () => trace.events)];
    const p = makePlan(scenarios, { seed: 3, shard: { index, count: 2 } });
    await runPlanned({ host: new FakeHost(index === 2 ? { workloadErrors: 1 } : {}), plan: p, specs, specHashes: hashes, traceFile: join(dir, 'trace.jsonl'), reporters });
  }
  // a file a shard's host collected (a crash dump) comes along into the merged run
  mkdirSync(join(dirs[1]!, 'artifacts', 'b'), { recursive: true });
  writeFileSync(join(dirs[1]!, 'artifacts', 'b', 'win-MEMORY.DMP'), 'PAGEDU64');
  const shardTaps = dirs.map((d) => readFileSync(join(d, 'results.tap'), 'utf8'));
  let out = '';
  const io = { out: { write: (s: string) => ((out += s), true) } as never, err: { write: () => true } as never, cwd: repo, env: {} as NodeJS.ProcessEnv };
  const code = await main(['report', 'merge', ...dirs, '--report-dir', join(root, 'reports'), '--reporter', 'none'], io);
  const runs = readdirSync(join(root, 'reports')).filter((n) => n !== 'latest');
  t.equal(runs.length, 1);
  t.equal(readlinkSync(join(root, 'reports', 'latest')), runs[0]);
  const merged = readFileSync(join(root, 'reports', runs[0], 'results.tap'), 'utf8');
  const verdicts = async (tap: string) => {
    const p = new Parser();
    const list: [string, boolean][] = [];
    p.on('assert', (a: { name: string; ok: boolean }) => list.push([a.name.replace(/ # time=.*/, ''), a.ok]));
    const done = new Promise((r) => p.on('complete', r));
    p.end(tap);
    await done;
    return list;
  };
  const expected = [...(await verdicts(shardTaps[0])), ...(await verdicts(shardTaps[1]))];
  t.same(await verdicts(merged), expected, 'the merged verdicts are the shards\'');
  t.same(expected.map((x) => x[0]).sort(), ['a', 'b', 'c', 'd', 'e']);
  t.equal(code, expected.some((x) => !x[1]) ? 1 : 0);
  const summary = JSON.parse(readFileSync(join(root, 'reports', runs[0], 'summary.json'), 'utf8'));
  t.equal(summary.command, 'report merge');
  t.equal(summary.counts.instances, 5);
  // the merged run carries one trace that `winpv check` re-judges to the same verdicts
  const mergedDir = join(root, 'reports', runs[0]);
  const rt = readTraceFile(join(mergedDir, 'trace.jsonl'));
  t.same(rt.problems, [], 'the merged trace is a valid trace (seq from 0, time never backwards)');
  t.same(rt.events.filter((e) => e.ev === 'run.start').length, 1);
  let checked = '';
  const cio = { ...io, out: { write: (s: string) => ((checked += s), true) } as never };
  const checkCode = await main(['check', mergedDir], cio);
  t.same(await verdicts(checked), expected, 'winpv check on the merged run gives the shards\' verdicts');
  t.equal(checkCode, code);
  t.match(out, /reports: /);
  t.equal(readFileSync(join(root, 'reports', runs[0], 'artifacts', 'b', 'win-MEMORY.DMP'), 'utf8'), 'PAGEDU64', 'the shards\' artifacts are in the merged run');
  const again = await main(['report', 'merge', dirs[0], dirs[0], '--report-dir', join(root, 'reports'), '--reporter', 'none'], io);
  t.equal(again, 2, 'an instance in two of the merged runs is bad input');
});
