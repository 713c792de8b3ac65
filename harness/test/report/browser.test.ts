// report.html in a real browser (Debian's chromium through playwright-core): no console errors,
// failures listed first and opened, every chart has data over the instance's time range from the
// trace, no axis label cut, filters hide what they should and a link with a filter reopens the same
// view, 0 failed is not red, a truncated trace still renders and says what is missing, a
// 2,000-instance report opens lazily, trends render when given. Screenshots of a failing and a
// passing report are kept in reports/ci-artifacts/ for CI. Every wait has its own deadline.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import type { RunSummary } from '../../src/model/result';
import type { TraceEvent } from '../../src/model/trace';
import type { ReportInput } from '../../src/model/report-input';
import { writeReports } from '../../src/report/files';
import { launchChromium, type Browser } from '../../src/bench/browser';
import { syntheticRun } from '../../src/bench/report-run';
import { skipUnlessTool } from '../fixtures/build/tools';
import { simRun, type SimRun } from '../fixtures/report/sim-run';

// page.evaluate bodies run in the page; the repository's compiler settings carry no DOM types
declare const window: any;
declare const document: any;
declare const location: any;
declare function getComputedStyle(el: unknown): any;
type HTMLElement = any;
type HTMLDetailsElement = any;
type HTMLSelectElement = any;

const skip = skipUnlessTool('chromium');
const ARTIFACTS = join(__dirname, '..', '..', '..', 'reports', 'ci-artifacts');
const WAIT = { timeout: 15_000 };
// each test also has its own deadline (below), which bounds page.evaluate too

let browser: Browser | undefined;
const root = mkdtempSync(join(tmpdir(), 'winpv-report-browser-'));
t.teardown(async () => {
  await browser?.close();
  rmSync(root, { recursive: true, force: true });
});

async function theBrowser(): Promise<Browser> {
  browser ??= await launchChromium({ timeoutMs: 30_000 });
  return browser;
}

