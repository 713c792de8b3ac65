// report.html: one self-contained page (no network: uPlot's script and CSS are read from the
// installed package at report time and inlined). The header (verdict, counts, builds, links, what
// the trace lacks) and the filter controls are plain HTML, so they paint at once and print without
// script; the instance list, details and charts are built by the page script (html-client.ts) from
// the JSON data (html-data.ts), a chunk at a time and only when opened.
import { readFileSync } from 'node:fs';
import type { RunSummary } from '../model/result';
import type { ReportInput, TrendPoint, TrendSeries } from '../model/report-input';
import type { TraceEvent } from '../model/trace';
import { STATUS_ORDER, type PageData, type Status } from './html-data';
import { buildPageData } from './html-digest';
import { pageScript } from './html-client';
import { REPORT_CSS } from './html-style';
import type { RunMeta } from './run-meta';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** Inline script text cannot contain `</script` (nor `<!--`), whatever the data says. */
const scriptSafe = (s: string) => s.replace(/<(?=\/script|!--)/gi, '\\u003c');
const jsonSafe = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/** The page data as report.html carries it: each trend point's run (id, date, build) once in
 *  `trendRuns`, a point as [index in trendRuns, value, verdict?]. A run's trends are some 600 series
 *  of up to 30 points over the same runs: written out, the points tripled the page (2.3 of 3.75 MB for
 *  the catalogue) and the time to write it. The page script unpacks them (html-client.ts unpackTrends). */
export function packTrends(d: PageData): Omit<PageData, 'trends'> & { trends: PackedTrend[]; trendRuns: [string, string | null, string | null][] } {
  const trendRuns: [string, string | null, string | null][] = [];
  const index = new Map<string, number>();
  const runOf = (p: TrendPoint) => {
    const key = JSON.stringify([p.run, p.at ?? null, p.build ?? null]);
    let i = index.get(key);
    if (i === undefined) index.set(key, (i = trendRuns.push([p.run, p.at ?? null, p.build ?? null]) - 1));
    return i;
  };
  const trends = d.trends.map((t) => ({ ...t, points: t.points.map((p): PackedPoint => (p.verdict !== undefined ? [runOf(p), p.value, p.verdict] : [runOf(p), p.value])) }));
  return { ...d, trends, trendRuns };
}

type PackedPoint = [number, number] | [number, number, NonNullable<TrendPoint['verdict']>];
type PackedTrend = Omit<TrendSeries, 'points'> & { points: PackedPoint[] };

