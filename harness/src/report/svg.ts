// Tiny inline-SVG plotting for report.html: a step/line chart and a bar chart, no scripts, no
// external resources, so the report is one self-contained file.
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const W = 640;
const H = 160;
const PAD = { l: 48, r: 12, t: 12, b: 24 };

export interface Series {
  label: string;
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/** Keeps at most max points (every k-th, always the last), so a long run stays a small file. */
function thin(points: [number, number][], max = 400): [number, number][] {
  if (points.length <= max) return points;
  const k = Math.ceil(points.length / max);
  const out = points.filter((_, i) => i % k === 0);
  if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1]);
  return out;
}

export function stepChart(title: string, series: Series[], opts: { yLabel: string; yTicks?: Record<number, string> } = { yLabel: '' }): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return '';
  const x0 = Math.min(...all.map((p) => p[0]));
  const x1 = Math.max(...all.map((p) => p[0]), x0 + 1);
  const y1 = Math.max(...all.map((p) => p[1]), 1);
  const sx = (x: number) => PAD.l + ((x - x0) / (x1 - x0)) * (W - PAD.l - PAD.r);
  const sy = (y: number) => H - PAD.b - (y / y1) * (H - PAD.t - PAD.b);
  const paths = series.map((s, i) => {
    const pts = thin(s.points);
    let d = '';
    pts.forEach(([x, y], j) => {
      d += j === 0 ? `M${sx(x).toFixed(1)},${sy(y).toFixed(1)}` : `H${sx(x).toFixed(1)}V${sy(y).toFixed(1)}`;
    });
    return `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.2"><title>${esc(s.label)}</title></path>`;
  });
  const ticks = opts.yTicks
    ? Object.entries(opts.yTicks).map(([v, l]) => `<text x="${PAD.l - 4}" y="${sy(Number(v)) + 3}" text-anchor="end">${esc(l)}</text>`)
    : [`<text x="${PAD.l - 4}" y="${sy(y1) + 3}" text-anchor="end">${y1}</text>`, `<text x="${PAD.l - 4}" y="${sy(0) + 3}" text-anchor="end">0</text>`];
  const legend = series.slice(0, 8).map((s, i) => `<span style="color:${COLORS[i % COLORS.length]}">&#9632; ${esc(s.label)}</span>`).join(' ');
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-size="10" font-family="sans-serif"><rect x="${PAD.l}" y="${PAD.t}" width="${W - PAD.l - PAD.r}" height="${H - PAD.t - PAD.b}" fill="#fafafa" stroke="#ccc"/>${ticks.join('')}<text x="${PAD.l}" y="${H - 8}">${(x0 / 1000).toFixed(1)} s</text><text x="${W - PAD.r}" y="${H - 8}" text-anchor="end">${(x1 / 1000).toFixed(1)} s</text><text x="4" y="${PAD.t + 8}">${esc(opts.yLabel)}</text>${paths.join('')}</svg><div class="legend">${legend}${series.length > 8 ? ` (+${series.length - 8} more)` : ''}</div></figure>`;
}

export function barChart(title: string, bars: { label: string; value: number }[], unit: string): string {
  if (bars.length === 0) return '';
  const max = Math.max(...bars.map((b) => b.value), 1);
  const rowH = 18;
  const h = bars.length * rowH + 8;
  const rows = bars.map((b, i) => {
    const w = (b.value / max) * (W - 260);
    return `<text x="4" y="${i * rowH + 16}">${esc(b.label)}</text><rect x="200" y="${i * rowH + 5}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLORS[0]}"/><text x="${204 + w}" y="${i * rowH + 16}">${b.value.toFixed(1)} ${esc(unit)}</text>`;
  });
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" font-size="10" font-family="sans-serif">${rows.join('')}</svg></figure>`;
}
