import t from 'tap';
import { runInNewContext } from 'node:vm';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { warmUp } from '../../src/xenstore/warmup';
import { main } from '../../src/cli/main';

t.test('the warm-up drives a throwaway server over a real socket and answers every request', async (t) => {
  const w = await warmUp(40, 60_000);
  t.ok(w.requests >= 40 * 7, `${w.requests} requests answered`);
  t.ok(w.ms >= 0);
});

t.test('the warm-up ends with a full collection and leaves gc unexposed to later contexts', async (t) => {
  t.equal(runInNewContext('typeof gc'), 'undefined', 'no gc before');
  const kinds: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) kinds.push((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1);
  });
  obs.observe({ entryTypes: ['gc'] });
  await warmUp(2, 60_000);
  await new Promise((r) => setTimeout(r, 20)); // gc entries are delivered asynchronously
  obs.disconnect();
  t.ok(kinds.includes(constants.NODE_PERFORMANCE_GC_MAJOR), `a mark-compact during the warm-up (gc kinds seen: ${kinds.join(',')})`);
  t.equal(runInNewContext('typeof gc'), 'undefined', 'no gc after: --expose-gc was cleared again');
});

t.test('the warm-up stops at its deadline, however many rounds were asked', async (t) => {
  const w = await warmUp(1_000_000, 200);
  t.ok(w.requests < 1_000_000 * 7, `stopped after ${w.requests} requests`);
});

t.test('winpv xenstored --warmup takes a whole number of rounds', async (t) => {
  for (const bad of ['-1', 'many', '1.5']) {
    let err = '';
    const code = await main(['xenstored', '--socket', '/nonexistent/x.sock', `--warmup=${bad}`], { env: {}, err: { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream });
    t.equal(code, 2, `--warmup ${bad}`);
    t.match(err, /--warmup needs a whole number of rounds/);
  }
});
