// @ts-nocheck -- these functions run in the browser, not in Node: report.html inlines their source
// (`pageScript()`: every function of PAGE_PARTS and of the charts' CHART_PARTS, one after the other
// in one scope, then `reportPage(window)`). The repository's compiler settings carry no DOM library,
// so they are not type-checked; the browser tests (harness/test/report/browser.test.ts) run them in
// Chromium. Each must refer to nothing outside its own body but its arguments and the other parts,
// which it calls by name; the page's state is one object (`pg`, made by pageContext) passed along.
// The charts are html-client-charts.ts, reached through `pg.charts`.
//
// What it does: reads the page data (html-data.ts) from the JSON script element, wires the
// filters (state kept in the URL hash, so a link reopens the same view), lists instances a chunk at
// a time (a 2,000-instance run opens at once), builds an instance's details and uPlot charts only
// when it is opened, and keeps the charts of one instance on the same time range when one is zoomed.
import { CHART_PARTS } from './html-client-charts';

/* c8 ignore start -- runs in the page, covered by the browser tests, not by Node's coverage */
/** The page's entry: its state, the charts, the controls wired, then the first rendering. */
export function reportPage(win) {
  const pg = pageContext(win);
  pg.charts = pageCharts(win, { data: pg.data, COLORS: pg.COLORS, plots: pg.plots, h: pg.h, fmtNum });
  wireFilters(pg);
  wireKeys(pg);
  wirePrintAndResize(pg);

  // ---- start ----
  win.addEventListener('hashchange', () => {
    readHash(pg);
    syncControls(pg);
    renderList(pg);
  });
  readHash(pg);
  syncControls(pg);
  renderList(pg);
  if (pg.data.trends.length) {
    const host = pg.doc.getElementById('trends');
    host.hidden = false;
    host.append(pg.charts.trendGrid(pg.data.trends));
  }
  if (win.performance && win.performance.mark) win.performance.mark('winpv-ready');
  pg.doc.documentElement.dataset.ready = '1';
}

/** The page's state: its data, the constants, the filter state, the list being shown, its elements. */
function pageContext(win) {
  const doc = win.document;
  const h = domBuilder(doc);
  const form = doc.getElementById('filters');
  const pg = {
    win, doc, h,
    data: unpackTrends(JSON.parse(doc.getElementById('winpv-data').textContent)),
    STATUSES: ['failed', 'flaky', 'known', 'passed', 'skipped'],
    BADGE: { failed: ['✕', 'FAIL'], flaky: ['~', 'FLAKY'], known: ['!', 'KNOWN'], passed: ['✓', 'PASS'], skipped: ['–', 'SKIP'] },
    CHUNK: 100,
    AUTO_OPEN: 3,
    COLORS: ['#1f5fbf', '#c2410c', '#15803d', '#7e22ce', '#a16207', '#0e7490'],
    plots: (win.__winpvPlots = []),
    // ---- URL state ----
    state: { status: null, tag: '', driver: '', host: '', q: '', open: new Set() },
    // ---- filters ----
    form,
    boxes: [...form.querySelectorAll('input[name=status]')],
    selects: { tag: form.querySelector('#f-tag'), driver: form.querySelector('#f-driver'), host: form.querySelector('#f-host') },
    search: form.querySelector('#f-q'),
    hay: new Map(),
    // ---- the list, a chunk at a time ----
    list: doc.getElementById('list'),
    shown: doc.getElementById('shown'),
    filtered: [],
    rendered: 0,
    autoOpened: 0,
  };
  pg.state.status = new Set(pg.STATUSES);
  pg.more = h('button', { type: 'button', class: 'more', onclick: () => renderMore(pg) });
  pg.observer = 'IntersectionObserver' in win ? new IntersectionObserver((es) => es.some((e) => e.isIntersecting) && renderMore(pg), { rootMargin: '600px' }) : null;
  return pg;
}

