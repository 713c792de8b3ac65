// The bench's figures as JSON (one file per run, plus latest.json), and the comparison with the
// previous run that CI prints as warnings. Performance is never asserted: a slowdown is a WARNING
// line for a person to read, and the JSON is what a results history keeps.
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, arch, totalmem } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write';
import type { BenchFigure } from './figure';

export const BENCH_JSON_VERSION = 1;

export interface MachineInfo {
  platform: string;
  release: string;
  arch: string;
  cpus: number;
  cpuModel: string;
  memGiB: number;
  node: string;
  /** 1, 5 and 15 minute load averages when the run started and ended: how shared the machine was. */
  loadStart: number[];
  loadEnd: number[];
}

export interface BenchFigureJson extends Omit<BenchFigure, 'ratio'> {
  /** null where no ratio could be formed (JSON has no NaN). */
  ratio: number | null;
  /** The command that measures this figure again. */
  command: string;
}

export interface BenchRun {
  version: number;
  startedAt: string;
  endedAt: string;
  /** The modules run, in order. */
  modules: string[];
  machine: MachineInfo;
  figures: BenchFigureJson[];
  /** Modules that threw, with the message. */
  failures: { module: string; error: string }[];
}

export function machineInfo(loadStart: number[]): MachineInfo {
  const c = cpus();
  return {
    platform: platform(),
    release: release(),
    arch: arch(),
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadStart: loadStart.map((l) => Math.round(l * 100) / 100),
    loadEnd: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** A figure as stored: NaN ratios become null, and each says how to measure it again. */
export function figureJson(f: BenchFigure, module: string): BenchFigureJson {
  return { ...f, ratio: f.ratio !== undefined && Number.isFinite(f.ratio) ? f.ratio : null, command: `npm run bench ${module}` };
}

/** Reads a bench JSON file written by an earlier run; an error names the file and what is wrong. */
export function readBenchRun(path: string): BenchRun {
  let o: unknown;
  try {
    o = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not a bench JSON file (${(e as Error).message})`);
  }
  const r = o as Partial<BenchRun>;
  if (typeof o !== 'object' || o === null || r.version !== BENCH_JSON_VERSION || !Array.isArray(r.figures)) {
    throw new Error(`${path}: not a bench JSON file of version ${BENCH_JSON_VERSION} (needs "version" and "figures")`);
  }
  for (const [i, f] of r.figures.entries()) {
    if (typeof f?.group !== 'string' || typeof f.name !== 'string' || typeof f.value !== 'number') {
      throw new Error(`${path}: figures[${i}] needs a string "group" and "name" and a number "value"`);
    }
  }
  return r as BenchRun;
}

/**
 * Writes the run as DIR/<startedAt>.json and DIR/latest.json (both atomically); returns the first.
 * The timestamp has no colons so the name is valid on every file system.
 */
export function writeBenchRun(dir: string, run: BenchRun): string {
  const text = JSON.stringify(run, null, 2) + '\n';
  const path = join(dir, `${run.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileAtomic(path, text);
  writeFileAtomic(join(dir, 'latest.json'), text);
  return path;
}

export interface Slowdown {
  group: string;
  name: string;
  /** What was compared: the ratio against the same-run baseline, or the raw value. */
  measure: 'ratio' | 'value';
  previous: number;
  current: number;
  unit: string;
  /** How many times worse (1.25: 25 % worse). */
  worse: number;
}

/**
 * Figures of `current` more than `threshold` (0.2: 20 %) worse than the same figure (same group, name
 * and unit) of `previous`. Where both runs have a ratio against a baseline measured in the same run,
 * the ratio is compared (the machine's load moves value and baseline together, so the ratio is the
 * less noisy of the two); otherwise the value, in its own direction (lowerIsBetter).
 */
export function findSlowdowns(previous: Pick<BenchRun, 'figures'>, current: Pick<BenchRun, 'figures'>, threshold = 0.2): Slowdown[] {
  const key = (f: { group: string; name: string; unit: string }) => `${f.group}\u0000${f.name}\u0000${f.unit}`;
  const before = new Map(previous.figures.map((f) => [key(f), f]));
  const out: Slowdown[] = [];
  for (const f of current.figures) {
    const p = before.get(key(f));
    if (!p) continue;
    let s: Slowdown | undefined;
    const base = { group: f.group, name: f.name, unit: f.unit };
    if (isPositive(p.ratio) && isPositive(f.ratio)) {
      s = { ...base, measure: 'ratio', previous: p.ratio, current: f.ratio, worse: p.ratio / f.ratio };
    } else if (isPositive(p.value) && isPositive(f.value)) {
      const worse = f.lowerIsBetter ? f.value / p.value : p.value / f.value;
      s = { ...base, measure: 'value', previous: p.value, current: f.value, worse };
    }
    if (s && s.worse > 1 + threshold) out.push(s);
  }
  return out;
}

function isPositive(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

const num = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2));

export function formatSlowdown(s: Slowdown, previousAt?: string): string {
  const what = s.measure === 'ratio' ? `ratio ${num(s.current)}x, was ${num(s.previous)}x` : `${num(s.current)} ${s.unit}, was ${num(s.previous)} ${s.unit}`;
  const howMuch = s.worse >= 2 ? `${s.worse.toFixed(1)}x` : `${Math.round((s.worse - 1) * 100)} %`;
  return `WARNING: ${s.group} ${s.name}: ${howMuch} worse than the previous run${previousAt ? ` (${previousAt})` : ''}: ${what}`;
}

/** The previous run to compare with: the given file, or DIR/latest.json if there is one. */
export function previousRunPath(dir: string, given?: string): string | undefined {
  if (given) return given;
  const latest = join(dir, 'latest.json');
  return existsSync(latest) ? latest : undefined;
}
