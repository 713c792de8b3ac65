// Regression verdicts from statistics, not fixed numbers. The new value(s) of a metric are compared
// with its baseline window (the last N comparable runs):
// - one new value: a bootstrap prediction interval. Each of B resamples draws a baseline median
//   (resampled runs) plus one residual (the spread of a single run), so the interval holds both
//   the uncertainty of the baseline's centre and the noise of one run; the change is significant
//   when its (1 - alpha) interval excludes 0.
// - several new values (repeats): Mann-Whitney U, normal approximation with tie correction.
// `fail` only when the change is significant, in the worse direction, AND larger than the
// tolerance; fewer than minHistory runs is `skip` with the reason, never a pass. The resampling is
// seeded (mulberry32), so the same inputs give the same verdict.
import type { RegressionVerdict } from './results';
import { mulberry32 } from './mulberry32';

export interface RegressionOptions {
  /** Relative change that matters, e.g. 0.05 = 5 %. */
  tolerance: number;
  better: 'higher' | 'lower';
  alpha?: number;
  minHistory?: number;
  resamples?: number;
  seed?: number;
}


export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Bootstrap (1 - alpha) interval of the relative change of one new value from the baseline. */
function bootstrapChange(baseline: readonly number[], value: number, opts: { alpha: number; resamples: number; seed: number }): [number, number] {
  const rnd = mulberry32(opts.seed);
  const n = baseline.length;
  const centre = median(baseline);
  const resid = baseline.map((x) => x - centre);
  const changes: number[] = [];
  const buf = new Array<number>(n);
  for (let b = 0; b < opts.resamples; b++) {
    for (let i = 0; i < n; i++) buf[i] = baseline[Math.floor(rnd() * n)];
    const predicted = median(buf) + resid[Math.floor(rnd() * n)];
    changes.push(value / predicted - 1);
  }
  changes.sort((a, b) => a - b);
  return [quantile(changes, opts.alpha / 2), quantile(changes, 1 - opts.alpha / 2)];
}

/** Two-sided Mann-Whitney U p-value (normal approximation, tie-corrected, continuity-corrected). */
export function mannWhitneyP(a: readonly number[], b: readonly number[]): number {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(all.length);
  let tie = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].v === all[i].v) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[k] = r;
    const t = j - i + 1;
    tie += t * t * t - t;
    i = j + 1;
  }
  const n1 = a.length;
  const n2 = b.length;
  const r1 = all.reduce((s, x, k) => (x.g === 0 ? s + ranks[k] : s), 0);
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const mu = (n1 * n2) / 2;
  const n = n1 + n2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tie / (n * (n - 1))));
  if (sigma === 0) return 1;
  const z = (Math.abs(u - mu) - 0.5) / sigma;
  return Math.min(1, 2 * (1 - normalCdf(Math.max(0, z))));
}

function normalCdf(z: number): number {
  // Abramowitz & Stegun 7.1.26 for erf
  const x = z / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return 0.5 * (1 + y);
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;

/** Judges new value(s) of `metric` against its baseline window (oldest first). */
export function judgeRegression(metric: string, baseline: readonly number[], current: readonly number[], o: RegressionOptions): RegressionVerdict {
  const alpha = o.alpha ?? 0.05;
  const minHistory = o.minHistory ?? 8;
  const method = current.length >= 3 ? 'mann-whitney' as const : 'bootstrap' as const;
  const base = { metric, method, baselineRuns: baseline.length, tolerance: o.tolerance };
  if (current.length === 0) return { ...base, verdict: 'skip', message: `${metric}: no new value to judge` };
  if (baseline.length < minHistory) {
    return { ...base, verdict: 'skip', message: `${metric}: too little history (${baseline.length} comparable run${baseline.length === 1 ? '' : 's'}, ${minHistory} needed)` };
  }
  const centre = median(baseline);
  const now = median(current);
  if (centre === 0) return { ...base, verdict: 'skip', message: `${metric}: the baseline median is 0, a relative change means nothing` };
  const change = now / centre - 1;
  const worse = o.better === 'higher' ? change < 0 : change > 0;
  let significant: boolean;
  let stat: string;
  let ci: [number, number] | undefined;
  let p: number | undefined;
  if (method === 'bootstrap') {
    ci = bootstrapChange(baseline, now, { alpha, resamples: o.resamples ?? 2000, seed: o.seed ?? 1 });
    significant = ci[0] > 0 || ci[1] < 0;
    stat = `bootstrap ${((1 - alpha) * 100).toFixed(0)}% CI [${pct(ci[0])}, ${pct(ci[1])}]`;
  } else {
    p = mannWhitneyP(current, baseline);
    significant = p < alpha;
    stat = `Mann-Whitney U p=${p.toPrecision(2)}`;
  }
  const beyond = Math.abs(change) > o.tolerance;
  const fail = significant && worse && beyond;
  const why = fail ? 'regression' : !significant ? 'not significant' : !worse ? 'improvement' : `within tolerance ±${(o.tolerance * 100).toFixed(1)}%`;
  return {
    ...base, verdict: fail ? 'fail' : 'pass', change, significant, ...(ci ? { ci } : {}), ...(p !== undefined ? { p } : {}),
    message: `${metric}: ${pct(change)} vs median ${+centre.toPrecision(6)} of ${baseline.length} runs (${stat}; tolerance ${(o.tolerance * 100).toFixed(1)}%): ${why}`,
  };
}