// ---- small DOM helpers ----
/** `h(tag, attrs, ...kids)`: an element of `doc` with its attributes, listeners (`on...`) and children. */
function domBuilder(doc) {
  return function h(tag, attrs, ...kids) {
    const el = doc.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        const v = attrs[k];
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of kids.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
    return el;
  };
}
function secs(ms) {
  return (ms / 1000).toFixed(ms >= 100000 ? 0 : ms >= 10000 ? 1 : ms >= 1000 ? 2 : 3) + ' s';
}
function fmtNum(v, digits) {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2));
}
function badge(pg, status) {
  const [icon, word] = pg.BADGE[status];
  return pg.h('span', { class: 'badge ' + status }, pg.h('span', { 'aria-hidden': 'true' }, icon + ' '), word);
}

// ---- URL state ----
function readHash(pg) {
  const { win, state, STATUSES } = pg;
  const p = new URLSearchParams(win.location.hash.replace(/^#/, ''));
  const st = p.get('status');
  state.status = new Set(st ? st.split(',').filter((s) => STATUSES.includes(s)) : STATUSES);
  state.tag = p.get('tag') || '';
  state.driver = p.get('driver') || '';
  state.host = p.get('host') || '';
  state.q = p.get('q') || '';
  // one `open` per instance: instance ids of matrix scenarios contain commas (`x[a=1,b=2]`)
  state.open = new Set(p.getAll('open').filter(Boolean));
  return p.has('open');
}
function writeHash(pg) {
  const { win, state, STATUSES } = pg;
  const p = new URLSearchParams();
  if (state.status.size !== STATUSES.length) p.set('status', STATUSES.filter((s) => state.status.has(s)).join(','));
  for (const k of ['tag', 'driver', 'host', 'q']) if (state[k]) p.set(k, state[k]);
  for (const id of state.open) p.append('open', id);
  const hash = p.toString();
  const url = win.location.pathname + win.location.search + (hash ? '#' + hash : '');
  if (url !== win.location.pathname + win.location.search + win.location.hash) win.history.replaceState(null, '', url);
}

// ---- filters ----
function syncControls(pg) {
  const { state, boxes, selects, search } = pg;
  for (const b of boxes) b.checked = state.status.has(b.value);
  for (const k of Object.keys(selects)) selects[k].value = state[k];
  if (search.value !== state.q) search.value = state.q;
}
/** Every change of a filter rewrites the URL hash and the list; typing in the search waits for a pause. */
function wireFilters(pg) {
  const { form, boxes, selects, search, state } = pg;
  form.addEventListener('submit', (e) => e.preventDefault());
  form.addEventListener('change', (e) => {
    if (e.target === search) return;
    state.status = new Set(boxes.filter((b) => b.checked).map((b) => b.value));
    for (const k of Object.keys(selects)) state[k] = selects[k].value;
    state.q = search.value.trim();
    writeHash(pg);
    renderList(pg);
  });
  let typing;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      const q = search.value.trim();
      // the same query (Escape in an empty box, a trailing space): keep the list, and the focus in it
      if (q === state.q) return;
      state.q = q;
      writeHash(pg);
      renderList(pg);
    }, 120);
  });
  form.querySelector('#f-reset').addEventListener('click', () => {
    state.status = new Set(pg.STATUSES);
    state.tag = state.driver = state.host = state.q = '';
    syncControls(pg);
    writeHash(pg);
    renderList(pg);
  });
}

function haystack(pg, r) {
  let s = pg.hay.get(r);
  if (s === undefined) {
    s = [r.id, r.scenario, r.file, r.summary, r.tags.join(' '), r.drivers.join(' '), ...r.checks.filter((c) => c.verdict === 'fail').map((c) => c.check + ' ' + c.message)].join('\n').toLowerCase();
    pg.hay.set(r, s);
  }
  return s;
}
function matches(pg, r) {
  const state = pg.state;
  if (!state.status.has(r.status)) return false;
  if (state.tag && !r.tags.includes(state.tag)) return false;
  if (state.driver && !r.drivers.includes(state.driver)) return false;
  if (state.host && r.host !== state.host) return false;
  if (state.q) {
    const text = haystack(pg, r);
    for (const word of state.q.toLowerCase().split(/\s+/)) if (word && !text.includes(word)) return false;
  }
  return true;
}

