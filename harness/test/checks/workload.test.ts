// The workload check (harness/src/checks/workload.ts) on hand-built traces:
// a correct trace passes, the fault it exists for fails it (its `not ok`).
import t from 'tap';
import { judge, TraceBuilder } from '../support/check-judge';

t.test('workload', async (t) => {
  const w = (result: object, params: Record<string, string> = {}) => {
    const b = new TraceBuilder();
    const start = b.events[1];
    if (start.ev === 'scenario.start') start.checks = start.checks.map((c) => (c.name === 'workload' ? { ...c, params } : c));
    b.step('block', '1', 'start').push({ ev: 'workload', inst: 'i', guest: 'win', step: '1', dev: 'vbd/51712', result: { kind: 'block', bytes: 1e8, ios: 1000, readBytes: 5e7, writeBytes: 5e7, seconds: 2, iops: 500, mbps: 50, errors: 0, verifyErrors: 0, latencyMs: { '50': 1, '99': 9 }, ...result } as never });
    return b.step('block', '1', 'end').end();
  };
  t.equal(judge(w({}), 'workload').verdict, 'pass');
  t.match(judge(w({ errors: 2 }), 'workload').message, /2 I\/O errors/);
  t.match(judge(w({ verifyErrors: 1 }), 'workload').message, /failed verification/);
  t.match(judge(w({}, { minMBps: '60', tolerancePct: '10' }), 'workload').message, /50.0 MB\/s below baseline 60 MB\/s - 10%/);
  t.equal(judge(w({}, { minMBps: '55', tolerancePct: '10' }), 'workload').verdict, 'pass', 'within the tolerance');
  t.match(judge(w({}, { maxP99Ms: '5' }), 'workload').message, /p99 latency 9 ms over the 5 ms limit/);
  t.match(judge(w({}, { 'maxP99.9Ms': '5' }), 'workload').message, /p99.9 latency was not measured/);
  const noResult = new TraceBuilder().step('block', '1', 'start').step('block', '1', 'end').end();
  t.match(judge(noResult, 'workload').message, /ended without a workload result/);
  t.equal(judge(new TraceBuilder().end(), 'workload').verdict, 'skip');
});
