// `winpv check` on a recorded trace prints the TAP the live run wrote, verdict for verdict; a
// truncated trace still gives valid TAP ending in Bail out!.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main';
import { runPlanned } from '../support/run-plan';
import { FileReporter } from '../../src/report/files';
import { driverSpecs } from '../../src/cli/run-support';
import { FakeHost } from '../fixtures/fake-host';
import { block, install, planOf, scenario, waitConnected } from '../fixtures/scenarios';

const repo = resolve(__dirname, '..', '..', '..');

function capture() {
  let out = '';
  let err = '';
  return {
    io: { out: { write: (s: string) => ((out += s), true) } as never, err: { write: (s: string) => ((err += s), true) } as never, cwd: repo, env: {} as NodeJS.ProcessEnv },
    get out() {
      return out;
    },
    get err() {
      return err;
    },
  };
}

t.test('winpv check reproduces the live TAP from the trace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-run-'));
  const { specs, hashes } = driverSpecs(repo);
  const meta = () => ({ runId: 'r', startedAt: 'x', inputs: [], command: 'run' });
  const plan = planOf(scenario('ok', [install(), waitConnected(), block(1000)]), scenario('stalled', [install(), waitConnected(), block(1000)]));
  await runPlanned({ host: new FakeHost({ workloadErrors: 1 }), plan, specs, specHashes: hashes, traceFile: join(dir, 'trace.jsonl'), reporters: (trace) => [new FileReporter(dir, meta, () => trace.events)] });
  const live = readFileSync(join(dir, 'results.tap'), 'utf8');
  const c = capture();
  const code = await main(['check', join(dir, 'trace.jsonl')], c.io);
  t.equal(c.out, live, 'identical TAP');
  t.equal(code, 1, 'failures give exit 1');
  t.equal(c.err, '');
  t.match(live, /not ok \d+ - workload: /);

  // cut the trace mid-run: still valid TAP, with Bail out!
  const lines = readFileSync(join(dir, 'trace.jsonl'), 'utf8').split('\n');
  const cut = join(dir, 'cut.jsonl');
  writeFileSync(cut, lines.slice(0, Math.floor(lines.length / 2)).join('\n') + '\n{"seq":');
  const c2 = capture();
  t.equal(await main(['check', cut], c2.io), 1);
  t.match(c2.out, /^TAP version 14\n/);
  t.match(c2.out, /Bail out! trace truncated \(no run.end\)\n$/);
});

t.test('winpv check refuses a corrupt trace with located problems (exit 2)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-bad-'));
  writeFileSync(join(dir, 't.jsonl'), '{"seq":0,"t":0,"ev":"run.start"}\n');
  const c = capture();
  t.equal(await main(['check', join(dir, 't.jsonl')], c.io), 2);
  t.match(c.err, /t.jsonl:1: run.start: missing field 'schema'/);
  const c2 = capture();
  t.equal(await main(['check'], c2.io), 2);
});

t.test('winpv run: bad filters are usage errors (exit 2)', async (t) => {
  const c = capture();
  t.equal(await main(['run', '--shard', '3/2'], c.io), 2);
  t.match(c.err, /--shard 3\/2/);
  const c2 = capture();
  t.equal(await main(['run', 'no/such/file.xml'], c2.io), 2);
  t.match(c2.err, /no such file or folder/);
  const c3 = capture();
  t.equal(await main(['run', '--help'], c3.io), 0);
  t.match(c3.out, /default catalogue: scenarios\/ with tags smoke, nightly, release/);
});

t.test('winpv run --list prints the plan: default tags, shards, matrix instances', async (t) => {
  const c = capture();
  t.equal(await main(['run', '--list'], c.io), 0);
  const lines = c.out.trim().split('\n');
  t.match(lines[lines.length - 1], /^\d+ instances on sim$/);
  t.ok(lines.includes('multi-page-ring[order=3]'));
  t.notOk(lines.some((l) => l.startsWith('lab-')), 'lab scenarios are not in the default run');
  const s1 = capture();
  const s2 = capture();
  await main(['run', '--list', '--shard', '1/2'], s1.io);
  await main(['run', '--list', '--shard', '2/2'], s2.io);
  const ids = (o: string) => o.trim().split('\n').slice(0, -1);
  t.same([...ids(s1.out), ...ids(s2.out)].sort(), lines.slice(0, -1).sort(), 'two shards cover the run exactly');
  const lab = capture();
  await main(['run', '--list', '--tag', 'lab'], lab.io);
  t.match(lab.out, /lab-pv-connect  \(skip: host sim lacks 'linux-guest'\)/);
});
