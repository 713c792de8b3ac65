// report.html at scale (issue budget: a 2,000-instance run's report written in < 2 s and painted in
// the browser in < 1 s), each measured beside the same figure for a 28-instance run (the size of
// the default catalogue) in the same process, so the ratio says what 70 times the instances cost.
// The runs are synthetic (bench/report-run.ts) so both sizes have the same per-instance shape.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { BenchFigure } from './figure';
import { ratioOf } from './figure';
import { syntheticRun } from './report-run';
import { launchChromium } from './browser';
import { writeReports } from '../report/files';

const SMALL = 28;
const LARGE = 2000;
const REPEATS = 3;

interface Measured {
  writeMs: number;
  bytes: number;
  events: number;
  url: string;
}

function writeOnce(root: string, n: number): Measured {
  const run = syntheticRun(n);
  let best = Infinity;
  const dir = join(root, `n${n}`);
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    writeReports(dir, run.summary, { runId: `bench-${n}`, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T01:00:00.000Z', inputs: [], command: 'run' }, run.events);
    best = Math.min(best, performance.now() - t0);
  }
  const file = join(dir, 'report.html');
  return { writeMs: best, bytes: statSync(file).size, events: run.events.length, url: pathToFileURL(file).href };
}

/** First contentful paint and the moment the page script has built the list, best of REPEATS fresh pages. */
async function paint(urls: string[]): Promise<{ fcp: number; ready: number }[]> {
  const browser = await launchChromium({ timeoutMs: 30_000 });
  try {
    const out: { fcp: number; ready: number }[] = [];
    for (const url of urls) {
      let fcp = Infinity;
      let ready = Infinity;
      for (let i = 0; i < REPEATS; i++) {
        const page = await browser.context.newPage();
        await page.goto(url, { timeout: 30_000 });
        await page.waitForSelector('html[data-ready="1"]', { timeout: 30_000 });
        const m = await page.evaluate(() => {
          const perf = (globalThis as unknown as { performance: { getEntriesByName(n: string): { startTime: number }[] } }).performance;
          return { fcp: perf.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN, ready: perf.getEntriesByName('winpv-ready')[0]?.startTime ?? NaN };
        });
        fcp = Math.min(fcp, m.fcp);
        ready = Math.min(ready, m.ready);
        await page.close();
      }
      out.push({ fcp, ready });
    }
    return out;
  } finally {
    await browser.close();
  }
}

/** A time of the large report beside the same time of the small one. */
function versus(name: string, large: number, small: number, note: string): BenchFigure {
  return {
    group: 'report',
    name: `${name}, ${LARGE} instances`,
    value: large,
    unit: 'ms',
    baseline: { name: `${SMALL} instances`, value: small },
    ratio: ratioOf(large, small, true),
    lowerIsBetter: true,
    note,
  };
}

export async function run(): Promise<BenchFigure[]> {
  const root = mkdtempSync(join(tmpdir(), 'winpv-bench-report-'));
  try {
    const small = writeOnce(root, SMALL);
    const large = writeOnce(root, LARGE);
    const mb = (b: number) => (b / 1e6).toFixed(1);
    const figs = [
      versus('report files written', large.writeMs, small.writeMs, `budget 2000 ms; TAP, JUnit, summary.json and report.html from ${large.events.toLocaleString('en-US')} trace events (report.html ${mb(large.bytes)} MB; ${SMALL} instances: ${mb(small.bytes)} MB); best of ${REPEATS}`),
    ];
    let painted: { fcp: number; ready: number }[] | undefined;
    let why = '';
    try {
      painted = await paint([small.url, large.url]);
    } catch (e) {
      why = (e as Error).message;
    }
    const none = { fcp: NaN, ready: NaN };
    const [ps, pl] = painted ?? [none, none];
    figs.push(
      versus('first contentful paint', pl.fcp, ps.fcp, painted ? `budget 1000 ms; Chromium headless, file:// URL, best of ${REPEATS} fresh pages` : `not measured: ${why}`),
      versus('instance list built', pl.ready, ps.ready, painted ? 'from navigation to the page script having parsed the data and listed the first chunk' : `not measured: ${why}`),
    );
    return figs;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
