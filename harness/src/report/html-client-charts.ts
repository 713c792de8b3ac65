// @ts-nocheck -- these functions run in the browser, not in Node: report.html inlines their source
// with the page script's (html-client.ts `pageScript()` lists CHART_PARTS), all declared in one
// scope; the page calls `pageCharts(window, kit)` with the helpers the charts share with the list and
// reaches the charts through what it returns. The repository's compiler settings carry no DOM
// library, so they are not type-checked; the browser tests (harness/test/report/browser.test.ts) run
// them in Chromium. Each must refer to nothing outside its own body but its arguments and the other
// parts, which it calls by name; what the charts share (uPlot, the page data, the colours, the
// helpers) is one object (`ck`, made by pageCharts) passed along.
//
// What it draws, with uPlot: an instance's XenbusState swimlanes, ring occupancy and index movement,
// workload throughput and latency (markers for lifecycle, faults and steps; zoom kept in step across
// one instance's charts; tooltips), and the trends of a results history with their baseline band.

/* c8 ignore start -- runs in the page, covered by the browser tests, not by Node's coverage */
/** The charts' entry: what they share, and the charts the page draws (each taking its own arguments). */
export function pageCharts(win, kit) {
  const { data, COLORS, plots, h, fmtNum } = kit;
  const uPlot = win.uPlot;
  const ck = {
    win, uPlot, data, COLORS, plots, h, fmtNum,
    fitAxis: axisFitter(uPlot),
    MARK_GLYPH: { lifecycle: '◆', fault: '⚡', step: '▸' },
    MARK_DASH: { lifecycle: [], fault: [6, 3], step: [2, 3] },
    MARK_COLOR: { lifecycle: '#444', fault: '#b45309', step: '#6b7280' },
    /** Counts (requests, indices) tick at whole numbers only. */
    WHOLE: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9],
    // XenbusState fills: each state its own colour, and its name written in the band wherever it fits
    STATE_FILL: ['#ffffff', '#dbe4f0', '#fde68a', '#bfdbfe', '#86efac', '#fdba74', '#cbd5e1', '#e9d5ff', '#e9d5ff'],
    spanLine: { width: 3, points: { show: true, space: 0, size: 7 } },
  };
  return {
    MARK_GLYPH: ck.MARK_GLYPH,
    chartWidth: (fig) => chartWidth(win, fig),
    swimlanePlot: (fig, tl, group) => swimlanePlot(ck, fig, tl, group),
    ringPlot: (fig, ring, tl, group) => ringPlot(ck, fig, ring, tl, group),
    throughputPlot: (fig, tl, group) => throughputPlot(ck, fig, tl, group),
    latencyPlot: (fig, tl, group) => latencyPlot(ck, fig, tl, group),
    trendGrid: (list) => trendGrid(ck, list),
  };
}

/** A y axis wide enough for its longest tick label, so no label is cut (uPlot's own default is a fixed 50 px). */
function axisFitter(uPlot) {
  return function fitAxis(u, values, axisIdx, cycleNum) {
    const axis = u.axes[axisIdx];
    let widest = 0;
    u.ctx.font = axis.font[0];
    for (const v of values || []) if (v !== null && v !== '') widest = Math.max(widest, u.ctx.measureText(String(v)).width / uPlot.pxRatio);
    const size = Math.ceil(axis.ticks.size + axis.gap + widest) + 2;
    // uPlot sizes axes in rounds; the ticks of a later round may be wider, so a size only grows
    return cycleNum > 1 ? Math.max(size, axis._size || 0) : size;
  };
}
/** The width a chart gets: its figure's content box (padding excluded), within bounds. */
function chartWidth(win, fig) {
  const cs = win.getComputedStyle(fig);
  const inner = fig.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  return Math.floor(Math.max(280, Math.min(inner || 640, 1100)));
}
/** Axis numbers: no trailing zeros, thousands grouped. */
function tickNum(u, vals) {
  return vals.map((v) => (v === null ? '' : Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(+v.toFixed(3))));
}
function timeTick(u, vals) {
  return vals.map((v) => (v === null ? '' : +v.toFixed(3) + ' s'));
}

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