// ---- the list, a chunk at a time ----
function renderList(pg) {
  const { plots, list, data, shown, h } = pg;
  for (let i = plots.length - 1; i >= 0; i--) if (plots[i].inst !== undefined) plots.splice(i, 1)[0].u.destroy();
  list.textContent = '';
  const filtered = (pg.filtered = data.instances.filter((r) => matches(pg, r)));
  pg.rendered = 0;
  pg.autoOpened = 0;
  shown.textContent = filtered.length === data.instances.length ? `${filtered.length} instance${filtered.length === 1 ? '' : 's'}` : `${filtered.length} of ${data.instances.length} instances match the filters`;
  if (filtered.length === 0) list.append(h('p', { class: 'empty', text: 'No instance matches these filters.' }));
  renderMore(pg);
}
function renderMore(pg, all) {
  const { filtered, list, more, observer, CHUNK } = pg;
  const end = all ? filtered.length : Math.min(filtered.length, pg.rendered + CHUNK);
  const frag = pg.doc.createDocumentFragment();
  for (; pg.rendered < end; pg.rendered++) frag.append(row(pg, filtered[pg.rendered]));
  more.remove();
  list.append(frag);
  if (pg.rendered < filtered.length) {
    more.textContent = `Show ${Math.min(CHUNK, filtered.length - pg.rendered)} more (${filtered.length - pg.rendered} not shown yet)`;
    list.append(more);
    if (observer) {
      observer.disconnect();
      observer.observe(more);
    }
  }
}

/** One instance's row: its summary line; its details built when first opened, its open state in the URL. */
function row(pg, r) {
  const { h, state } = pg;
  const det = h('details', { class: 'inst ' + r.status, id: 'inst-' + r.id, 'data-inst': r.id, 'data-status': r.status });
  const sum = h(
    'summary',
    null,
    badge(pg, r.status),
    h('span', { class: 'inst-id', text: r.id }),
    h('span', { class: 'inst-line', text: r.summary }),
    h('span', { class: 'inst-meta' }, r.tags.map((t) => h('span', { class: 'tag', text: t })), r.status === 'skipped' ? '' : secs(r.durationMs)),
  );
  det.append(sum);
  let built = false;
  det.addEventListener('toggle', () => {
    if (det.open && !built) {
      built = true;
      det.append(body(pg, r));
    }
    const had = state.open.has(r.id);
    if (det.open && !had && det.dataset.auto !== '1') state.open.add(r.id);
    if (!det.open && had) state.open.delete(r.id);
    if (had !== state.open.has(r.id)) writeHash(pg);
  });
  const auto = r.status === 'failed' && pg.autoOpened < pg.AUTO_OPEN && state.open.size === 0;
  if (state.open.has(r.id) || auto) {
    if (auto) {
      pg.autoOpened++;
      det.dataset.auto = '1';
    }
    det.open = true;
  }
  return det;
}

