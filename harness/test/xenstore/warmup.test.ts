import t from 'tap';
import { warmUp } from '../../src/xenstore/warmup';
import { main } from '../../src/cli/main';

t.test('the warm-up drives a throwaway server over a real socket and answers every request', async (t) => {
  const w = await warmUp(40, 60_000);
  t.ok(w.requests >= 40 * 7, `${w.requests} requests answered`);
  t.ok(w.ms >= 0);
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
