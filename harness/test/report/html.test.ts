// The data behind report.html (no browser): order, counts with flaky and known, the timeline drawn
// from the trace, what a truncated or damaged trace lacks, and a page that cannot be broken out of
// by what the results say. The page itself is tested in Chromium (browser.test.ts).
import t from 'tap';
import type { InstanceResult, RunSummary } from '../../src/model/result';
import type { TraceEvent } from '../../src/model/trace';
import { thinIndices, MAX_RING_POINTS, PASSING_RING_POINT_BUDGET } from '../../src/report/html-data';
import { buildPageData } from '../../src/report/html-digest';
import { renderHtml } from '../../src/report/html';
import { pageScript, scriptOf, unpackTrends } from '../../src/report/html-client';
import type { TrendSeries } from '../../src/model/report-input';
import { syntheticRun } from '../../src/bench/report-run';

const meta = { runId: 'r1', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:30.000Z', inputs: [], command: 'run' };
const inst = (id: string, verdict: InstanceResult['verdict'], extra: Partial<InstanceResult> = {}): InstanceResult => ({
  inst: id, scenario: id, file: `scenarios/${id}.xml`, params: {}, tags: ['nightly'], verdict, durationMs: 1000,
  checks: verdict === 'fail' ? [{ check: 'ring-progress', verdict: 'fail', message: 'STUCK', diagnostics: { seq: 5, at: 40 } }, { check: 'grants', verdict: 'pass', message: 'fine' }] : [{ check: 'grants', verdict: 'pass', message: 'fine' }],
  ...(verdict === 'skip' ? { skipReason: 'no migrate' } : {}),
  ...extra,
});
const summary = (instances: InstanceResult[], extra: Partial<RunSummary> = {}): RunSummary => ({
  seed: 3, host: { kind: 'sim', label: 'sim' }, complete: true, instances,
  counts: { instances: instances.length, passed: 0, failed: 0, skipped: 0, checks: 0, checksFailed: 0 }, ...extra,
});

let seq = 0;
const E = (e: Record<string, unknown>): TraceEvent => ({ seq: seq++, t: seq * 10, ...e }) as unknown as TraceEvent;
function traceOf(id: string): TraceEvent[] {
  seq = 0;
  return [
    E({ ev: 'run.start', schema: 'winpv-trace/1', seed: 3, host: { kind: 'sim', label: 'sim', capabilities: [] }, specs: {}, instances: [id] }),
    E({ ev: 'scenario.start', inst: id, scenario: id, file: 'x', params: {}, tags: [], drivers: ['xenbus', 'xenvbd'], guests: [], checks: [], faults: [] }),
    E({ ev: 'xs', inst: id, guest: 'win', path: '/local/domain/0/backend/vbd/1/51712/state', value: '2' }),
    E({ ev: 'xs', inst: id, guest: 'win', path: '/local/domain/1/device/vbd/51712/state', value: '1' }),
    E({ ev: 'ring', inst: id, guest: 'win', dev: 'vbd/51712', queue: 0, ring: 'blk', nr_ents: 32, req_prod: 0xfffffffe, req_event: 0, rsp_prod: 0xfffffffe, rsp_event: 0, why: 'periodic' }),
    E({ ev: 'ring', inst: id, guest: 'win', dev: 'vbd/51712', queue: 0, ring: 'blk', nr_ents: 32, req_prod: 3, req_event: 0, rsp_prod: 0, rsp_event: 0, why: 'notify' }),
    E({ ev: 'guest', inst: id, guest: 'win', domid: 1, what: 'rebooted' }),
    E({ ev: 'fault', inst: id, name: 'backend-stall', on: true }),
    E({ ev: 'drivers', inst: id, guest: 'win', bound: [], unbound: [], unplugged: { disks: true, nics: false }, expected: { version: '9.1.0', drivers: ['xenbus'] } }),
    E({ ev: 'xs', inst: id, guest: 'win', path: '/local/domain/1/data/os_name', value: 'Microsoft Windows Server 2022 Datacenter|C:\\Windows|\\Device\\Harddisk0\\Partition2' }),
    E({ ev: 'workload', inst: id, guest: 'win', step: '3', dev: 'vbd/51712', result: { kind: 'block', bytes: 1, ios: 1, readBytes: 0, writeBytes: 1, seconds: 1, iops: 10, mbps: 12.5, errors: 0, verifyErrors: 0, latencyMs: { '50': 0.1, '99': 0.9 } } }),
    E({ ev: 'scenario.end', inst: id, status: 'completed' }),
    E({ ev: 'run.end', complete: true }),
  ];
}

t.test('failures first, then flaky, known, passed, skipped; flaky and known counted apart', async (t) => {
  const s = summary([inst('p1', 'pass'), inst('s1', 'skip'), inst('k1', 'fail'), inst('f1', 'pass'), inst('x1', 'fail'), inst('p2', 'pass', { flaky: true, attempts: 2 })]);
  const d = buildPageData(s, [], meta, { marks: { k1: { known: { issue: 'xenvbd#42', url: 'https://example.org/42' } }, f1: { flaky: { attempts: 3, failedAttempts: 2 } } } });
  t.same(d.instances.map((r) => [r.id, r.status]), [['x1', 'failed'], ['f1', 'flaky'], ['p2', 'flaky'], ['k1', 'known'], ['p1', 'passed'], ['s1', 'skipped']]);
  t.same({ ...d.counts }, { failed: 1, flaky: 2, known: 1, passed: 1, skipped: 1, total: 6, checks: 0, checksFailed: 0 });
  t.equal(d.verdict, 'failed');
  t.same(d.instances[0].checks.map((c) => c.verdict), ['fail', 'pass'], 'failed checks first');
  t.equal(d.run.wallMs, 90_000);
  t.same(d.run.links.map((l) => l.href), ['results.tap', 'junit.xml', 'trace.jsonl', 'summary.json']);
  const merged = buildPageData(s, [], { ...meta, mergedFrom: ['reports/a', 'reports/b/'] });
  t.same(merged.run.links.map((l) => l.href), ['results.tap', 'junit.xml', 'summary.json'], 'a merged report has no trace of its own to link');
  t.match(renderHtml(s, [], { ...meta, mergedFrom: ['reports/a', 'reports/b/'] }), /merged from <code>reports\/a<\/code>, <code>reports\/b\/<\/code> \(each with its trace\.jsonl\)/, 'it names the shards');
  t.equal(buildPageData(summary([inst('k1', 'fail')]), [], meta, { marks: { k1: { known: { issue: 'x' } } } }).verdict, 'passed', 'a known failure alone does not fail the run');
  t.equal(buildPageData(summary([inst('p', 'pass')], { complete: false, bailOut: 'host lost' }), [], meta).verdict, 'incomplete');
});

t.test('the timeline comes from the trace: state lanes per device end, unwrapped ring indices, workloads, markers, builds', async (t) => {
  const d = buildPageData(summary([inst('a', 'fail')]), traceOf('a'), meta);
  const tl = d.instances[0].timeline!;
  t.same(tl.devices, [{ name: 'win vbd/51712', frontend: [[40, 1]], backend: [[30, 2]] }]);
  t.equal(tl.rings.length, 1);
  t.same(tl.rings[0].occupancy, [0, 3]);
  t.same(tl.rings[0].reqMoved, [0, 5], 'req_prod moved 5 across the 32-bit wrap');
  t.same(tl.workloads.map((w) => [w.mbps, w.p50, w.p99]), [[12.5, 0.1, 0.9]]);
  t.same(tl.markers.map((m) => [m.kind, m.label]), [['lifecycle', 'win rebooted'], ['fault', 'fault backend-stall on']]);
  t.same([tl.t0, tl.t1], [20, 120], 'the instance spans its own events');
  t.same(d.instances[0].drivers, ['xenbus', 'xenvbd']);
  t.same(d.run.driverBuilds, ['9.1.0']);
  t.same(d.run.windowsBuilds, ['Microsoft Windows Server 2022 Datacenter']);
  const other = traceOf('a');
  other.splice(other.findIndex((e) => e.ev === 'scenario.end'), 0, E({ ev: 'xs', inst: 'a', path: '/local/domain/9/data/os_name', value: 'Microsoft Windows 11 Pro|C:\\Windows' }));
  t.same(buildPageData(summary([inst('a', 'fail')]), other, meta).run.windowsBuilds, ['Microsoft Windows Server 2022 Datacenter'], 'not the OS of a domain none of the run\'s guests had');
  t.same(buildPageData(summary([inst('a', 'fail')]), traceOf('a'), meta, { builds: { windows: '10.0.20348.2340' } }).run.windowsBuilds, ['10.0.20348.2340']);
  // the failure is found by its seq, with the events before and after it
  const f = tl.failures[0];
  t.equal(f.seq, 5);
  t.ok(f.around.some((r) => r[0] === 5) && f.around.some((r) => r[0] < 5) && f.around.some((r) => r[0] > 5));
  t.match(f.around.find((r) => r[0] === 5)![3], /req_prod 3 rsp_prod 0/);
  t.same(d.missing, [], 'a whole trace lacks nothing');
});

t.test('a domain none of the instance\'s guests had gets no lane: another instance\'s on a shared host', async (t) => {
  const ev = traceOf('a');
  const end = ev.findIndex((e) => e.ev === 'scenario.end');
  // recorded unnamed while a reboot's probe watched every domain of the host
  ev.splice(end, 0,
    E({ ev: 'xs', inst: 'a', path: '/local/domain/9/device/vbd/51712/state', value: '1' }),
    E({ ev: 'xs', inst: 'a', path: '/local/domain/0/backend/vbd/9/51712/state', value: '2' }),
  );
  const lanes = buildPageData(summary([inst('a', 'fail')]), ev, meta).instances[0].timeline!.devices;
  t.same(lanes.map((l) => l.name), ['win vbd/51712']);
  // the same keys once the guest's own keys name dom9 (the probe attached to its new domain)
  ev.splice(end + 2, 0, E({ ev: 'xs', inst: 'a', guest: 'win', path: '/local/domain/9/device/vbd/51712/state', value: '4' }));
  const named = buildPageData(summary([inst('a', 'fail')]), ev, meta).instances[0].timeline!.devices;
  t.same(named.map((l) => [l.name, l.frontend.length, l.backend.length]), [['win vbd/51712', 3, 2]]);
});

t.test('a guest keeps its lane when it migrates into a new domain', async (t) => {
  const ev = traceOf('a');
  const end = ev.findIndex((e) => e.ev === 'scenario.end');
  ev.splice(end, 0,
    E({ ev: 'xs', inst: 'a', path: '/local/domain/2/device/vbd/51712/state', value: '1' }),
    E({ ev: 'xs', inst: 'a', path: '/local/domain/0/backend/vbd/2/51712/state', value: '2' }),
    E({ ev: 'guest', inst: 'a', guest: 'win', domid: 2, what: 'migrated', detail: { from: 1, domid: 2 } }),
  );
  const lanes = buildPageData(summary([inst('a', 'fail')]), ev, meta).instances[0].timeline!.devices;
  t.same(lanes.map((l) => [l.name, l.frontend.length, l.backend.length]), [['win vbd/51712', 2, 2]]);
  t.ok(buildPageData(summary([inst('a', 'fail')]), ev, meta).instances[0].timeline!.markers.some((m) => m.label === 'win migrated'));
});

t.test('an aborted instance is looked at around the step that failed', async (t) => {
  const ev = traceOf('a');
  ev.splice(6, 0, E({ ev: 'step.end', inst: 'a', step: '2', kind: 'wait', label: 'wait', ok: false, error: { code: 'TIMEOUT', message: 'too slow' } }));
  const d = buildPageData(summary([inst('a', 'fail', { checks: [], aborted: { code: 'TIMEOUT', message: 'too slow' } })]), ev, meta);
  const f = d.instances[0].timeline!.failures;
  t.equal(f.length, 1);
  t.equal(f[0].check, 'steps');
  t.match(f[0].around.find((r) => r[0] === f[0].seq)![3], /step 2 FAILED: TIMEOUT: too slow/);
});

t.test('a truncated or damaged trace: the page says what is missing', async (t) => {
  const whole = traceOf('a');
  const cut = whole.filter((e) => e.ev !== 'run.end' && e.ev !== 'scenario.end' && e.seq !== 6 && e.seq !== 7);
  const broken = [...cut, { seq: 99, t: 'soon', ev: 'ring' } as unknown as TraceEvent, { seq: 100, t: 1, ev: 'ring', inst: 'a' } as unknown as TraceEvent];
  const d = buildPageData(summary([inst('a', 'fail'), inst('b', 'pass')]), broken, meta);
  t.match(d.missing.join('\n'), /run\.end is missing: the trace was cut off after event seq 10/);
  t.match(d.missing.join('\n'), /2 trace events are missing \(seq 6-7\)/);
  t.match(d.missing.join('\n'), /2 trace events were unreadable and left out/);
  t.match(d.instances.find((r) => r.id === 'a')!.missing.join('\n'), /scenario\.end is missing: the trace of this instance stops at t = 0\.110 s/);
  t.same(d.instances.find((r) => r.id === 'b')!.missing, ['no trace events for this instance: no timeline can be drawn']);
  t.equal(d.instances.find((r) => r.id === 'b')!.timeline, undefined);
  const headless = buildPageData(summary([inst('a', 'fail')]), whole.slice(1), meta);
  t.match(headless.missing.join('\n'), /run\.start is missing/);
  t.match(buildPageData(summary([inst('a', 'pass')]), [], meta).missing.join('\n'), /no trace was given/);
  const html = renderHtml(summary([inst('a', 'fail')]), broken, meta);
  t.match(html, /The trace is incomplete; the report shows what it has\./);
  t.match(html, /run\.end is missing/);
});

t.test('files the host collected are linked up front, and a missing one says why', async (t) => {
  const ev = traceOf('a');
  ev.splice(3, 0,
    E({ ev: 'artifact', inst: 'a', guest: 'win', kind: 'crash-dump', path: 'artifacts/a/win-MEMORY.DMP', bytes: 4096, sha256: 'ab'.repeat(32), source: 'C:\\Windows\\MEMORY.DMP' }),
    E({ ev: 'artifact', inst: 'a', guest: 'win2', kind: 'crash-dump', missing: 'Windows wrote no crash dump' }),
  );
  const html = renderHtml(summary([inst('a', 'fail')]), ev, meta);
  t.match(html, /<section class="artifacts"><h2>Collected files<\/h2>/);
  t.match(html, new RegExp(`<a href="artifacts/a/win-MEMORY\\.DMP">artifacts/a/win-MEMORY\\.DMP</a> \\(4096 bytes, sha256 ${'ab'.repeat(32)}, from C:`));
  t.match(html, /win2 crash-dump: none \(Windows wrote no crash dump\)/);
  t.notMatch(renderHtml(summary([inst('a', 'fail')]), traceOf('a'), meta), /Collected files/, 'no section when nothing was collected');
});

t.test('thinning a long ring track keeps the first, the last and every peak', async (t) => {
  const v = Array.from({ length: 5000 }, (_x, i) => (i === 2345 ? 999 : i % 7));
  const keep = thinIndices(v, MAX_RING_POINTS);
  t.ok(keep.length <= MAX_RING_POINTS);
  t.equal(keep[0], 0);
  t.equal(keep[keep.length - 1], 4999);
  t.ok(keep.includes(2345), 'the spike survives');
  t.same(thinIndices([1, 2, 3], 10), [0, 1, 2]);
});

t.test('the page is self-contained, and nothing in the results breaks out of its script', async (t) => {
  const evil = inst('</script><script>alert(1)</script>', 'fail', { checks: [{ check: 'grants', verdict: 'fail', message: '<!-- \u2028 </script>' }] });
  const html = renderHtml(summary([evil]), [], meta, { trends: [{ scenario: 'x', metric: '</script>', unit: 'MB/s', points: [] }] });
  t.equal(html.match(/<script\b/g)!.length, 3, 'the data, uPlot and the page script; no other script element');
  t.notMatch(html, /<\/script><script>alert/);
  t.notMatch(html, /<script[^>]+src=|<link\b/);
  t.match(html, /uPlot/);
  t.match(html, /uPlot licence:\n.*MIT License/s, "uPlot's licence travels with it");
  const json = /<script type="application\/json" id="winpv-data">([^]*?)<\/script>/.exec(html)![1];
  t.equal(JSON.parse(json).instances[0].id, '</script><script>alert(1)</script>', 'the data reads back exactly');
  t.match(html, /<li class="count failed"><span class="n">1<\/span>/);
  t.match(renderHtml(summary([inst('p', 'pass')]), [], meta), /<li class="count failed zero"><span class="n">0<\/span>/, '0 failed is marked as a zero');
});

t.test('trend points travel with each run once and read back as given', async (t) => {
  const runs = [{ run: 'r1', at: '2026-12-01T00:00:00.000Z', build: '9.1.1' }, { run: 'r2', at: '2026-12-02T00:00:00.000Z', build: '9.1.2' }, { run: 'r3' }];
  const trends: TrendSeries[] = [
    { scenario: 'vbd', metric: 'xvda.mbps', unit: 'MB/s', points: runs.map((r, k) => ({ ...r, value: 100 + k })), baseline: { low: 90, high: 110, centre: 100 } },
    { scenario: 'vbd', metric: 'time.boot', unit: 'ms', lowerIsBetter: true, points: [{ ...runs[0], value: 5, verdict: 'pass' }, { ...runs[2], value: 7.25, verdict: 'fail' }] },
    { scenario: 'vif', metric: 'none yet', unit: 'ms', points: [] },
  ];
  const html = renderHtml(summary([inst('p', 'pass')]), [], meta, { trends });
  const data = JSON.parse(/<script type="application\/json" id="winpv-data">([^]*?)<\/script>/.exec(html)![1]);
  t.equal(data.trendRuns.length, 3, 'each run once');
  t.same(data.trends[0].points, [[0, 100], [1, 101], [2, 102]], 'a point is its run\'s index and its value');
  t.same(unpackTrends(data).trends, trends, 'unpacked, the trends given');
  t.notOk('trendRuns' in data);
});

t.test('a 2,000-instance run makes one page with every instance in its data', async (t) => {
  const big = syntheticRun(2000, 10);
  const d = buildPageData(big.summary, big.events, meta);
  t.equal(d.instances.length, 2000);
  t.equal(d.counts.failed, 200);
  t.equal(d.counts.skipped, 80);
  t.equal(d.instances[0].status, 'failed');
  t.same(d.missing, []);
});

t.test('in a large run passing instances share a budget of ring points; failures keep every peak they had', async (t) => {
  const big = syntheticRun(600, 700);
  const d = buildPageData(big.summary, big.events, meta);
  const passing = d.instances.filter((r) => r.status === 'passed');
  const failing = d.instances.filter((r) => r.status === 'failed');
  const points = passing.reduce((n, r) => n + r.timeline!.rings.reduce((m, k) => m + k.t.length, 0), 0);
  t.ok(points <= PASSING_RING_POINT_BUDGET, `${points} points for ${passing.length} passing instances`);
  t.ok(passing.every((r) => r.timeline!.rings[0].t.length < MAX_RING_POINTS && r.timeline!.rings[0].samples === 700));
  t.ok(failing.every((r) => r.timeline!.rings[0].t.length === MAX_RING_POINTS), 'failures get the full resolution');
});

t.test('the page script declares each of its parts once, the entry called last', async (t) => {
  const script = pageScript();
  for (const name of ['reportPage', 'pageContext', 'pageCharts', 'trendPlot']) t.match(script, new RegExp(`\\nfunction ${name}\\(`), `${name} is declared`);
  t.ok(script.trimEnd().endsWith('reportPage(window);\n})();'), 'the entry is called last');
  // two parts of one name: the later would silently replace the earlier in the page
  const a = { f() { return 1; } }.f;
  const b = { f() { return 2; } }.f;
  t.throws(() => scriptOf([a, b], 'f'), /declares f twice/);
});