// ---- an instance's details ----
function body(pg, r) {
  const h = pg.h;
  const out = h('div', { class: 'inst-body' });
  out.append(h('p', { class: 'where' }, 'scenario ', h('code', { text: r.scenario }), ' from ', h('code', { text: r.file }), Object.keys(r.params).length ? ' with ' + Object.entries(r.params).map(([k, v]) => k + '=' + v).join(', ') : '', r.drivers.length ? ' · drivers ' + r.drivers.join(', ') : '', ' · host ' + r.host));
  if (r.marks && r.marks.known) {
    const k = r.marks.known;
    out.append(h('p', { class: 'note known' }, h('strong', { text: 'Known issue ' }), k.url ? h('a', { href: k.url, text: k.issue }) : k.issue, k.symptom ? ' (matched: ' + k.symptom + ')' : ''));
  }
  if (r.marks && r.marks.flaky) out.append(h('p', { class: 'note flaky' }, h('strong', { text: 'Flaky: ' }), `failed ${r.marks.flaky.failedAttempts} of ${r.marks.flaky.attempts} attempts, then passed`));
  if (r.status === 'skipped') {
    out.append(h('p', { text: r.summary }));
    return out;
  }
  for (const m of r.missing) out.append(h('p', { class: 'note missing', role: 'note' }, h('strong', { text: 'Missing from the trace: ' }), m));
  if (r.aborted) out.append(h('p', { class: 'note fail' }, h('strong', { text: 'Steps aborted: ' }), r.aborted.code + ': ' + r.aborted.message));
  out.append(checksTable(pg, r));
  if (r.artifacts.length) {
    out.append(h('h4', { text: 'Artifacts' }), h('ul', null, r.artifacts.map((a) => h('li', null, a.guest + ' ' + a.kind + ': ', a.path ? [h('a', { href: a.path, text: a.path }), ` (${a.bytes ?? '?'} bytes, sha256 ${a.sha256 ?? '?'}${a.source ? ', from ' + a.source : ''})`] : 'none (' + (a.missing || 'not collected') + ')'))));
  }
  if (r.timeline) out.append(timelineSection(pg, r));
  const trends = pg.data.trends.filter((t) => t.scenario === r.scenario);
  if (trends.length) out.append(h('h4', { text: 'Trends of this scenario' }), pg.charts.trendGrid(trends));
  return out;
}

function checksTable(pg, r) {
  const h = pg.h;
  const t = h('table', { class: 'checks' }, h('caption', { text: 'Checks (failures first)' }), h('thead', null, h('tr', null, h('th', { scope: 'col', text: 'check' }), h('th', { scope: 'col', text: 'verdict' }), h('th', { scope: 'col', text: 'detail' }))));
  const tb = h('tbody');
  for (const c of r.checks) {
    const st = c.verdict === 'fail' ? 'failed' : c.verdict === 'pass' ? 'passed' : 'skipped';
    tb.append(h('tr', { class: st }, h('td', null, h('code', { text: c.check })), h('td', null, badge(pg, st)), h('td', null, c.message, c.diagnostics ? h('pre', { text: JSON.stringify(c.diagnostics, null, 1) }) : '')));
  }
  t.append(tb);
  return t;
}

/** An instance's timeline: its failures (each with buttons zooming the charts to it), the charts kept
 *  on one time range, the workload results, the markers, the trace events around each failure. */
function timelineSection(pg, r) {
  const { h, charts } = pg;
  const tl = r.timeline;
  const sec = h('section', { class: 'timeline', 'aria-label': 'Timeline of ' + r.id });
  sec.append(h('h4', null, 'Timeline ', h('span', { class: 'dim', text: `${secs(tl.t0)} to ${secs(tl.t1)} (host time; drag on a chart to zoom, double-click to reset)` })));
  const group = [];
  for (const f of tl.failures) sec.append(failureNote(pg, f, tl, group));
  const grid = h('div', { class: 'plots' });
  sec.append(grid);
  const add = (title, build, wide) => {
    const fig = h('figure', { class: wide ? 'plot wide' : 'plot' }, h('figcaption', { text: title }));
    grid.append(fig);
    // charts are made once the figure is in the document, so they get its width
    pg.win.requestAnimationFrame(() => {
      const u = build(fig);
      if (u) {
        group.push(u);
        pg.plots.push({ inst: r.id, title, u, t0: tl.t0 / 1000, t1: tl.t1 / 1000 });
      }
    });
  };
  if (tl.devices.length) add('XenbusState of each device end (frontend and backend lanes)', (fig) => charts.swimlanePlot(fig, tl, group), true);
  for (const ring of tl.rings) add('Ring ' + ring.name + ' (' + ring.nrEnts + ' slots' + (ring.samples > ring.t.length ? `; ${ring.t.length} of ${ring.samples} samples, peaks kept` : '') + ')', (fig) => charts.ringPlot(fig, ring, tl, group));
  if (tl.workloads.length) {
    add('Workload throughput', (fig) => charts.throughputPlot(fig, tl, group));
    if (tl.workloads.some((w) => w.p99 !== undefined)) add('Workload latency', (fig) => charts.latencyPlot(fig, tl, group));
  }
  if (!tl.devices.length && !tl.rings.length && !tl.workloads.length) sec.append(h('p', { class: 'note missing', text: 'The trace of this instance has no xenstore states, ring samples or workload results to plot.' }));
  if (tl.workloads.length) sec.append(workloadTable(pg, tl));
  if (tl.markers.length) sec.append(markerTable(pg, tl));
  for (const f of tl.failures) if (f.around.length) sec.append(aroundTable(pg, f));
  return sec;
}

