// The console's live lines of a parallel run: one line per worker on a terminal, redrawn in place
// (cursor up, clear), finished instances written above them; none at all in a log (not a TTY).
import t from 'tap';
import { PassThrough } from 'node:stream';
import { ConsoleReporter } from '../../src/report/console';
import type { InstanceResult } from '../../src/model/result';

const result = { inst: 'vbd-connect', scenario: 'vbd-connect', file: 'x.xml', verdict: 'pass', checks: [], durationMs: 1200 } as unknown as InstanceResult;

function capture(tty: boolean) {
  const out = new PassThrough();
  let text = '';
  out.on('data', (b) => (text += b));
  return { r: new ConsoleReporter(out, tty), text: () => text };
}

t.test('a terminal gets one live line per worker, the finished instance above them', async (t) => {
  const { r, text } = capture(true);
  r.onRunStart({ seed: 1, host: { kind: 'sim', label: 'sim' }, instances: ['vbd-connect', 'vif-connect'] });
  r.workers([{ worker: 'sim #1', inst: 'vbd-connect', doing: 'wait' }, { worker: 'sim #2', inst: 'vif-connect', doing: 'running' }]);
  t.match(text(), /sim #1 +vbd-connect: wait\n {2}sim #2 +vif-connect: running\n/, 'a line per worker');
  r.onInstanceStart('vbd-connect');
  r.onInstanceEnd(result);
  t.match(text(), /\x1b\[2A\x1b\[Jok {4}vbd-connect .*\n {2}sim #1/, 'the block is cleared, the result written, the block drawn again');
  r.onRunEnd({ counts: { passed: 1, failed: 0, skipped: 0, instances: 1, checks: 0, checksFailed: 0 }, instances: [result] } as never);
  t.match(text(), /\x1b\[2A\x1b\[J[\s\S]*1 passed/, 'cleared at the end');
});

t.test('not a terminal: no live lines', async (t) => {
  const { r, text } = capture(false);
  r.workers([{ worker: 'sim #1', inst: 'a', doing: 'x' }]);
  t.equal(text(), '');
});
