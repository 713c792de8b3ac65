// @ts-nocheck -- this function runs in the browser, not in Node: report.html inlines its source
// (`reportPage.toString()`) and calls it with `window`. The repository's compiler settings carry no
// DOM library, so it is not type-checked; the browser tests (harness/test/report/browser.test.ts)
// run it in Chromium. It must not refer to anything outside its own body.
//
// What it does: reads the page data (html-data.ts) from the JSON script element, wires the
// filters (state kept in the URL hash, so a link reopens the same view), lists instances a chunk at
// a time (a 2,000-instance run opens at once), builds an instance's details and uPlot charts only
// when it is opened, and keeps the charts of one instance on the same time range when one is zoomed.
/* c8 ignore start -- runs in the page, covered by the browser tests, not by Node's coverage */
export function reportPage(win) {
  'use strict';
  const doc = win.document;
  const uPlot = win.uPlot;
  const data = JSON.parse(doc.getElementById('winpv-data').textContent);
  const STATUSES = ['failed', 'flaky', 'known', 'passed', 'skipped'];
  const BADGE = { failed: ['✕', 'FAIL'], flaky: ['~', 'FLAKY'], known: ['!', 'KNOWN'], passed: ['✓', 'PASS'], skipped: ['–', 'SKIP'] };
  const CHUNK = 100;
  const AUTO_OPEN = 3;
  const COLORS = ['#1f5fbf', '#c2410c', '#15803d', '#7e22ce', '#a16207', '#0e7490'];
  const plots = (win.__winpvPlots = []);

  // ---- small DOM helpers ----
  function h(tag, attrs, ...kids) {
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
  }
  const secs = (ms) => (ms / 1000).toFixed(ms >= 100000 ? 0 : ms >= 10000 ? 1 : ms >= 1000 ? 2 : 3) + ' s';
  const fmtNum = (v, digits) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2)));
  function badge(status) {
    const [icon, word] = BADGE[status];
    return h('span', { class: 'badge ' + status }, h('span', { 'aria-hidden': 'true' }, icon + ' '), word);
  }

  // ---- URL state ----
  const state = { status: new Set(STATUSES), tag: '', driver: '', host: '', q: '', open: new Set() };
  function readHash() {
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
  function writeHash() {
    const p = new URLSearchParams();
    if (state.status.size !== STATUSES.length) p.set('status', STATUSES.filter((s) => state.status.has(s)).join(','));
    for (const k of ['tag', 'driver', 'host', 'q']) if (state[k]) p.set(k, state[k]);
    for (const id of state.open) p.append('open', id);
    const hash = p.toString();
    const url = win.location.pathname + win.location.search + (hash ? '#' + hash : '');
    if (url !== win.location.pathname + win.location.search + win.location.hash) win.history.replaceState(null, '', url);
  }

  // ---- filters ----
  const form = doc.getElementById('filters');
  const boxes = [...form.querySelectorAll('input[name=status]')];
  const selects = { tag: form.querySelector('#f-tag'), driver: form.querySelector('#f-driver'), host: form.querySelector('#f-host') };
  const search = form.querySelector('#f-q');
  function syncControls() {
    for (const b of boxes) b.checked = state.status.has(b.value);
    for (const k of Object.keys(selects)) selects[k].value = state[k];
    if (search.value !== state.q) search.value = state.q;
  }
  form.addEventListener('submit', (e) => e.preventDefault());
  form.addEventListener('change', (e) => {
    if (e.target === search) return;
    state.status = new Set(boxes.filter((b) => b.checked).map((b) => b.value));
    for (const k of Object.keys(selects)) state[k] = selects[k].value;
    state.q = search.value.trim();
    writeHash();
    renderList();
  });
  let typing;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      state.q = search.value.trim();
      writeHash();
      renderList();
    }, 120);
  });
  form.querySelector('#f-reset').addEventListener('click', () => {
    state.status = new Set(STATUSES);
    state.tag = state.driver = state.host = state.q = '';
    syncControls();
    writeHash();
    renderList();
  });

  const hay = new Map();
  function haystack(r) {
    let s = hay.get(r);
    if (s === undefined) {
      s = [r.id, r.scenario, r.file, r.summary, r.tags.join(' '), r.drivers.join(' '), ...r.checks.filter((c) => c.verdict === 'fail').map((c) => c.check + ' ' + c.message)].join('\n').toLowerCase();
      hay.set(r, s);
    }
    return s;
  }
  function matches(r) {
    if (!state.status.has(r.status)) return false;
    if (state.tag && !r.tags.includes(state.tag)) return false;
    if (state.driver && !r.drivers.includes(state.driver)) return false;
    if (state.host && r.host !== state.host) return false;
    if (state.q) {
      const text = haystack(r);
      for (const word of state.q.toLowerCase().split(/\s+/)) if (word && !text.includes(word)) return false;
    }
    return true;
  }

  // ---- the list, a chunk at a time ----
  const list = doc.getElementById('list');
  const shown = doc.getElementById('shown');
  let filtered = [];
  let rendered = 0;
  let autoOpened = 0;
  const more = h('button', { type: 'button', class: 'more', onclick: () => renderMore() });
  const observer = 'IntersectionObserver' in win ? new IntersectionObserver((es) => es.some((e) => e.isIntersecting) && renderMore(), { rootMargin: '600px' }) : null;
  function renderList() {
    for (let i = plots.length - 1; i >= 0; i--) if (plots[i].inst !== undefined) plots.splice(i, 1)[0].u.destroy();
    list.textContent = '';
    filtered = data.instances.filter(matches);
    rendered = 0;
    autoOpened = 0;
    shown.textContent = filtered.length === data.instances.length ? `${filtered.length} instance${filtered.length === 1 ? '' : 's'}` : `${filtered.length} of ${data.instances.length} instances match the filters`;
    if (filtered.length === 0) list.append(h('p', { class: 'empty', text: 'No instance matches these filters.' }));
    renderMore();
  }
  function renderMore(all) {
    const end = all ? filtered.length : Math.min(filtered.length, rendered + CHUNK);
    const frag = doc.createDocumentFragment();
    for (; rendered < end; rendered++) frag.append(row(filtered[rendered]));
    more.remove();
    list.append(frag);
    if (rendered < filtered.length) {
      more.textContent = `Show ${Math.min(CHUNK, filtered.length - rendered)} more (${filtered.length - rendered} not shown yet)`;
      list.append(more);
      if (observer) {
        observer.disconnect();
        observer.observe(more);
      }
    }
  }

  function row(r) {
    const det = h('details', { class: 'inst ' + r.status, id: 'inst-' + r.id, 'data-inst': r.id, 'data-status': r.status });
    const sum = h(
      'summary',
      null,
      badge(r.status),
      h('span', { class: 'inst-id', text: r.id }),
      h('span', { class: 'inst-line', text: r.summary }),
      h('span', { class: 'inst-meta' }, r.tags.map((t) => h('span', { class: 'tag', text: t })), r.status === 'skipped' ? '' : secs(r.durationMs)),
    );
    det.append(sum);
    let built = false;
    det.addEventListener('toggle', () => {
      if (det.open && !built) {
        built = true;
        det.append(body(r));
      }
      const had = state.open.has(r.id);
      if (det.open && !had && det.dataset.auto !== '1') state.open.add(r.id);
      if (!det.open && had) state.open.delete(r.id);
      if (had !== state.open.has(r.id)) writeHash();
    });
    const auto = r.status === 'failed' && autoOpened < AUTO_OPEN && state.open.size === 0;
    if (state.open.has(r.id) || auto) {
      if (auto) {
        autoOpened++;
        det.dataset.auto = '1';
      }
      det.open = true;
    }
    return det;
  }

  // ---- an instance's details ----
  function body(r) {
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
    out.append(checksTable(r));
    if (r.artifacts.length) {
      out.append(h('h4', { text: 'Artifacts' }), h('ul', null, r.artifacts.map((a) => h('li', null, a.guest + ' ' + a.kind + ': ', a.path ? [h('a', { href: a.path, text: a.path }), ` (${a.bytes ?? '?'} bytes, sha256 ${a.sha256 ?? '?'}${a.source ? ', from ' + a.source : ''})`] : 'none (' + (a.missing || 'not collected') + ')'))));
    }
    if (r.timeline) out.append(timelineSection(r));
    const trends = data.trends.filter((t) => t.scenario === r.scenario);
    if (trends.length) out.append(h('h4', { text: 'Trends of this scenario' }), trendGrid(trends));
    return out;
  }

  function checksTable(r) {
    const t = h('table', { class: 'checks' }, h('caption', { text: 'Checks (failures first)' }), h('thead', null, h('tr', null, h('th', { scope: 'col', text: 'check' }), h('th', { scope: 'col', text: 'verdict' }), h('th', { scope: 'col', text: 'detail' }))));
    const tb = h('tbody');
    for (const c of r.checks) {
      const st = c.verdict === 'fail' ? 'failed' : c.verdict === 'pass' ? 'passed' : 'skipped';
      tb.append(h('tr', { class: st }, h('td', null, h('code', { text: c.check })), h('td', null, badge(st)), h('td', null, c.message, c.diagnostics ? h('pre', { text: JSON.stringify(c.diagnostics, null, 1) }) : '')));
    }
    t.append(tb);
    return t;
  }

  function timelineSection(r) {
    const tl = r.timeline;
    const sec = h('section', { class: 'timeline', 'aria-label': 'Timeline of ' + r.id });
    sec.append(h('h4', null, 'Timeline ', h('span', { class: 'dim', text: `${secs(tl.t0)} to ${secs(tl.t1)} (host time; drag on a chart to zoom, double-click to reset)` })));
    const group = [];
    const zoom = (min, max) => group.length && group[0].setScale('x', { min, max });
    for (const f of tl.failures) {
      const around = () => {
        // a window of a tenth of the instance (at least a second) centred on the failure
        const half = Math.max(0.5, (tl.t1 - tl.t0) / 1000 / 20);
        zoom(Math.max(tl.t0 / 1000, f.t / 1000 - half), Math.min(tl.t1 / 1000, f.t / 1000 + half));
      };
      sec.append(
        h('p', { class: 'note fail' }, h('strong', { text: '✕ ' + f.check }), f.t !== undefined ? ` at ${secs(f.t)}` : '', f.seq !== undefined ? ` (event seq ${f.seq})` : '', ': ' + f.message, ' ',
          f.t !== undefined ? h('button', { type: 'button', class: 'zoom', onclick: around }, 'zoom charts to it') : '',
          f.t !== undefined ? h('button', { type: 'button', class: 'zoom', onclick: () => zoom(tl.t0 / 1000, tl.t1 / 1000) }, 'whole instance') : ''),
      );
    }
    const grid = h('div', { class: 'plots' });
    sec.append(grid);
    const add = (title, build, wide) => {
      const fig = h('figure', { class: wide ? 'plot wide' : 'plot' }, h('figcaption', { text: title }));
      grid.append(fig);
      // charts are made once the figure is in the document, so they get its width
      win.requestAnimationFrame(() => {
        const u = build(fig);
        if (u) {
          group.push(u);
          plots.push({ inst: r.id, title, u, t0: tl.t0 / 1000, t1: tl.t1 / 1000 });
        }
      });
    };
    if (tl.devices.length) add('XenbusState of each device end (frontend and backend lanes)', (fig) => swimlanePlot(fig, tl, group), true);
    for (const ring of tl.rings) add('Ring ' + ring.name + ' (' + ring.nrEnts + ' slots' + (ring.samples > ring.t.length ? `; ${ring.t.length} of ${ring.samples} samples, peaks kept` : '') + ')', (fig) => ringPlot(fig, ring, tl, group));
    if (tl.workloads.length) {
      add('Workload throughput', (fig) => throughputPlot(fig, tl, group));
      if (tl.workloads.some((w) => w.p99 !== undefined)) add('Workload latency', (fig) => latencyPlot(fig, tl, group));
    }
    if (!tl.devices.length && !tl.rings.length && !tl.workloads.length) sec.append(h('p', { class: 'note missing', text: 'The trace of this instance has no xenstore states, ring samples or workload results to plot.' }));
    if (tl.workloads.length) sec.append(workloadTable(tl));
    if (tl.markers.length) {
      sec.append(h('table', { class: 'markers' }, h('caption', { text: 'Lifecycle, fault and device events (dashed lines on the charts)' }), h('thead', null, h('tr', null, h('th', { scope: 'col', text: 'time' }), h('th', { scope: 'col', text: 'kind' }), h('th', { scope: 'col', text: 'what' }))), h('tbody', null, tl.markers.map((m) => h('tr', null, h('td', { text: secs(m.t) }), h('td', null, h('span', { class: 'mk ' + m.kind, text: MARK_GLYPH[m.kind] + ' ' + m.kind })), h('td', { text: m.label }))))));
    }
    for (const f of tl.failures) if (f.around.length) sec.append(aroundTable(f));
    return sec;
  }

  function aroundTable(f) {
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

  function workloadTable(tl) {
    return h('table', { class: 'workloads' }, h('caption', { text: 'Workload results' }), h('thead', null, h('tr', null, ['end', 'step', 'device', 'kind', 'throughput', 'IOPS', 'p50 latency', 'p99 latency', 'errors'].map((c) => h('th', { scope: 'col', text: c })))), h('tbody', null, tl.workloads.map((w) => h('tr', null, h('td', { text: secs(w.t) }), h('td', { text: w.step }), h('td', { text: w.guest + ' ' + w.dev }), h('td', { text: w.kind }), h('td', { text: fmtNum(w.mbps, 1) + (w.kind === 'net' ? ' Mbit/s' : ' MB/s') }), h('td', { text: fmtNum(w.iops, 0) }), h('td', { text: w.p50 === undefined ? '–' : fmtNum(w.p50, 3) + ' ms' }), h('td', { text: w.p99 === undefined ? '–' : fmtNum(w.p99, 3) + ' ms' }), h('td', { text: String(w.errors) })))));
  }

  // ---- charts ----
  const MARK_GLYPH = { lifecycle: '◆', fault: '⚡', step: '▸' };
  const MARK_DASH = { lifecycle: [], fault: [6, 3], step: [2, 3] };
  const MARK_COLOR = { lifecycle: '#444', fault: '#b45309', step: '#6b7280' };

  /** A y axis wide enough for its longest tick label, so no label is cut (uPlot's own default is a fixed 50 px). */
  function fitAxis(u, values, axisIdx, cycleNum) {
    const axis = u.axes[axisIdx];
    let widest = 0;
    u.ctx.font = axis.font[0];
    for (const v of values || []) if (v !== null && v !== '') widest = Math.max(widest, u.ctx.measureText(String(v)).width / uPlot.pxRatio);
    const size = Math.ceil(axis.ticks.size + axis.gap + widest) + 2;
    // uPlot sizes axes in rounds; the ticks of a later round may be wider, so a size only grows
    return cycleNum > 1 ? Math.max(size, axis._size || 0) : size;
  }
  /** The width a chart gets: its figure's content box (padding excluded), within bounds. */
  function chartWidth(fig) {
    const cs = win.getComputedStyle(fig);
    const inner = fig.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    return Math.floor(Math.max(280, Math.min(inner || 640, 1100)));
  }
  /** Axis numbers: no trailing zeros, thousands grouped. */
  const tickNum = (u, vals) => vals.map((v) => (v === null ? '' : Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(+v.toFixed(3))));
  /** Counts (requests, indices) tick at whole numbers only. */
  const WHOLE = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9];
  const timeTick = (u, vals) => vals.map((v) => (v === null ? '' : +v.toFixed(3) + ' s'));

  /** The chart's canvas, saved and clipped to the plot area (the caller restores it). */
  function clipToPlot(u) {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    return ctx;
  }

  function markersHook(tl) {
    return (u) => {
      const ctx = clipToPlot(u);
      const { left, top, width, height } = u.bbox;
      ctx.lineWidth = uPlot.pxRatio;
      for (const m of tl.markers) {
        const x = Math.round(u.valToPos(m.t / 1000, 'x', true));
        if (x < left || x > left + width) continue;
        ctx.strokeStyle = MARK_COLOR[m.kind];
        ctx.setLineDash(MARK_DASH[m.kind].map((d) => d * uPlot.pxRatio));
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, top + height);
        ctx.stroke();
      }
      ctx.setLineDash([]);
      for (const f of tl.failures) {
        if (f.t === undefined) continue;
        const x = Math.round(u.valToPos(f.t / 1000, 'x', true));
        if (x < left || x > left + width) continue;
        ctx.fillStyle = 'rgba(185, 28, 28, 0.12)';
        ctx.fillRect(x - 4 * uPlot.pxRatio, top, 8 * uPlot.pxRatio, height);
        ctx.strokeStyle = '#b91c1c';
        ctx.lineWidth = 2 * uPlot.pxRatio;
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, top + height);
        ctx.stroke();
      }
      ctx.restore();
    };
  }

  /** Hover box: the time, each series' value, and the markers near the cursor. */
  function tooltip(tl) {
    let box;
    return {
      hooks: {
        init: (u) => {
          box = h('div', { class: 'tip', role: 'status' });
          box.style.display = 'none';
          u.over.append(box);
          u.over.addEventListener('mouseleave', () => (box.style.display = 'none'));
        },
        setCursor: (u) => {
          const { left, top, idx } = u.cursor;
          if (idx === null || idx === undefined || left < 0) {
            box.style.display = 'none';
            return;
          }
          const x = u.posToVal(left, 'x');
          const lines = [u.series[0].value(u, u.data[0][idx])];
          for (let i = 1; i < u.series.length; i++) {
            const s = u.series[i];
            if (!s.show) continue;
            const v = u.data[i][idx];
            if (v !== null && v !== undefined) lines.push(s.label + ': ' + s.value(u, v));
          }
          if (tl) {
            const near = (u.scales.x.max - u.scales.x.min) * 0.01;
            for (const m of tl.markers) if (Math.abs(m.t / 1000 - x) <= near) lines.push(MARK_GLYPH[m.kind] + ' ' + m.label);
            for (const f of tl.failures) if (f.t !== undefined && Math.abs(f.t / 1000 - x) <= near) lines.push('✕ ' + f.check + ' failed here');
          }
          box.textContent = lines.join('\n');
          box.style.display = 'block';
          const w = u.over.clientWidth;
          box.style.left = (left > w / 2 ? left - box.offsetWidth - 10 : left + 10) + 'px';
          box.style.top = Math.max(0, top - 10) + 'px';
        },
      },
    };
  }

  function zoomSync(group) {
    let busy = false;
    return (u, key) => {
      if (key !== 'x' || busy) return;
      busy = true;
      for (const o of group) if (o !== u && (o.scales.x.min !== u.scales.x.min || o.scales.x.max !== u.scales.x.max)) o.setScale('x', { min: u.scales.x.min, max: u.scales.x.max });
      busy = false;
    };
  }

  function chart(fig, tl, group, opts, cols) {
    const width = chartWidth(fig);
    const base = {
      width,
      height: opts.height || 220,
      scales: Object.assign({ x: { time: false } }, opts.scales || {}),
      series: [{ label: 'time', value: (u, v) => (v === null || v === undefined ? '–' : +v.toFixed(3) + ' s') }].concat(opts.series),
      axes: [{ label: 'time (s)', values: timeTick, size: 32, labelSize: 22 }].concat(opts.axes),
      cursor: { drag: { x: true, y: false }, sync: tl ? { key: 'tl' + tl.t0 + ':' + tl.t1 } : undefined },
      legend: { live: true },
      hooks: { draw: [opts.draw, tl && markersHook(tl)].filter(Boolean), setScale: tl ? [zoomSync(group)] : [] },
      plugins: [tooltip(tl)],
    };
    return new uPlot(base, cols, fig);
  }

  /** Columns over a shared time axis (seconds) that always spans the instance, so charts line up. */
  function columns(tl, seriesPoints, hold) {
    const xs = new Set([tl.t0, tl.t1]);
    for (const pts of seriesPoints) for (const p of pts) xs.add(p[0]);
    const x = [...xs].sort((a, b) => a - b);
    const cols = [x.map((t) => t / 1000)];
    for (const pts of seriesPoints) {
      const at = new Map();
      for (const p of pts) at.set(p[0], p[1]);
      let last = null;
      cols.push(x.map((t) => {
        if (at.has(t)) last = at.get(t);
        else if (!hold) return null;
        return last;
      }));
    }
    return cols;
  }

  // XenbusState fills: each state its own colour, and its name written in the band wherever it fits
  const STATE_FILL = ['#ffffff', '#dbe4f0', '#fde68a', '#bfdbfe', '#86efac', '#fdba74', '#cbd5e1', '#e9d5ff', '#e9d5ff'];

  /** One lane per device end (frontend and backend of each device), bands of XenbusState over time. */
  function swimlanePlot(fig, tl, group) {
    const lanes = [];
    for (const d of tl.devices) lanes.push({ name: d.name + ' frontend', pts: d.frontend }, { name: d.name + ' backend', pts: d.backend });
    const n = lanes.length;
    const name = (v) => (v === 0 ? 'Unknown/removed' : data.stateNames[v] || 'state ' + v);
    const laneOf = (y) => n - 1 - Math.floor(y); // lane 0 at the top
    const bands = (u) => {
      const ctx = clipToPlot(u);
      const px = uPlot.pxRatio;
      const { left } = u.bbox;
      ctx.font = 11 * px + 'px system-ui, sans-serif';
      ctx.textBaseline = 'middle';
      ctx.textAlign = 'left'; // uPlot leaves the alignment of its last axis label
      const xs = u.data[0];
      for (let i = 0; i < n; i++) {
        const col = u.data[i + 1];
        const yTop = u.valToPos(n - i - 0.1, 'y', true);
        const yBot = u.valToPos(n - i - 0.9, 'y', true);
        let j = 0;
        while (j < xs.length) {
          const v = col[j];
          let k = j + 1;
          while (k < xs.length && col[k] === v) k++;
          if (v !== null && v !== undefined) {
            const x0 = u.valToPos(xs[j], 'x', true);
            const x1 = u.valToPos(k < xs.length ? xs[k] : xs[xs.length - 1], 'x', true);
            const w = Math.max(x1 - x0, px);
            ctx.fillStyle = STATE_FILL[v] || '#eee';
            ctx.fillRect(x0, yTop, w, yBot - yTop);
            ctx.strokeStyle = '#64748b';
            ctx.lineWidth = px;
            ctx.strokeRect(x0, yTop, w, yBot - yTop);
            const label = name(v);
            const tw = ctx.measureText(label).width;
            if (tw + 6 * px < w) {
              ctx.fillStyle = '#111827';
              ctx.fillText(label, Math.max(x0, left) + 3 * px, (yTop + yBot) / 2);
            }
          }
          j = k;
        }
      }
      ctx.restore();
    };
    return chart(fig, tl, group, {
      height: 70 + n * 30,
      draw: bands,
      scales: { y: { range: [0, n] } },
      series: lanes.map((l) => ({ label: l.name, stroke: '#64748b', paths: () => null, points: { show: false }, value: (u, v) => (v === null || v === undefined ? '–' : name(v)) })),
      axes: [{ splits: () => lanes.map((_l, i) => n - i - 0.5), values: (u, vals) => vals.map((v) => (lanes[laneOf(v)] ? lanes[laneOf(v)].name : '')), size: fitAxis, grid: { show: false }, ticks: { show: false } }],
    }, columns(tl, lanes.map((l) => l.pts), true));
  }

  function ringPlot(fig, ring, tl, group) {
    const pts = (vals) => ring.t.map((t, i) => [t, vals[i]]);
    return chart(fig, tl, group, {
      scales: { req: {}, idx: {} },
      series: [
        { label: 'in flight (req_prod − rsp_prod)', scale: 'req', stroke: COLORS[0], width: 1.5, paths: uPlot.paths.stepped({ align: 1 }), spanGaps: true, fill: 'rgba(31,95,191,0.08)', value: (u, v) => (v === null ? '–' : v + ' requests') },
        { label: 'requests produced', scale: 'idx', stroke: COLORS[2], width: 1.5, dash: [6, 3], spanGaps: true, value: (u, v) => (v === null ? '–' : fmtNum(v, 0)) },
        { label: 'responses produced', scale: 'idx', stroke: COLORS[1], width: 1.5, dash: [2, 2], spanGaps: true, value: (u, v) => (v === null ? '–' : fmtNum(v, 0)) },
      ],
      axes: [
        { scale: 'req', label: 'requests in flight', size: fitAxis, incrs: WHOLE, values: tickNum },
        { scale: 'idx', side: 1, label: 'indices moved', size: fitAxis, incrs: WHOLE, values: tickNum, grid: { show: false } },
      ],
    }, columns(tl, [pts(ring.occupancy), pts(ring.reqMoved), pts(ring.rspMoved)], false));
  }

    /** A workload as a level line over the time it ran (its result is one number for the whole run). */
  function spans(ws, value) {
    const out = [];
    for (const w of ws) {
      const v = value(w);
      if (v === undefined || v === null) continue;
      const start = Math.max(0, w.t - w.seconds * 1000);
      if (out.length) out.push([(out[out.length - 1][0] + start) / 2, null]);
      out.push([start, v], [w.t, v]);
    }
    return out;
  }
  const spanLine = { width: 3, points: { show: true, space: 0, size: 7 } };
  function throughputPlot(fig, tl, group) {
    const blk = spans(tl.workloads.filter((w) => w.kind === 'block'), (w) => w.mbps);
    const net = spans(tl.workloads.filter((w) => w.kind === 'net'), (w) => w.mbps);
    const series = [];
    const axes = [];
    const cols = [];
    const scales = {};
    if (blk.length) {
      scales.MBps = { range: (u, lo, hi) => [0, hi * 1.1 || 1] };
      series.push(Object.assign({ label: 'block', scale: 'MBps', stroke: COLORS[0], value: (u, v) => (v === null ? '–' : fmtNum(v, 1) + ' MB/s') }, spanLine));
      axes.push({ scale: 'MBps', label: 'block MB/s', size: fitAxis, values: tickNum });
      cols.push(blk);
    }
    if (net.length) {
      scales.Mbit = { range: (u, lo, hi) => [0, hi * 1.1 || 1] };
      series.push(Object.assign({ label: 'network', scale: 'Mbit', stroke: COLORS[2], dash: [8, 4], value: (u, v) => (v === null ? '–' : fmtNum(v, 1) + ' Mbit/s') }, spanLine));
      axes.push({ scale: 'Mbit', side: axes.length ? 1 : 3, label: 'network Mbit/s', size: fitAxis, values: tickNum, grid: { show: axes.length === 0 } });
      cols.push(net);
    }
    return chart(fig, tl, group, { scales, series, axes }, columns(tl, cols, false));
  }

  function latencyPlot(fig, tl, group) {
    const blk = tl.workloads.filter((w) => w.p99 !== undefined);
    return chart(fig, tl, group, {
      scales: { ms: { range: (u, lo, hi) => [0, hi * 1.1 || 1] } },
      series: [
        Object.assign({ label: 'p50', scale: 'ms', stroke: COLORS[0], value: (u, v) => (v === null ? '–' : fmtNum(v, 3) + ' ms') }, spanLine),
        Object.assign({ label: 'p99', scale: 'ms', stroke: COLORS[1], dash: [8, 4], value: (u, v) => (v === null ? '–' : fmtNum(v, 3) + ' ms') }, spanLine),
      ],
      axes: [{ scale: 'ms', label: 'latency ms', size: fitAxis, values: tickNum }],
    }, columns(tl, [spans(blk, (w) => w.p50), spans(blk, (w) => w.p99)], false));
  }

  // ---- trends ----
  function trendGrid(list) {
    const grid = h('div', { class: 'plots' });
    for (const t of list) {
      const title = `${t.scenario}: ${t.metric} (${t.unit})${t.baseline ? `; baseline ${fmtNum(t.baseline.low)}–${fmtNum(t.baseline.high)} ${t.unit}${t.baseline.method ? ' by ' + t.baseline.method : ''}` : ''}`;
      const fig = h('figure', { class: 'plot trend' }, h('figcaption', { text: title }));
      grid.append(fig);
      win.requestAnimationFrame(() => plots.push({ trend: t.scenario + ' ' + t.metric, title, u: trendPlot(fig, t) }));
    }
    return grid;
  }
  function trendPlot(fig, t) {
    const b = t.baseline;
    const vals = t.points.map((p) => p.value);
    const lo = Math.min(...vals, b ? b.low : Infinity);
    const hi = Math.max(...vals, b ? b.high : -Infinity);
    const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
    const band = (u) => {
      if (!b) return;
      const ctx = u.ctx;
      const y0 = u.valToPos(b.high, 'y', true);
      const y1 = u.valToPos(b.low, 'y', true);
      ctx.save();
      ctx.fillStyle = 'rgba(21,128,61,0.12)';
      ctx.fillRect(u.bbox.left, y0, u.bbox.width, y1 - y0);
      ctx.strokeStyle = 'rgba(21,128,61,0.6)';
      ctx.setLineDash([4 * uPlot.pxRatio, 3 * uPlot.pxRatio]);
      ctx.strokeRect(u.bbox.left, y0, u.bbox.width, y1 - y0);
      ctx.restore();
    };
    const width = chartWidth(fig);
    return new uPlot({
      width,
      height: 200,
      scales: { x: { time: false }, y: { range: [lo - pad, hi + pad] } },
      series: [
        { label: 'run', value: (u, i) => (i === null ? '–' : t.points[i] ? t.points[i].run + (t.points[i].build ? ' (build ' + t.points[i].build + ')' : '') + (t.points[i].at ? ' ' + t.points[i].at : '') : '') },
        { label: t.metric, stroke: COLORS[0], width: 1.5, points: { show: true, size: 6 }, value: (u, v) => (v === null ? '–' : fmtNum(v) + ' ' + t.unit) },
        // runs outside the baseline band: a larger hollow red ring on top of the point, named in the legend
        { label: 'outside the baseline band', stroke: '#b91c1c', width: 2, paths: () => null, points: { show: true, space: 0, size: 13, width: 2.5, fill: 'transparent' }, value: (u, v) => (v === null ? '–' : fmtNum(v) + ' ' + t.unit) },
      ],
      axes: [
        { label: 'run (oldest to newest)', values: (u, vs) => vs.map((v) => (Number.isInteger(v) ? '#' + (v + 1) : '')), size: 32, labelSize: 22 },
        { label: t.unit, size: fitAxis, values: tickNum },
      ],
      hooks: { drawClear: [band] },
      plugins: [tooltip(null)],
    }, [t.points.map((_p, i) => i), vals, vals.map((v) => (b && (v < b.low || v > b.high) ? v : null))], fig);
  }

  // ---- keyboard: "/" to search, j/k between instances ----
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

  // ---- print: every matching instance listed, charts at the page's width ----
  win.addEventListener('beforeprint', () => renderMore(true));
  let resizing;
  win.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      for (const p of plots) {
        const fig = p.u.root.parentElement;
        const w = chartWidth(fig);
        if (w !== p.u.width) p.u.setSize({ width: w, height: p.u.height });
      }
    }, 150);
  });

  // ---- start ----
  win.addEventListener('hashchange', () => {
    readHash();
    syncControls();
    renderList();
  });
  readHash();
  syncControls();
  renderList();
  if (data.trends.length) {
    const host = doc.getElementById('trends');
    host.hidden = false;
    host.append(trendGrid(data.trends));
  }
  if (win.performance && win.performance.mark) win.performance.mark('winpv-ready');
  doc.documentElement.dataset.ready = '1';
}
/* c8 ignore stop */
