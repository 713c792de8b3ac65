// What a run directory says, as the store records it: run metadata from summary.json, and from the
// trace each instance's workload figures and lifecycle timings. Reports stay the source: the same
// function serves `winpv run` (recording as it ends) and `winpv results import` (later), so the two
// cannot disagree.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { inputError } from '../model/errors';
import type { MetricValue } from '../model/results';
import type { InstanceResult } from '../model/result';
import type { TraceEvent } from '../model/trace';
import { readTraceFile } from '../trace/reader';
import { MetricsFold } from '../model/metrics';
import { baseInstance } from '../model/outcomes';

export interface RunRecord {
  runId: string;
  startedAt: string;
  finishedAt?: string;
  seed: number;
  hostKind: string;
  hostLabel: string;
  pool?: string;
  windowsBuild: string;
  driverVersion: string;
  driverBuild?: string;
  harnessVersion: string;
  shard?: string;
  complete: boolean;
  counts: { passed: number; failed: number; skipped: number; flaky: number };
  instances: InstanceRecord[];
}

export interface InstanceRecord {
  inst: string;
  scenario: string;
  verdict: string;
  attempts: number;
  flaky: boolean;
  known?: string;
  durationMs: number;
  checks: { check: string; verdict: string; message: string }[];
  metrics: MetricValue[];
}

export interface SummaryFile {
  schema?: string;
  runId?: string;
  startedAt?: string;
  finishedAt?: string;
  seed?: number;
  host?: { kind: string; label: string };
  complete?: boolean;
  shard?: { index: number; count: number };
  harnessVersion?: string;
  counts?: { passed: number; failed: number; skipped: number; flaky?: number };
  instances?: InstanceResult[];
}

/** Reads reports/<run>/summary.json and trace.jsonl into a record. */
export function readRunDir(dir: string, harnessVersion = 'unknown'): RunRecord {
  const sfile = join(dir, 'summary.json');
  if (!existsSync(sfile)) throw inputError('RESULTS_NO_SUMMARY', `${dir} holds no summary.json: not a winpv run directory`, [], { file: sfile });
  let s: SummaryFile;
  try {
    s = JSON.parse(readFileSync(sfile, 'utf8')) as SummaryFile;
  } catch (e) {
    throw inputError('RESULTS_BAD_SUMMARY', `summary.json is not valid JSON: ${(e as Error).message}`, [], { file: sfile });
  }
  if (s.schema !== 'winpv-summary/1' || !s.host || !Array.isArray(s.instances) || typeof s.seed !== 'number') {
    throw inputError('RESULTS_BAD_SUMMARY', `summary.json is not a winpv-summary/1 file (schema, host, seed and instances are needed)`, [], { file: sfile });
  }
  const tfile = join(dir, 'trace.jsonl');
  const events = existsSync(tfile) ? readTraceFile(tfile).events : [];
  return recordFromRun(s, events, s.runId ?? basename(dir), harnessVersion);
}

export function recordFromRun(s: SummaryFile, events: readonly TraceEvent[], runId: string, harnessVersion: string): RunRecord {
  const d = new RunRecordDigest();
  for (const e of events) d.add(e);
  return d.record(s, runId, harnessVersion);
}

/** One section's share of the record, gathered where its events are (a worker process's digest):
 *  the driver versions and guest images its events name, and its instance's metrics. */
export interface RecordPiece {
  inst: string;
  versions: string[];
  images: (string | null)[];
  metrics: MetricValue[];
}

/** What the store records of a run's events, gathered one event at a time: `winpv run` feeds it as
 *  its trace streams and tells it each instance as the runner judges it (whose metrics are then
 *  folded and kept, its fold let go); `winpv results import` feeds it a trace file (recordFromRun).
 *  An event naming an instance after that instance was judged is left out, as the runner leaves it
 *  out of the instance's verdicts. */
export class RunRecordDigest {
  /** Metrics of the instances (by `inst`) not judged yet, and of those judged. */
  private readonly open = new Map<string, MetricsFold>();
  private readonly ended = new Map<string, MetricValue[]>();
  private readonly versions = new Set<string>();
  /** The images of the run's Windows guests; null for a guest that names none. */
  private readonly images = new Set<string | null>();

  add(e: TraceEvent): void {
    if (e.ev === 'drivers' && e.expected?.version) this.versions.add(e.expected.version);
    if (e.ev === 'scenario.start') for (const g of e.guests) if (g.os === 'windows') this.images.add(g.image ?? null);
    const inst = (e as { inst?: string }).inst;
    if (inst === undefined || this.ended.has(inst)) return;
    let f = this.open.get(inst);
    if (!f) this.open.set(inst, (f = new MetricsFold()));
    f.add(e);
  }

  /** An instance was judged (its retries folded in): its metrics are kept, its folds and its retries' let go. */
  instanceEnded(r: { inst: string }): void {
    this.end(r.inst);
    for (const k of [...this.open.keys()]) if (baseInstance(k) === r.inst) this.open.delete(k);
  }

  /** Of a worker process's digest fed one section: the piece of instance `inst` (its retries' events let go). */
  piece(inst: string): RecordPiece {
    return { inst, versions: [...this.versions], images: [...this.images], metrics: this.end(inst) };
  }

  /** A section gathered by a worker process, in place of its events. */
  addPiece(p: RecordPiece): void {
    for (const v of p.versions) this.versions.add(v);
    for (const i of p.images) this.images.add(i);
    if (!this.ended.has(p.inst)) this.ended.set(p.inst, p.metrics);
  }

  private end(inst: string): MetricValue[] {
    let m = this.ended.get(inst);
    if (!m) {
      this.ended.set(inst, (m = this.open.get(inst)?.values() ?? []));
      this.open.delete(inst);
    }
    return m;
  }

  /** The run's record from its summary and the events given. */
  record(s: SummaryFile, runId: string, harnessVersion: string): RunRecord {
    const images = new Set([...this.images].map((i) => i ?? (s.host!.kind === 'sim' ? 'sim' : 'unknown')));
    const instances: InstanceRecord[] = (s.instances ?? []).map((r) => ({
      inst: r.inst,
      scenario: r.scenario,
      verdict: r.verdict,
      attempts: r.attempts ?? 1,
      flaky: r.flaky === true,
      known: r.known?.issue,
      durationMs: r.durationMs,
      checks: r.checks.map((c) => ({ check: c.check, verdict: c.verdict, message: c.message })),
      metrics: this.end(r.inst),
    }));
    return {
      runId,
      startedAt: s.startedAt ?? new Date(0).toISOString(),
      finishedAt: s.finishedAt,
      seed: s.seed!,
      hostKind: s.host!.kind,
      hostLabel: s.host!.label,
      pool: s.host!.kind === 'xapi' ? s.host!.label : undefined,
      windowsBuild: [...images].sort().join(',') || (s.host!.kind === 'sim' ? 'sim' : 'unknown'),
      driverVersion: [...this.versions].sort().join(',') || 'none',
      harnessVersion: s.harnessVersion ?? harnessVersion,
      shard: s.shard ? `${s.shard.index}/${s.shard.count}` : undefined,
      complete: s.complete === true,
      counts: { passed: s.counts?.passed ?? 0, failed: s.counts?.failed ?? 0, skipped: s.counts?.skipped ?? 0, flaky: s.counts?.flaky ?? 0 },
      instances,
    };
  }
}