/** Draws the timeline's markers (dashed lines) and failures (red bands) over a chart. */
function markersHook(ck, tl) {
  return (u) => {
    const { uPlot } = ck;
    const ctx = clipToPlot(u);
    const { left, top, width, height } = u.bbox;
    ctx.lineWidth = uPlot.pxRatio;
    for (const m of tl.markers) {
      const x = Math.round(u.valToPos(m.t / 1000, 'x', true));
      if (x < left || x > left + width) continue;
      ctx.strokeStyle = ck.MARK_COLOR[m.kind];
      ctx.setLineDash(ck.MARK_DASH[m.kind].map((d) => d * uPlot.pxRatio));
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
function tooltip(ck, tl) {
  let box;
  return {
    hooks: {
      init: (u) => {
        box = ck.h('div', { class: 'tip', role: 'status' });
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
        box.textContent = tooltipLines(ck, u, tl, idx, u.posToVal(left, 'x')).join('\n');
        box.style.display = 'block';
        const w = u.over.clientWidth;
        box.style.left = (left > w / 2 ? left - box.offsetWidth - 10 : left + 10) + 'px';
        box.style.top = Math.max(0, top - 10) + 'px';
      },
    },
  };
}
/** The tooltip's text at data index `idx` (time `x`): the time, each shown series' value, the markers near. */
function tooltipLines(ck, u, tl, idx, x) {
  const lines = [u.series[0].value(u, u.data[0][idx])];
  for (let i = 1; i < u.series.length; i++) {
    const s = u.series[i];
    if (!s.show) continue;
    const v = u.data[i][idx];
    if (v !== null && v !== undefined) lines.push(s.label + ': ' + s.value(u, v));
  }
  if (tl) {
    const near = (u.scales.x.max - u.scales.x.min) * 0.01;
    for (const m of tl.markers) if (Math.abs(m.t / 1000 - x) <= near) lines.push(ck.MARK_GLYPH[m.kind] + ' ' + m.label);
    for (const f of tl.failures) if (f.t !== undefined && Math.abs(f.t / 1000 - x) <= near) lines.push('✕ ' + f.check + ' failed here');
  }
  return lines;
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

function chart(ck, fig, tl, group, opts, cols) {
  const width = chartWidth(ck.win, fig);
  const base = {
    width,
    height: opts.height || 220,
    scales: Object.assign({ x: { time: false } }, opts.scales || {}),
    series: [{ label: 'time', value: (u, v) => (v === null || v === undefined ? '–' : +v.toFixed(3) + ' s') }].concat(opts.series),
    axes: [{ label: 'time (s)', values: timeTick, size: 32, labelSize: 22 }].concat(opts.axes),
    cursor: { drag: { x: true, y: false }, sync: tl ? { key: 'tl' + tl.t0 + ':' + tl.t1 } : undefined },
    legend: { live: true },
    hooks: { draw: [opts.draw, tl && markersHook(ck, tl)].filter(Boolean), setScale: tl ? [zoomSync(group)] : [] },
    plugins: [tooltip(ck, tl)],
  };
  return new ck.uPlot(base, cols, fig);
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

/** One lane per device end (frontend and backend of each device), bands of XenbusState over time. */
function swimlanePlot(ck, fig, tl, group) {
  const lanes = [];
  for (const d of tl.devices) lanes.push({ name: d.name + ' frontend', pts: d.frontend }, { name: d.name + ' backend', pts: d.backend });
  const n = lanes.length;
  const name = (v) => (v === 0 ? 'Unknown/removed' : ck.data.stateNames[v] || 'state ' + v);
  const laneOf = (y) => n - 1 - Math.floor(y); // lane 0 at the top
  return chart(ck, fig, tl, group, {
    height: 70 + n * 30,
    draw: (u) => drawStateBands(ck, u, n, name),
    scales: { y: { range: [0, n] } },
    series: lanes.map((l) => ({ label: l.name, stroke: '#64748b', paths: () => null, points: { show: false }, value: (u, v) => (v === null || v === undefined ? '–' : name(v)) })),
    axes: [{ splits: () => lanes.map((_l, i) => n - i - 0.5), values: (u, vals) => vals.map((v) => (lanes[laneOf(v)] ? lanes[laneOf(v)].name : '')), size: ck.fitAxis, grid: { show: false }, ticks: { show: false } }],
  }, columns(tl, lanes.map((l) => l.pts), true));
}
/** Each of the `n` lanes as bands, one a run of the same state, named (`name`) where the name fits. */
function drawStateBands(ck, u, n, name) {
  const ctx = clipToPlot(u);
  const px = ck.uPlot.pxRatio;
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
        ctx.fillStyle = ck.STATE_FILL[v] || '#eee';
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
}

function ringPlot(ck, fig, ring, tl, group) {
  const { COLORS, fmtNum, fitAxis, WHOLE } = ck;
  const pts = (vals) => ring.t.map((t, i) => [t, vals[i]]);
  return chart(ck, fig, tl, group, {
    scales: { req: {}, idx: {} },
    series: [
      { label: 'in flight (req_prod − rsp_prod)', scale: 'req', stroke: COLORS[0], width: 1.5, paths: ck.uPlot.paths.stepped({ align: 1 }), spanGaps: true, fill: 'rgba(31,95,191,0.08)', value: (u, v) => (v === null ? '–' : v + ' requests') },
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
function throughputPlot(ck, fig, tl, group) {
  const { COLORS, fmtNum, fitAxis, spanLine } = ck;
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
  return chart(ck, fig, tl, group, { scales, series, axes }, columns(tl, cols, false));
}

function latencyPlot(ck, fig, tl, group) {
  const { COLORS, fmtNum, spanLine } = ck;
  const blk = tl.workloads.filter((w) => w.p99 !== undefined);
  return chart(ck, fig, tl, group, {
    scales: { ms: { range: (u, lo, hi) => [0, hi * 1.1 || 1] } },
    series: [
      Object.assign({ label: 'p50', scale: 'ms', stroke: COLORS[0], value: (u, v) => (v === null ? '–' : fmtNum(v, 3) + ' ms') }, spanLine),
      Object.assign({ label: 'p99', scale: 'ms', stroke: COLORS[1], dash: [8, 4], value: (u, v) => (v === null ? '–' : fmtNum(v, 3) + ' ms') }, spanLine),
    ],
    axes: [{ scale: 'ms', label: 'latency ms', size: ck.fitAxis, values: tickNum }],
  }, columns(tl, [spans(blk, (w) => w.p50), spans(blk, (w) => w.p99)], false));
}

// ---- trends ----
function trendGrid(ck, list) {
  const { h, fmtNum } = ck;
  const grid = h('div', { class: 'plots' });
  for (const t of list) {
    const title = `${t.scenario}: ${t.metric} (${t.unit})${t.baseline ? `; baseline ${fmtNum(t.baseline.low)}–${fmtNum(t.baseline.high)} ${t.unit}${t.baseline.method ? ' by ' + t.baseline.method : ''}` : ''}`;
    const fig = h('figure', { class: 'plot trend' }, h('figcaption', { text: title }));
    grid.append(fig);
    ck.win.requestAnimationFrame(() => ck.plots.push({ trend: t.scenario + ' ' + t.metric, title, u: trendPlot(ck, fig, t) }));
  }
  return grid;
}
/** One metric over the runs of a results history, its baseline band behind, the runs outside it ringed. */
function trendPlot(ck, fig, t) {
  const { COLORS, fmtNum } = ck;
  const b = t.baseline;
  const vals = t.points.map((p) => p.value);
  const lo = Math.min(...vals, b ? b.low : Infinity);
  const hi = Math.max(...vals, b ? b.high : -Infinity);
  const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
  const width = chartWidth(ck.win, fig);
  return new ck.uPlot({
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
      { label: t.unit, size: ck.fitAxis, values: tickNum },
    ],
    hooks: { drawClear: [(u) => drawBaselineBand(ck, u, b)] },
    plugins: [tooltip(ck, null)],
  }, [t.points.map((_p, i) => i), vals, vals.map((v) => (b && (v < b.low || v > b.high) ? v : null))], fig);
}
/** The baseline band `b` (if any) behind a trend's points. */
function drawBaselineBand(ck, u, b) {
  if (!b) return;
  const ctx = u.ctx;
  const y0 = u.valToPos(b.high, 'y', true);
  const y1 = u.valToPos(b.low, 'y', true);
  ctx.save();
  ctx.fillStyle = 'rgba(21,128,61,0.12)';
  ctx.fillRect(u.bbox.left, y0, u.bbox.width, y1 - y0);
  ctx.strokeStyle = 'rgba(21,128,61,0.6)';
  ctx.setLineDash([4 * ck.uPlot.pxRatio, 3 * ck.uPlot.pxRatio]);
  ctx.strokeRect(u.bbox.left, y0, u.bbox.width, y1 - y0);
  ctx.restore();
}
/* c8 ignore stop */

/** The charts' parts, in the order they are written into the page (each calls the others by name). */
export const CHART_PARTS = [pageCharts, axisFitter, chartWidth, tickNum, timeTick, clipToPlot, markersHook, tooltip, tooltipLines, zoomSync, chart, columns, swimlanePlot, drawStateBands, ringPlot, spans, throughputPlot, latencyPlot, trendGrid, trendPlot, drawBaselineBand];
