import t from 'tap';
import { ratioOf } from '../../src/bench/figure';
import { BENCHES, formatFigures } from '../../src/bench/main';

t.test('ratios: throughput value/baseline, latency baseline/value', async (t) => {
  t.equal(ratioOf(300, 100), 3);
  t.equal(ratioOf(50, 100, true), 2);
  t.ok(Number.isNaN(ratioOf(0, 100)), 'no ratio without a value');
  t.ok(Number.isNaN(ratioOf(10, 0)), 'or without a baseline');
});

t.test('every figure is printed next to its baseline, and a missing baseline says why', async (t) => {
  const text = formatFigures([
    { group: 'xenstore', name: 'reads', value: 40000, unit: 'reads/s', baseline: { name: 'C xenstored', value: 20000 }, ratio: 2 },
    { group: 'xenstore', name: 'writes', value: 1234, unit: 'writes/s', note: 'no baseline: the C xenstored could not be built' },
  ]);
  t.match(text, /reads\s+40,000 reads\/s\s+20,000 reads\/s \(C xenstored\)\s+2\.00x/);
  t.match(text, /writes\s+1,234 writes\/s\s+-\s+-/);
  t.match(text, /note \(xenstore writes\): no baseline: the C xenstored could not be built/);
});

t.test('a figure measured on a run that failed is printed with a WARNING line', async (t) => {
  const text = formatFigures([
    { group: 'workers', name: '64 instances', value: 17.9, unit: 's', failed: '60 and 0 of 64 instances failed at capacity 16 and 1' },
    { group: 'workers', name: 'catalogue', value: 5.4, unit: 's' },
  ]);
  t.match(text, /^WARNING: workers 64 instances: measured on a run that failed \(60 and 0 of 64 instances failed at capacity 16 and 1\)$/m);
  t.notMatch(text, /WARNING: workers catalogue/);
});

t.test('the registry lists the xenstore module', async (t) => {
  t.ok(BENCHES.some((b) => b.name === 'xenstore'));
});