/** A failed check on the timeline, with buttons that zoom the instance's charts (`group`) to it or back out. */
function failureNote(pg, f, tl, group) {
  const h = pg.h;
  const zoom = (min, max) => group.length && group[0].setScale('x', { min, max });
  const around = () => {
    // a window of a tenth of the instance (at least a second) centred on the failure
    const half = Math.max(0.5, (tl.t1 - tl.t0) / 1000 / 20);
    zoom(Math.max(tl.t0 / 1000, f.t / 1000 - half), Math.min(tl.t1 / 1000, f.t / 1000 + half));
  };
  return h('p', { class: 'note fail' }, h('strong', { text: '✕ ' + f.check }), f.t !== undefined ? ` at ${secs(f.t)}` : '', f.seq !== undefined ? ` (event seq ${f.seq})` : '', ': ' + f.message, ' ',
    f.t !== undefined ? h('button', { type: 'button', class: 'zoom', onclick: around }, 'zoom charts to it') : '',
    f.t !== undefined ? h('button', { type: 'button', class: 'zoom', onclick: () => zoom(tl.t0 / 1000, tl.t1 / 1000) }, 'whole instance') : '');
}

function markerTable(pg, tl) {
  const h = pg.h;
  return h('table', { class: 'markers' }, h('caption', { text: 'Lifecycle, fault and device events (dashed lines on the charts)' }), h('thead', null, h('tr', null, h('th', { scope: 'col', text: 'time' }), h('th', { scope: 'col', text: 'kind' }), h('th', { scope: 'col', text: 'what' }))), h('tbody', null, tl.markers.map((m) => h('tr', null, h('td', { text: secs(m.t) }), h('td', null, h('span', { class: 'mk ' + m.kind, text: pg.charts.MARK_GLYPH[m.kind] + ' ' + m.kind })), h('td', { text: m.label })))));
}

function aroundTable(pg, f) {
  const h = pg.h;
  return h(
    'table',
    { class: 'around' },
    h('caption', { text: 'Trace events around the failure of ' + f.check }),
    h('thead', null, h('tr', null, h('th', { scope: 'col', text: 'seq' }), h('th', { scope: 'col', text: 'time' }), h('th', { scope: 'col', text: 'event' }), h('th', { scope: 'col', text: 'detail' }))),
    h(
      'tbody',
      null,
      f.around.map(([seq, t, ev, text]) => {
        const hit = seq === f.seq;
        return h('tr', { class: hit ? 'focus' : '', 'aria-current': hit ? 'true' : false }, h('td', { text: String(seq) }), h('td', { text: secs(t) }), h('td', null, h('code', { text: ev })), h('td', null, hit ? h('strong', { text: '◀ failing event: ' }) : '', text));
      }),
    ),
  );
}