let n = 0;
function write(run: { summary: RunSummary; events: readonly TraceEvent[] }, input: ReportInput = {}): string {
  const dir = join(root, `r${n++}`);
  writeReports(dir, run.summary, { runId: `test-${n}`, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:42.000Z', inputs: [], command: 'run' }, run.events, input);
  return pathToFileURL(join(dir, 'report.html')).href;
}

/** Opens a report and waits until its script has run; collects console errors and page errors. */
async function open(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await (await theBrowser()).context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => !r.url().startsWith('file:') && !r.url().startsWith('data:') && errors.push(`network request: ${r.url()}`));
  await page.goto(url, WAIT);
  await page.waitForSelector('html[data-ready="1"]', WAIT);
  return { page, errors };
}

/** Waits until `count` charts exist (they are made on the next animation frame after opening). */
const chartsMade = (page: Page, count: number) => page.waitForFunction((c) => (window as any).__winpvPlots.length >= c, count, WAIT);

function instanceSpan(events: readonly TraceEvent[], inst: string): [number, number] {
  const ts = events.filter((e) => (e as { inst?: string }).inst === inst).map((e) => e.t);
  return [Math.min(...ts) / 1000, Math.max(...ts) / 1000];
}

interface PlotFacts {
  title: string;
  inst?: string;
  xMin: number;
  xMax: number;
  nonNull: number[];
  maxBySeries: number[];
  clipped: string[];
}

/** What each chart shows and every label that does not fit where uPlot draws it. */
function plotFacts(page: Page): Promise<PlotFacts[]> {
  return page.evaluate(() => {
    const px = (window as any).uPlot.pxRatio as number;
    return (window as any).__winpvPlots.map((p: any) => {
      const u = p.u;
      const clipped: string[] = [];
      const canvasW = u.ctx.canvas.width / px;
      u.axes.forEach((a: any, i: number) => {
        if (a.show === false || !a._values) return;
        u.ctx.font = a.font[0];
        const widths = a._values.map((v: string) => u.ctx.measureText(String(v)).width / px);
        if (a.side === 1 || a.side === 3) {
          // y axes: every tick label within the axis' width
          const room = a._size - a.ticks.size - a.gap;
          widths.forEach((w: number, j: number) => w > room + 0.5 && clipped.push(`axis ${i} tick "${a._values[j]}" ${w.toFixed(1)} px > ${room} px`));
          if (a.label) {
            u.ctx.font = a.labelFont[0];
            const lw = u.ctx.measureText(a.label).width / px;
            if (lw > u.bbox.height / px) clipped.push(`axis ${i} label "${a.label}" ${lw.toFixed(1)} px > plot height ${(u.bbox.height / px).toFixed(0)} px`);
          }
        } else {
          // the x axis: each tick label centred on its tick, inside the canvas
          a._splits.forEach((v: number, j: number) => {
            const x = u.valToPos(v, 'x') + u.bbox.left / px;
            const w = widths[j];
            if (a._values[j] && (x - w / 2 < -0.5 || x + w / 2 > canvasW + 0.5)) clipped.push(`x tick "${a._values[j]}" at ${x.toFixed(1)} of ${canvasW}`);
          });
        }
      });
      // the chart and its legend inside their figure
      const fig = u.root.parentElement.getBoundingClientRect();
      for (const el of [u.root, u.root.querySelector('.u-legend'), u.root.parentElement.querySelector('figcaption')]) {
        if (!el) continue;
        const b = el.getBoundingClientRect();
        if (b.left < fig.left - 0.5 || b.right > fig.right + 0.5 || b.top < fig.top - 0.5 || b.bottom > fig.bottom + 0.5) clipped.push(`${el.className || el.tagName} outside its figure`);
      }
      const nonNull = u.data.slice(1).map((col: (number | null)[]) => col.filter((v) => v !== null && v !== undefined).length);
      const maxBySeries = u.data.slice(1).map((col: (number | null)[]) => Math.max(...(col.filter((v) => v !== null) as number[])));
      return { title: p.title, inst: p.inst, xMin: u.scales.x.min, xMax: u.scales.x.max, nonNull, maxBySeries, clipped };
    });
  });
}

const listed = (page: Page) => page.$$eval('#list details.inst', (els) => els.map((e) => [(e as HTMLElement).dataset.inst, (e as HTMLElement).dataset.status]));

let failing: SimRun | undefined;
const failingRun = async () => (failing ??= await simRun(true));

t.test('a failing run: failures first and open, charts with data over the trace, failing event shown, no label cut', { skip, timeout: 90_000 }, async (t) => {
  const run = await failingRun();
  const bad = run.summary.instances.find((r) => r.verdict === 'fail')!;
  t.ok(bad, 'the fixture run has a failure');
  const stuck = bad.checks.find((c) => c.verdict === 'fail')!;
  const { page, errors } = await open(write(run));
  t.equal(await page.textContent('.verdict'), '✕ FAILED');
  const rows = await listed(page);
  t.same(rows[0], [bad.inst, 'failed'], 'the failure is listed first');
  t.same(rows.map((r) => r[1]), ['failed', 'passed', 'passed']);
  t.ok(await page.$eval(`details.inst[data-inst="${bad.inst}"]`, (e) => (e as HTMLDetailsElement).open), 'the failed instance is open');

  const ev = run.events.filter((e) => (e as { inst?: string }).inst === bad.inst);
  const rings = new Set(ev.filter((e) => e.ev === 'ring').map((e) => e.ev === 'ring' && `${e.dev} q${e.queue}`));
  const devices = new Set(ev.filter((e) => e.ev === 'xs' && /\/(device|backend)\/.*\/state$/.test(e.path)).map((e) => e.ev === 'xs' && e.path.replace(/^.*\/(vbd|vif)\/(?:\d+\/)?(\d+)\/state$/, '$1/$2')));
  const expected = 1 + rings.size + 2; // the swimlanes, a chart per ring queue, throughput and latency
  await chartsMade(page, expected);
  const facts = await plotFacts(page);
  t.equal(facts.length, expected, `the swimlanes, one chart per ring queue (${rings.size}), and two for the workload`);
  const [x0, x1] = instanceSpan(run.events, bad.inst);
  for (const f of facts) {
    t.ok(f.nonNull.some((c) => c > 0), `${f.title}: has data`);
    t.ok(Math.abs(f.xMin - x0) < 1e-9 && Math.abs(f.xMax - x1) < 1e-9, `${f.title}: time axis ${f.xMin}..${f.xMax} s is the instance's trace ${x0}..${x1} s`);
    t.same(f.clipped, [], `${f.title}: no label cut`);
  }
  const ring = facts.find((f) => f.title.startsWith('Ring'))!;
  const peak = Math.max(...ev.filter((e) => e.ev === 'ring').map((e) => (e.ev === 'ring' ? (e.req_prod - e.rsp_prod) >>> 0 : 0)));
  t.equal(ring.maxBySeries[0], peak, 'ring occupancy peaks where the trace does');
  // the failing event: named, and highlighted in the table of events around it
  t.match(await page.textContent(`details.inst[data-inst="${bad.inst}"] .timeline .note.fail`), stuck.check);
  const focus = await page.$eval(`details.inst[data-inst="${bad.inst}"] table.around tr.focus`, (tr) => [tr.getAttribute('aria-current'), tr.textContent]);
  t.equal(focus[0], 'true');
  t.match(focus[1], new RegExp(`^${stuck.diagnostics!.seq}.*failing event`));
  // a lane per device end, named in full; the state at the end of the instance read as a name
  const lanes = await page.evaluate(() => {
    const u = (window as any).__winpvPlots.find((p: any) => p.title.startsWith('XenbusState')).u;
    return { ticks: u.axes[1]._values, last: u.series.slice(1).map((s: any, i: number) => s.value(u, u.data[i + 1][u.data[i + 1].length - 1])) };
  });
  t.same(lanes.ticks, [...devices].flatMap((d) => [`win ${d} frontend`, `win ${d} backend`]), 'a lane for each end of each device');
  t.same(lanes.last, [...devices].flatMap(() => ['Connected', 'Connected']), 'both ends end Connected');
  // "zoom charts to it": every chart of the instance shows a window around the failure
  await page.click(`details.inst[data-inst="${bad.inst}"] .timeline .note.fail button.zoom`);
  const at = stuck.diagnostics!.at! / 1000;
  const windows = await page.evaluate((i) => (window as any).__winpvPlots.filter((p: any) => p.inst === i).map((p: any) => [p.u.scales.x.min, p.u.scales.x.max]), bad.inst);
  t.ok(windows.every((w: number[]) => w[0] < at && at < w[1] && w[1] - w[0] < x1 - x0), `each chart zoomed around ${at} s`);
  await page.click(`details.inst[data-inst="${bad.inst}"] .timeline .note.fail button.zoom >> nth=1`);
  // zoom on one chart moves the others of the instance
  const zoomed = await page.evaluate(() => {
    const ps = (window as any).__winpvPlots;
    const a = ps[0].u;
    a.setScale('x', { min: a.scales.x.min + 0.1, max: a.scales.x.min + 0.5 });
    return ps.filter((p: any) => p.inst === ps[0].inst).map((p: any) => [p.u.scales.x.min, p.u.scales.x.max]);
  });
  t.ok(zoomed.every((z: number[]) => z[0] === zoomed[0][0] && z[1] === zoomed[0][1]), 'charts of one instance zoom together');
  // a tooltip on hover
  const over = await page.$(`details.inst[data-inst="${bad.inst}"] .u-over`);
  await over!.scrollIntoViewIfNeeded();
  const box = (await over!.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForSelector('.u-over .tip[style*="block"]', WAIT);
  t.match(await page.textContent('.u-over .tip[style*="block"]'), /\d s/);
  // the clipping check can fail: a chart whose state axis is too narrow, and one with a title taller than its plot
  const narrow = await page.evaluate(() => {
    const fig = document.querySelector('figure.plot');
    const probe = document.createElement('figure');
    fig.parentElement.append(probe);
    const names = ['', 'Initialising', 'InitWait', 'Initialised', 'Connected'];
    const u = new window.uPlot(
      { width: 400, height: 120, scales: { x: { time: false } }, series: [{}, { stroke: 'red' }], axes: [{}, { size: 30, label: 'a far too long axis title for this plot', splits: () => [1, 2, 3, 4], values: (_u: unknown, vs: number[]) => vs.map((v) => names[v]) }] },
      [[0, 1], [1, 4]],
      probe,
    );
    window.__winpvPlots.push({ title: 'probe', u });
    return window.__winpvPlots.length;
  });
  const probe = (await plotFacts(page))[narrow - 1];
  t.match(probe.clipped.join('\n'), /axis 1 tick "Initialising" .* > \d+ px/, 'a cut tick label is caught');
  t.match(probe.clipped.join('\n'), /axis 1 label "a far too long axis title for this plot" .* > plot height/, 'a cut axis title is caught');
  await page.evaluate(() => {
    const p = window.__winpvPlots.pop();
    p.u.root.parentElement.remove();
    p.u.destroy();
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.evaluate(() => (window as any).__winpvPlots[0].u.setScale('x', { min: (window as any).__winpvPlots[0].t0, max: (window as any).__winpvPlots[0].t1 }));
  await page.mouse.move(0, 0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(ARTIFACTS, 'report-failing.png'), fullPage: true });
  t.same(errors, [], 'no console errors');
  await page.close();
});

t.test('a passing run: 0 failed is not red, a passing instance opens with its charts', { skip, timeout: 90_000 }, async (t) => {
  const run = await simRun(false);
  t.ok(run.summary.instances.every((r) => r.verdict === 'pass'));
  const { page, errors } = await open(write(run));
  t.equal(await page.textContent('.verdict'), '✓ PASSED');
  const colours = await page.$eval('.count.failed', (el) => [getComputedStyle(el).color, el.className]);
  t.match(colours[1], /zero/);
  t.not(colours[0], 'rgb(185, 28, 28)', '"0 failed" is not drawn in the failure red');
  await page.click('details.inst[data-inst="lifecycle-io"] > summary');
  await chartsMade(page, 1);
  await page.waitForTimeout(100);
  const facts = await plotFacts(page);
  for (const f of facts) t.same(f.clipped, [], `${f.title}: no label cut`);
  t.ok(facts.some((f) => f.title.startsWith('Ring')) && facts.some((f) => f.title.startsWith('Workload')));
  const markers = await page.$$eval('details.inst[data-inst="lifecycle-io"] table.markers td:nth-child(3)', (tds) => tds.map((td) => td.textContent));
  t.ok(markers.includes('win rebooted') && markers.some((m) => /unplug/.test(m!)), 'reboot and unplug markers listed');
  t.match(page.url(), /#open=lifecycle-io$/, 'the opened instance is in the URL');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'report-passing.png'), fullPage: true });
  t.same(errors, []);
  await page.close();
});

t.test('filters hide what they should, and a link with the filters reopens the same view', { skip, timeout: 90_000 }, async (t) => {
  const run = await failingRun();
  const url = write(run);
  const { page, errors } = await open(url);
  await page.uncheck('input[name=status][value=passed]');
  t.same((await listed(page)).map((r) => r[1]), ['failed'], 'passed instances hidden');
  await page.check('input[name=status][value=passed]');
  await page.selectOption('#f-tag', 'smoke');
  const smoke = run.summary.instances.filter((r) => r.tags.includes('smoke')).map((r) => r.inst).sort();
  t.same((await listed(page)).map((r) => r[0]).sort(), smoke, 'tag filter');
  await page.selectOption('#f-tag', '');
  await page.fill('#f-q', 'vbd-quick');
  await page.waitForFunction(() => location.hash.includes('q=vbd-quick'), null, WAIT);
  t.same((await listed(page)).map((r) => r[0]), ['vbd-quick'], 'text filter');
  await page.fill('#f-q', '');
  await page.waitForFunction(() => !location.hash.includes('q='), null, WAIT);
  await page.selectOption('#f-driver', 'xenvif');
  t.same((await listed(page)).map((r) => r[0]), ['lifecycle-io'], 'driver filter');
  await page.uncheck('input[name=status][value=failed]');
  const link = page.url();
  t.match(link, /#status=flaky%2Cknown%2Cpassed%2Cskipped&driver=xenvif$/);
  const view = await listed(page);
  const again = await open(link);
  t.same(await listed(again.page), view, 'the link reopens the same list');
  t.equal(await again.page.$eval('#f-driver', (s) => (s as HTMLSelectElement).value), 'xenvif');
  t.equal(await again.page.isChecked('input[name=status][value=failed]'), false);
  // a filter that matches nothing says so
  await page.fill('#f-q', 'no-such-instance');
  await page.waitForSelector('#list .empty', WAIT);
  await page.selectOption('#f-host', 'sim');
  t.same([...errors, ...again.errors], []);
  await again.page.close();
  await page.close();
});

t.test('keyboard: / searches, j moves between instances, Enter opens; print hides the controls', { skip, timeout: 90_000 }, async (t) => {
  const { page } = await open(write(await failingRun()));
  await page.keyboard.press('/');
  t.equal(await page.evaluate(() => document.activeElement?.id), 'f-q');
  await page.keyboard.press('Escape');
  await page.evaluate(() => (document.activeElement as HTMLElement).blur());
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  t.equal(await page.evaluate(() => (document.activeElement?.parentElement as HTMLElement).dataset.inst), 'vbd-quick');
  await page.keyboard.press('Enter');
  t.ok(await page.$eval('details.inst[data-inst="vbd-quick"]', (e) => (e as HTMLDetailsElement).open));
  await page.emulateMedia({ media: 'print' });
  t.equal(await page.$eval('#filters', (f) => getComputedStyle(f).display), 'none');
  t.ok(await page.$eval('.badge.failed', (b) => b.textContent!.includes('FAIL')), 'status has a word, not only a colour');
  await page.close();
});

t.test('a truncated trace still renders and says what is missing', { skip, timeout: 90_000 }, async (t) => {
  const run = await failingRun();
  const last = run.summary.instances[run.summary.instances.length - 1].inst;
  const cut = run.events.findIndex((e) => e.ev === 'scenario.end' && e.inst === last);
  // cut off before the last instance ended, and lose a stretch in the middle
  const events = run.events.slice(0, cut).filter((e) => e.seq < 200 || e.seq > 260);
  const { page, errors } = await open(write({ summary: run.summary, events }));
  const note = await page.textContent('header .note.missing');
  t.match(note, /run\.end is missing: the trace was cut off after event seq \d+/);
  t.match(note, /61 trace events are missing \(seq 200-260\)/);
  await page.click(`details.inst[data-inst="${last}"] > summary`);
  t.match(await page.textContent(`details.inst[data-inst="${last}"] .note.missing`), /scenario\.end is missing/);
  // no trace at all: the page still has its verdicts
  const none = await open(write({ summary: run.summary, events: [] }));
  t.match(await none.page.textContent('header .note.missing'), /no trace was given/);
  t.equal((await listed(none.page)).length, 3);
  t.same([...errors, ...none.errors], []);
  await none.page.close();
  await page.close();
});

t.test('2,000 instances: the list is built a chunk at a time and filters at once', { skip, timeout: 90_000 }, async (t) => {
  const big = syntheticRun(2000, 30);
  const { page, errors } = await open(write(big));
  const rows = await page.$$eval('#list details.inst', (els) => els.length);
  t.ok(rows <= 100, `only the first chunk is built (${rows} rows)`);
  t.equal((await listed(page))[0][1], 'failed');
  t.match(await page.textContent('#shown'), /^2000 instances$/);
  await page.fill('#f-q', 'synthetic-1993');
  await page.waitForFunction(() => document.querySelector('#shown')!.textContent!.startsWith('1 of 2000'), null, WAIT);
  t.same((await listed(page)).map((r) => r[0]), ['synthetic-1993[order=1,queues=2]']);
  await page.fill('#f-q', '');
  await page.waitForFunction(() => document.querySelector('#shown')!.textContent === '2000 instances', null, WAIT);
  // a DOM click: a pointer click scrolls the button into view first, which is what the observer
  // loads more on, so the button moves under the pointer (a retry loop under load)
  await page.$eval('button.more', (b) => (b as HTMLElement).click());
  t.ok((await page.$$eval('#list details.inst', (els) => els.length)) > rows, 'more rows on demand');
  // a link naming opened instances (ids with commas) reopens them, and only them
  const opened = ['synthetic-0013[order=1,queues=2]', 'synthetic-0023[order=2,queues=4]'];
  const link = page.url().replace(/#.*$/, '') + '#status=failed&' + opened.map((id) => `open=${encodeURIComponent(id)}`).join('&');
  const again = await open(link);
  await chartsMade(again.page, 2);
  t.same(await again.page.$$eval('#list details.inst[open]', (els) => els.map((e) => e.dataset.inst)), opened);
  t.same([...errors, ...again.errors], []);
  await again.page.close();
  await page.close();
});

t.test('trends: given a history, each series is charted with its baseline band', { skip, timeout: 90_000 }, async (t) => {
  const run = await failingRun();
  const points = [101, 99, 103, 100, 98, 86].map((value, i) => ({ run: `run-${i}`, build: `9.1.${i}`, value }));
  const input: ReportInput = {
    trends: [{ scenario: 'vbd-quick', metric: 'vbd/51712 throughput', unit: 'MB/s', points, baseline: { low: 96, high: 104, method: 'bootstrap 95% CI' } }],
    marks: { 'stall-under-io': { known: { issue: 'xenvbd#42', url: 'https://example.org/xenvbd/42' } } },
  };
  const { page, errors } = await open(write(run, input));
  t.equal(await page.isHidden('#trends'), false);
  await page.waitForFunction(() => (window as any).__winpvPlots.some((p: any) => p.trend), null, WAIT);
  const trend = await page.evaluate(() => {
    const p = (window as any).__winpvPlots.find((x: any) => x.trend);
    return { title: p.title, n: p.u.data[1].length, outside: p.u.data[2].filter((v: number | null) => v !== null), y: [p.u.scales.y.min, p.u.scales.y.max] };
  });
  t.equal(trend.n, points.length);
  t.same(trend.outside, [86], 'the run below the band is marked');
  t.match(trend.title, /baseline 96.*104 MB\/s by bootstrap 95% CI/);
  t.ok(trend.y[0] < 86 && trend.y[1] > 104, 'the axis holds every point and the band');
  // a known issue is counted and listed apart from the failures
  t.equal(await page.textContent('.count.known .n'), '1');
  t.equal(await page.textContent('.verdict'), '✓ PASSEDwith 1 known', 'a pass with a known failure says so');
  t.same((await listed(page)).map((r) => r[1]), ['known', 'passed', 'passed']);
  t.same(errors, []);
  await page.close();
});
