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

interface SummaryFile {
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

/** Reads reports/<run>/summary.json and trace.jsonl (or takes the events a live run still holds) into a record. */
export function readRunDir(dir: string, harnessVersion = 'unknown', liveEvents?: readonly TraceEvent[]): RunRecord {
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
  const events = liveEvents ?? (existsSync(tfile) ? readTraceFile(tfile).events : []);
  return recordFromRun(s, events, s.runId ?? basename(dir), harnessVersion);
}

export function recordFromRun(s: SummaryFile, events: readonly TraceEvent[], runId: string, harnessVersion: string): RunRecord {
  const byInst = new Map<string, TraceEvent[]>();
  for (const e of events) {
    const inst = (e as { inst?: string }).inst;
    if (inst !== undefined) (byInst.get(inst) ?? byInst.set(inst, []).get(inst)!).push(e);
  }
  const versions = new Set<string>();
  const images = new Set<string>();
  for (const e of events) {
    if (e.ev === 'drivers' && e.expected?.version) versions.add(e.expected.version);
    if (e.ev === 'scenario.start') for (const g of e.guests) if (g.os === 'windows') images.add(g.image ?? (s.host!.kind === 'sim' ? 'sim' : 'unknown'));
  }
  const instances: InstanceRecord[] = (s.instances ?? []).map((r) => ({
    inst: r.inst,
    scenario: r.scenario,
    verdict: r.verdict,
    attempts: r.attempts ?? 1,
    flaky: r.flaky === true,
    known: r.known?.issue,
    durationMs: r.durationMs,
    checks: r.checks.map((c) => ({ check: c.check, verdict: c.verdict, message: c.message })),
    metrics: metricsOf(byInst.get(r.inst) ?? []),
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
    driverVersion: [...versions].sort().join(',') || 'none',
    harnessVersion: s.harnessVersion ?? harnessVersion,
    shard: s.shard ? `${s.shard.index}/${s.shard.count}` : undefined,
    complete: s.complete === true,
    counts: { passed: s.counts?.passed ?? 0, failed: s.counts?.failed ?? 0, skipped: s.counts?.skipped ?? 0, flaky: s.counts?.flaky ?? 0 },
    instances,
  };
}

/** Workload figures per device (`xvda.iops`, `vif0.mbps`, `xvda.lat.p99`) and lifecycle timings (`time.<step kind>` in ms, summed per kind; `time.connect`: start to the first drivers report; `time.install-reboot`: the driver install's reboots, summed). */
export function metricsOf(events: readonly TraceEvent[]): MetricValue[] {
  const out = new Map<string, MetricValue>();
  const put = (name: string, value: number, unit: string, better: MetricValue['better']) => {
    if (!Number.isFinite(value)) return;
    const m = out.get(name);
    if (m) m.value += value; // a second workload or step of the same kind adds up
    else out.set(name, { name, value, unit, better });
  };
  const starts = new Map<string, { t: number; kind: string }>();
  let t0: number | undefined;
  let connectedAt: number | undefined;
  const down = new Map<string, number>();
  for (const e of events) {
    if (e.ev === 'scenario.start') t0 = e.t;
    else if (e.ev === 'workload') {
      const r = e.result;
      if (r.kind === 'block') {
        put(`${e.dev}.iops`, r.iops, 'IOPS', 'higher');
        put(`${e.dev}.mbps`, r.mbps, 'MB/s', 'higher');
        for (const [p, v] of Object.entries(r.latencyMs)) put(`${e.dev}.lat.p${p}`, v, 'ms', 'lower');
      } else {
        put(`${e.dev}.mbps`, r.mbps, 'Mbit/s', 'higher');
      }
    } else if (e.ev === 'step.start') starts.set(e.step, { t: e.t, kind: e.kind });
    else if (e.ev === 'step.end') {
      const s = starts.get(e.step);
      if (s && e.ok !== false) put(`time.${s.kind}`, e.t - s.t, 'ms', 'lower');
    } else if (e.ev === 'drivers' && connectedAt === undefined) connectedAt = e.t;
    else if (e.ev === 'guest') {
      // each reboot of a driver install carries its own duration (hosts that loop on Windows' restarts)
      if (e.what === 'install-reboot' && typeof e.detail?.ms === 'number') put('time.install-reboot', e.detail.ms, 'ms', 'lower');
      // downtime: suspended/migrating -> resumed/migrated/restored
      else if (e.what === 'suspending' || e.what === 'suspended' || e.what === 'saved' || e.what === 'paused') down.has(e.guest) || down.set(e.guest, e.t);
      else if ((e.what === 'resumed' || e.what === 'migrated' || e.what === 'restored' || e.what === 'unpaused') && down.has(e.guest)) {
        put(`time.downtime.${e.what}`, e.t - down.get(e.guest)!, 'ms', 'lower');
        down.delete(e.guest);
      }
    }
  }
  if (t0 !== undefined && connectedAt !== undefined) put('time.connect', connectedAt - t0, 'ms', 'lower');
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}
