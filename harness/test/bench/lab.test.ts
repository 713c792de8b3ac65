// The lab bench's arithmetic (the lab itself runs only in CI's lab step: `npm run bench -- --lab`).
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measure, run } from '../../src/bench/lab';
import { parseBenchArgs } from '../../src/bench/main';
import type { TraceEvent } from '../../src/model/trace';

t.test('boot is the scenario start to the last wait for Connected; workload time is the workloads\' own seconds', async (t) => {
  const ev = (e: Record<string, unknown>) => e as unknown as TraceEvent;
  const events = [
    ev({ ev: 'scenario.start', t: 1000, inst: 'i' }),
    ev({ ev: 'step.end', kind: 'wait', t: 21_000, inst: 'i' }),
    ev({ ev: 'step.end', kind: 'wait', t: 31_000, inst: 'i' }),
    ev({ ev: 'workload', t: 42_000, inst: 'i', result: { kind: 'block', mbps: 80, seconds: 10 } }),
    ev({ ev: 'step.end', kind: 'block', t: 42_500, inst: 'i' }),
    ev({ ev: 'workload', t: 53_000, inst: 'i', result: { kind: 'net', mbps: 900, seconds: 10 } }),
    ev({ ev: 'scenario.end', t: 57_000, inst: 'i', status: 'completed' }),
  ];
  const m = measure(events, 60_000, 0);
  t.equal(m.teardownMs, 4_000, 'the last workload\'s end to the scenario\'s end');
  t.equal(m.outsideMs, 4_000, 'the run\'s wall time not inside the scenario');
  t.equal(m.bootMs, 30_000);
  t.equal(m.workloadS, 20);
  t.equal(m.blockMBps, 80);
  t.equal(m.netMbps, 900);
  t.ok(Number.isNaN(measure([], 1, 0).blockMBps), 'no workload: no figure, not zero');
});

t.test('--lab names the lab module; with no lab running it says so instead of measuring', async (t) => {
  t.same(parseBenchArgs(['--lab']).modules, ['lab']);
  const before = process.env.WINPV_LAB_DIR;
  process.env.WINPV_LAB_DIR = mkdtempSync(join(tmpdir(), 'winpv-nolab-'));
  t.teardown(() => (before === undefined ? delete process.env.WINPV_LAB_DIR : (process.env.WINPV_LAB_DIR = before)));
  const figs = await run();
  t.equal(figs.length, 1);
  t.match(figs[0]!.note, /not measured: .*winpv lab up/);
});