function workloadTable(pg, tl) {
  const h = pg.h;
  return h('table', { class: 'workloads' }, h('caption', { text: 'Workload results' }), h('thead', null, h('tr', null, ['end', 'step', 'device', 'kind', 'throughput', 'IOPS', 'p50 latency', 'p99 latency', 'errors'].map((c) => h('th', { scope: 'col', text: c })))), h('tbody', null, tl.workloads.map((w) => h('tr', null, h('td', { text: secs(w.t) }), h('td', { text: w.step }), h('td', { text: w.guest + ' ' + w.dev }), h('td', { text: w.kind }), h('td', { text: fmtNum(w.mbps, 1) + (w.kind === 'net' ? ' Mbit/s' : ' MB/s') }), h('td', { text: fmtNum(w.iops, 0) }), h('td', { text: w.p50 === undefined ? '–' : fmtNum(w.p50, 3) + ' ms' }), h('td', { text: w.p99 === undefined ? '–' : fmtNum(w.p99, 3) + ' ms' }), h('td', { text: String(w.errors) })))));
}

// ---- keyboard: "/" to search, j/k between instances ----
function wireKeys(pg) {
  const { doc, search, list } = pg;
  doc.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const typingHere = /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName);
    if (e.key === '/' && !typingHere) {
      e.preventDefault();
      search.focus();
    } else if (e.key === 'Escape' && e.target === search) {
      search.value = '';
      search.dispatchEvent(new Event('input'));
    } else if ((e.key === 'j' || e.key === 'k') && !typingHere) {
      const sums = [...list.querySelectorAll('details.inst > summary')];
      if (!sums.length) return;
      const at = sums.indexOf(doc.activeElement);
      const next = sums[Math.max(0, Math.min(sums.length - 1, at < 0 ? 0 : at + (e.key === 'j' ? 1 : -1)))];
      next.focus();
      e.preventDefault();
    }
  });
}

// ---- print: every matching instance listed, charts at the page's width ----
function wirePrintAndResize(pg) {
  const win = pg.win;
  win.addEventListener('beforeprint', () => renderMore(pg, true));
  let resizing;
  win.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      for (const p of pg.plots) {
        const fig = p.u.root.parentElement;
        const w = pg.charts.chartWidth(fig);
        if (w !== p.u.width) p.u.setSize({ width: w, height: p.u.height });
      }
    }, 150);
  });
}
/* c8 ignore stop */

/** The page data with its trends' points as the charts take them ({ run, at, build, value, verdict }):
 *  report.html carries each run's id, date and build once, in `trendRuns`, and a point as
 *  [index in trendRuns, value, verdict?] (html.ts packTrends). Also run by the Node tests. */
export function unpackTrends(data) {
  const runs = data.trendRuns || [];
  data.trends = data.trends.map((t) => Object.assign({}, t, {
    points: t.points.map((p) => {
      const r = runs[p[0]];
      const point = { run: r[0], value: p[1] };
      if (r[1] !== null) point.at = r[1];
      if (r[2] !== null) point.build = r[2];
      if (p.length > 2) point.verdict = p[2];
      return point;
    }),
  }));
  delete data.trendRuns;
  return data;
}

/** The page script's parts, in the order they are written into the page (each calls the others by name). */
const PAGE_PARTS = [reportPage, pageContext, unpackTrends, domBuilder, secs, fmtNum, badge, readHash, writeHash, syncControls, wireFilters, haystack, matches, renderList, renderMore, row, body, checksTable, timelineSection, failureNote, markerTable, aroundTable, workloadTable, wireKeys, wirePrintAndResize];

/** The page script report.html runs: the page's and the charts' functions declared in one scope
 *  (a function of its own, so none is a global of the page), then the entry called with `window`. */
export function pageScript(): string {
  return scriptOf([...PAGE_PARTS, ...CHART_PARTS], 'reportPage');
}

/** Functions declared in one scope, then `entry(window)`; a name declared twice would make one of
 *  them silently replace the other, so it is refused. */
export function scriptOf(parts: readonly ((...args: never[]) => unknown)[], entry: string): string {
  const names = parts.map((f) => f.name);
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length) throw new Error(`the page script declares ${twice.join(', ')} twice`);
  return `(function () {\n'use strict';\n${parts.map((f) => f.toString()).join('\n')}\n${entry}(window);\n})();`;
}
