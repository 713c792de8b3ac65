// Regression verdicts: a planted 15 % throughput drop over a noisy history is not ok, a 2 % wobble
// is ok, too little history is a SKIP (never a pass), the verdict is the same for the same seed, and
// Mann-Whitney U judges repeats. The last test goes through the store and `winpv results judge`.
import t from 'tap';
import { judgeRegression, mannWhitneyP } from '../../src/model/regression';
import { ResultsStore } from '../../src/results/store';
import { judgeRun } from '../../src/results/judge';
import { noisy, runRecord } from './records';
import { STORE_TARGETS } from './stores';

const history = noisy(20, 100, 0.04); // ±4 % run-to-run noise
const opts = { tolerance: 0.05, better: 'higher' as const };

t.test('a 15 % drop over a noisy history is a regression', async (t) => {
  const v = judgeRegression('xvda.mbps', history, [85], opts);
  t.equal(v.verdict, 'fail');
  t.equal(v.method, 'bootstrap');
  t.ok(v.significant);
  t.ok(v.change! < -0.12 && v.change! > -0.18, `change ${v.change}`);
  t.match(v.message, /-1\d\.\d% vs median .* of 20 runs \(bootstrap 95% CI \[.*\]; tolerance 5\.0%\): regression/);
});

t.test('a 2 % wobble is not', async (t) => {
  for (const x of [98, 102, 97.5]) t.equal(judgeRegression('xvda.mbps', history, [x], opts).verdict, 'pass', `${x}`);
});

t.test('significant but inside the tolerance passes, and so does an improvement', async (t) => {
  const tight = noisy(30, 100, 0.005);
  const v = judgeRegression('xvda.mbps', tight, [97], opts);
  t.equal(v.verdict, 'pass');
  t.ok(v.significant);
  t.match(v.message, /within tolerance/);
  t.match(judgeRegression('xvda.mbps', history, [130], opts).message, /improvement/);
  t.equal(judgeRegression('time.boot', history, [130], { tolerance: 0.05, better: 'lower' }).verdict, 'fail', 'slower is worse for timings');
});

t.test('too little history is a SKIP with the reason', async (t) => {
  const v = judgeRegression('xvda.mbps', history.slice(0, 3), [50], opts);
  t.equal(v.verdict, 'skip');
  t.match(v.message, /too little history \(3 comparable runs, 8 needed\)/);
});

t.test('the same seed gives the same verdict, byte for byte', async (t) => {
  t.same(judgeRegression('m', history, [93], { ...opts, seed: 42 }), judgeRegression('m', history, [93], { ...opts, seed: 42 }));
});

t.test('Mann-Whitney U over repeats', async (t) => {
  t.ok(mannWhitneyP(noisy(5, 85, 0.03, 3), history) < 0.01, 'a shifted sample differs');
  t.ok(mannWhitneyP(noisy(5, 100, 0.04, 3), history) > 0.05, 'a sample of the same distribution does not');
  const v = judgeRegression('xvda.mbps', history, noisy(5, 85, 0.03, 3), opts);
  t.equal(v.method, 'mann-whitney');
  t.equal(v.verdict, 'fail');
});

for (const st of STORE_TARGETS) {
  t.test(`judging a run against the store's history (${st.name})`, { skip: st.skip }, async (t) => {
    const { target, cleanup } = await st.make();
    t.teardown(cleanup);
    const store = await ResultsStore.open(target);
    t.teardown(() => store.close());
    for (const [k, v] of history.entries()) await store.record(runRecord(k, { value: v }));
    const judge = (value: number) => judgeRun(store, runRecord(100, { value }), { tolerance: 0.05, window: 20, minHistory: 8, seed: 100, metrics: ['xvda.mbps'] });
    t.equal((await judge(85))[0].verdict, 'fail', 'planted 15 % drop caught');
    t.equal((await judge(98))[0].verdict, 'pass', '2 % wobble passes');
    const early = await judgeRun(store, runRecord(3, { value: 50 }), { tolerance: 0.05, window: 20, minHistory: 8, seed: 3, metrics: ['xvda.mbps'] });
    t.equal(early[0].verdict, 'skip', 'only runs before the judged one count');
  });
}
