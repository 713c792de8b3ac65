import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_JSON_VERSION, figureJson, findSlowdowns, formatSlowdown, machineInfo, previousRunPath, readBenchRun, writeBenchRun, type BenchFigureJson, type BenchRun } from '../../src/bench/history';
import { parseBenchArgs } from '../../src/bench/main';

const fig = (name: string, value: number, extra: Partial<BenchFigureJson> = {}): BenchFigureJson => ({
  group: 'g',
  name,
  value,
  unit: 'ops/s',
  ratio: null,
  command: 'npm run bench g',
  ...extra,
});

const run = (figures: BenchFigureJson[]): BenchRun => ({
  version: BENCH_JSON_VERSION,
  startedAt: '2026-01-01T00:00:00.000Z',
  endedAt: '2026-01-01T00:01:00.000Z',
  modules: ['g'],
  machine: machineInfo([0, 0, 0]),
  figures,
  failures: [],
});

t.test('a planted slowdown over 20 % is found, in each direction, and nothing else', async (t) => {
  const prev = run([
    fig('throughput', 1000),
    fig('latency', 100, { unit: 'us', lowerIsBetter: true }),
    fig('steady', 1000),
    fig('small dip', 1000),
    fig('faster', 1000),
    fig('gone', 1000),
  ]);
  const cur = run([
    fig('throughput', 700), // 1000/700 = 1.43x worse
    fig('latency', 130, { unit: 'us', lowerIsBetter: true }), // 1.3x worse
    fig('steady', 1000),
    fig('small dip', 850), // 1.18x: under the threshold
    fig('faster', 3000),
    fig('new', 1),
  ]);
  const s = findSlowdowns(prev, cur);
  t.same(
    s.map((x) => [x.name, x.measure]),
    [
      ['throughput', 'value'],
      ['latency', 'value'],
    ],
  );
  t.equal(Math.round(s[0]!.worse * 100), 143);
  t.equal(Math.round(s[1]!.worse * 100), 130);
  t.match(formatSlowdown(s[0]!, prev.startedAt), /^WARNING: g throughput: 43 % worse than the previous run \(2026-01-01T00:00:00.000Z\): 700 ops\/s, was 1,000 ops\/s$/);
});

t.test('exactly 20 % worse is not flagged; just over is', async (t) => {
  t.same(findSlowdowns(run([fig('a', 120, { lowerIsBetter: true })]), run([fig('a', 144, { lowerIsBetter: true })])), []);
  t.equal(findSlowdowns(run([fig('a', 120, { lowerIsBetter: true })]), run([fig('a', 145, { lowerIsBetter: true })])).length, 1);
});

t.test('the ratio against the same-run baseline is compared when both runs have one', async (t) => {
  // The machine was twice as busy: value and baseline halved together, the ratio held: no warning.
  const prev = run([fig('reads', 1000, { baseline: { name: 'C', value: 1000 }, ratio: 1 })]);
  t.same(findSlowdowns(prev, run([fig('reads', 500, { baseline: { name: 'C', value: 500 }, ratio: 1 })])), []);
  // The daemon itself got slower against an unchanged baseline: a warning on the ratio.
  const s = findSlowdowns(prev, run([fig('reads', 700, { baseline: { name: 'C', value: 1000 }, ratio: 0.7 })]));
  t.equal(s.length, 1);
  t.equal(s[0]!.measure, 'ratio');
  t.match(formatSlowdown(s[0]!), /43 % worse .*ratio 0\.70x, was 1\.00x/);
  // A latency ratio is baseline/value, so a bigger ratio is better whatever the direction.
  const lat = run([fig('p99', 100, { unit: 'us', lowerIsBetter: true, baseline: { name: 'C', value: 100 }, ratio: 1 })]);
  const l = findSlowdowns(lat, run([fig('p99', 250, { unit: 'us', lowerIsBetter: true, baseline: { name: 'C', value: 100 }, ratio: 0.4 })]));
  t.equal(l.length, 1);
  t.match(formatSlowdown(l[0]!), /p99: 2\.5x worse/, 'large slowdowns as a factor');
});

t.test('figures that cannot be compared are skipped, not flagged', async (t) => {
  t.same(findSlowdowns(run([fig('a', 0)]), run([fig('a', 5)])), [], 'no previous value');
  t.same(findSlowdowns(run([fig('a', 10)]), run([fig('a', NaN)])), [], 'no current value');
  t.same(findSlowdowns(run([fig('a', 10)]), run([fig('a', 1, { unit: 's' })])), [], 'another unit is another figure');
});

t.test('JSON: NaN ratios stored as null, each figure with its command; written and read back', async (t) => {
  const j = figureJson({ group: 'xenstore', name: 'reads', value: 5, unit: 'reads/s', ratio: NaN }, 'xenstore');
  t.equal(j.ratio, null);
  t.equal(j.command, 'npm run bench xenstore');
  const dir = mkdtempSync(join(tmpdir(), 'winpv-bench-history-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal(previousRunPath(dir), undefined, 'no previous run in an empty directory');
  const path = writeBenchRun(dir, run([j]));
  t.match(path, /2026-01-01T00-00-00-000Z\.json$/);
  t.same(readBenchRun(path).figures, [j]);
  t.equal(readFileSync(join(dir, 'latest.json'), 'utf8'), readFileSync(path, 'utf8'));
  t.equal(previousRunPath(dir), join(dir, 'latest.json'));
  t.equal(previousRunPath(dir, '/x.json'), '/x.json', 'a given file wins');
});

t.test('a file that is not a bench run is refused with its name and what is wrong', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winpv-bench-history-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{ not json');
  t.throws(() => readBenchRun(bad), new RegExp(`${bad}: not a bench JSON file`));
  writeFileSync(bad, JSON.stringify({ version: 99, figures: [] }));
  t.throws(() => readBenchRun(bad), /of version 1/);
  writeFileSync(bad, JSON.stringify({ version: 1, figures: [{ group: 'g', name: 'n', value: 'fast' }] }));
  t.throws(() => readBenchRun(bad), /figures\[0\] needs/);
});

t.test('bench arguments: modules, --out, --previous, --no-json; bad ones refused', async (t) => {
  const a = parseBenchArgs(['xenstore', '--out', '/tmp/b', '--previous', '/tmp/p.json', 'rings']);
  t.same(a.modules, ['xenstore', 'rings']);
  t.equal(a.outDir, '/tmp/b');
  t.equal(a.previous, '/tmp/p.json');
  t.equal(a.json, true);
  t.equal(parseBenchArgs(['--no-json']).json, false);
  t.throws(() => parseBenchArgs(['--out']), /--out needs a value/);
  t.throws(() => parseBenchArgs(['--fast']), /unknown option --fast/);
});