let uplotAssets: { js: string; css: string } | undefined;
/** uPlot's browser build and stylesheet, from the installed package (read once per process). */
function uplotFiles(): { js: string; css: string } {
  if (!uplotAssets) {
    // uPlot's MIT licence travels with the copy of uPlot each report carries
    const licence = readFileSync(require.resolve('uplot/LICENSE'), 'utf8').replace(/\*\//g, '* /');
    const js = `/* uPlot licence:\n${licence}*/\n` + readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
    const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
    uplotAssets = { js: scriptSafe(js), css: css.replace(/<\/style/gi, '<\\/style') };
  }
  return uplotAssets;
}

const LABEL: Record<Status, string> = { failed: 'failed', flaky: 'flaky', known: 'known', passed: 'passed', skipped: 'skipped' };
const ICON: Record<Status, string> = { failed: '✕', flaky: '~', known: '!', passed: '✓', skipped: '–' };
const VERDICT = {
  failed: ['✕', 'FAILED'],
  passed: ['✓', 'PASSED'],
  incomplete: ['!', 'INCOMPLETE'],
} as const;

function duration(ms: number): string {
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return m < 120 ? `${m} min ${Math.round((ms % 60_000) / 1000)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** What a pass carries that still deserves a look: known failures and flaky instances. */
function aside(d: PageData): string {
  const parts = [d.counts.known ? `${d.counts.known} known` : '', d.counts.flaky ? `${d.counts.flaky} flaky` : ''].filter(Boolean);
  return parts.length ? `<span class="aside">with ${parts.join(', ')}</span>` : '';
}

function header(d: PageData): string {
  const [icon, word] = VERDICT[d.verdict];
  const counts = STATUS_ORDER.map((st) => {
    const n = d.counts[st];
    // a zero is a fact, not an alarm: counts of 0 are drawn in neutral grey
    return `<li class="count ${st}${n === 0 ? ' zero' : ''}"><span class="n">${n}</span> <span aria-hidden="true">${ICON[st]}</span> ${LABEL[st]}</li>`;
  }).join('');
  const r = d.run;
  const dd = (k: string, v: string) => `<div><dt>${k}</dt><dd>${v}</dd></div>`;
  const none = '<span class="dim">not recorded</span>';
  const facts = [
    dd('duration', `${r.wallMs !== undefined ? `${duration(r.wallMs)} wall, ` : ''}${duration(r.hostMs)} host time`),
    dd(r.hosts.length === 1 ? 'host' : 'hosts', r.hosts.map(esc).join(', ') || none),
    dd('driver build', r.driverBuilds.map(esc).join(', ') || none),
    dd('Windows build', r.windowsBuilds.map(esc).join(', ') || none),
    dd('seed', `<code>${r.seed}</code>`),
    dd('started', esc(r.startedAt)),
    dd('checks', `${d.counts.checks} run, ${d.counts.checksFailed} failed`),
  ].join('');
  const links =
    r.links.map((l) => `<a href="${esc(l.href)}">${esc(l.label)}</a>`).join(' · ') +
    (r.mergedFrom ? ` · merged from ${r.mergedFrom.map((m) => `<code>${esc(m)}</code>`).join(', ')} (each with its trace.jsonl)` : '');
  const missing = d.missing.length
    ? `<div class="note missing" role="note"><strong>The trace is incomplete; the report shows what it has.</strong><ul>${d.missing.map((m) => `<li>${esc(m)}</li>`).join('')}</ul></div>`
    : '';
  const bail = r.bailOut ? `<p class="note fail"><strong>Run stopped early:</strong> ${esc(r.bailOut)}</p>` : '';
  return `<header class="glance">
<div class="verdict ${d.verdict}" role="status"><span aria-hidden="true">${icon}</span> ${word}${aside(d)}</div>
<div class="title"><h1>winpv run <code>${esc(r.id)}</code></h1><p class="links">${links}</p></div>
<ul class="counts" aria-label="instances by status">${counts}<li class="count total"><span class="n">${d.counts.total}</span> instances</li></ul>
<dl class="facts">${facts}</dl>
${bail}${missing}
</header>`;
}

const MAX_LISTED_ARTIFACTS = 200;

/** Files the hosts collected (crash dumps), listed up front as plain links: the first thing to fetch after a crash. */
function artifacts(d: PageData): string {
  const all = d.instances.flatMap((r) => r.artifacts.map((a) => ({ inst: r.id, ...a })));
  if (all.length === 0) return '';
  const items = all.slice(0, MAX_LISTED_ARTIFACTS).map(
    (a) =>
      `<li><code>${esc(a.inst)}</code> ${esc(a.guest)} ${esc(a.kind)}: ${
        a.path
          ? `<a href="${esc(a.path)}">${esc(a.path)}</a> (${a.bytes ?? '?'} bytes, sha256 ${esc(a.sha256 ?? '?')}${a.source ? `, from ${esc(a.source)}` : ''})`
          : `none (${esc(a.missing ?? 'not collected')})`
      }</li>`,
  );
  const more = all.length > MAX_LISTED_ARTIFACTS ? `<li>and ${all.length - MAX_LISTED_ARTIFACTS} more, listed with their instances</li>` : '';
  return `<section class="artifacts"><h2>Collected files</h2><ul>${items.join('')}${more}</ul></section>`;
}

function filters(d: PageData): string {
  const boxes = STATUS_ORDER.map(
    (st) => `<label class="st ${st}"><input type="checkbox" name="status" value="${st}" checked> <span aria-hidden="true">${ICON[st]}</span> ${LABEL[st]} (${d.counts[st]})</label>`,
  ).join('');
  const select = (id: string, label: string, values: string[]) =>
    `<label for="f-${id}">${label}</label> <select id="f-${id}"><option value="">any</option>${values.map((v) => `<option>${esc(v)}</option>`).join('')}</select>`;
  return `<form id="filters" class="filters" role="search" aria-label="filter instances">
<fieldset><legend>status</legend>${boxes}</fieldset>
<div class="sel">${select('tag', 'tag', d.facets.tags)} ${select('driver', 'driver', d.facets.drivers)} ${select('host', 'host', d.facets.hosts)}</div>
<div class="sel"><label for="f-q">text</label> <input id="f-q" type="search" placeholder="id, check or message" autocomplete="off"> <button type="button" id="f-reset">clear filters</button></div>
</form>`;
}

export function renderHtml(s: RunSummary, events: readonly TraceEvent[], meta: RunMeta, input: ReportInput = {}): string {
  return renderPage(buildPageData(s, events, meta, input));
}

/** The page of its data (shaped from a trace, or gathered as the run streamed: html-digest.ts). */
export function renderPage(d: PageData): string {
  const ua = uplotFiles();
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${d.verdict === 'passed' ? '✓' : '✕'} winpv ${esc(d.run.id)}: ${d.counts.failed} failed, ${d.counts.passed} passed</title>
<style>${ua.css}</style>
<style>${REPORT_CSS}</style>
</head><body>
<a class="skip" href="#results">Skip to the results</a>
${header(d)}
${artifacts(d)}
<section id="trends" class="trends" hidden><h2>Trends</h2></section>
<main id="results" tabindex="-1">
<h2>Instances <span id="shown" class="dim"></span></h2>
${filters(d)}
<p class="keys dim">Keys: <kbd>/</kbd> search, <kbd>j</kbd>/<kbd>k</kbd> next/previous instance, <kbd>Enter</kbd> open or close.</p>
<noscript><p class="note missing">The instance list needs JavaScript; results.tap and junit.xml hold the same verdicts.</p></noscript>
<div id="list" class="list"></div>
</main>
<script type="application/json" id="winpv-data">${jsonSafe(packTrends(d))}</script>
<script>${ua.js}</script>
<script>${scriptSafe(pageScript())}</script>
</body></html>
`;
}
