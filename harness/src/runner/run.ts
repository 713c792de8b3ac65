// runPlan: a run on one host, one instance at a time: the run loop of runner/pool.ts with one worker
// on that host (runner/host-worker.ts). It is what a one-host run with one slot, `--keep-on-failure`
// (which keeps one failing instance's guests on one host) and `winpv bisect` use.
import type { KnownIssue } from '../model/outcomes';
import type { HostBackend, HostNeeds } from '../model/host';
import type { RunPlan } from '../model/plan';
import type { BaselineSource } from '../model/results';
import type { Reporter } from '../model/reporter';
import type { SpecSet } from '../model/spec';
import type { TraceWriter } from '../trace/writer';
import type { BundleOpener } from './bundle';
import { HostWorker } from './host-worker';
import { runOnWorkers, runStartEvent, type RunOutcome } from './pool';
import { repeatPlan } from './repeat';

export { runInstance, stillAnswers, type InstanceOutcome, type InstanceRunOptions } from './instance';
export { runStartEvent, type RunOutcome } from './pool';
export type { KeptGuests } from './keep';

export interface RunOptions {
  host: HostBackend;
  plan: RunPlan;
  specs: SpecSet;
  /** sha256 of each spec file, recorded in run.start. */
  specHashes: Record<string, string>;
  trace: TraceWriter;
  reporter: Reporter;
  signal?: AbortSignal;
  openBundle?: BundleOpener;
  /** Ring probe period in host ms. */
  ringPeriodMs?: number;
  /** The run's `<report dir>/artifacts`, where hosts store what they collect (crash dumps). */
  artifactsDir?: string;
  /** Host time each teardown task (and closing the host) may take; TEARDOWN_DEADLINE_MS by default. */
  teardownMs?: number;
  /** Reruns of a failed instance (`--retries N`); each attempt runs as `<inst>~retry<k>`. */
  retries?: number;
  /** Runs of each instance (`--repeat-each N`, soak); each runs as `<inst>~rep<k>` and the summary gets passRates. */
  repeatEach?: number;
  /** Known issues (the repository's known-issues file) that turn a matching failure into a TODO. */
  knownIssues?: readonly KnownIssue[];
  /** `--keep-on-failure`: the guests of the first failing instance are not destroyed and the host is left
   *  open (RunOutcome.kept); the caller shows how to reach them and ends them with kept.release(). */
  keepOnFailure?: boolean;
  /** The results history, for instances whose scenario names the regression check. */
  baselines?: BaselineSource;
  /** What the run's largest instance needs of the host: a host with a preflight (winpv doctor's
   *  checks on a real host) is asked before any instance runs; one that fails ends the run with its
   *  reasons, as a host left out of a parallel run is. */
  needs?: HostNeeds;
}

export async function runPlan(o: RunOptions): Promise<RunOutcome> {
  const { host } = o;
  const runHost = { kind: host.kind, label: host.label, capabilities: [...host.capabilities].sort() };
  const worker = new HostWorker({
    label: host.label, slots: 1, fresh: false, make: () => host, seed: o.plan.seed, specs: o.specs,
    runStart: runStartEvent(repeatPlan(o.plan, o.repeatEach ?? 1), runHost, o.specHashes, o.knownIssues),
    retries: o.retries, teardownMs: o.teardownMs, ringPeriodMs: o.ringPeriodMs, artifactsDir: o.artifactsDir, openBundle: o.openBundle, keepOnFailure: o.keepOnFailure, ...(o.needs ? { needs: o.needs } : {}),
  });
  // the host is opened before the run, as the CLI opens each real host of a parallel run: one that
  // cannot be opened stops the run with its error, even when every instance would be skipped
  await worker.open();
  const failed = worker.openFailure;
  // a host that failed its opening gets no instance: what opening it made (sessions, the dom0
  // connection) is closed now, as a host left out of a parallel run is
  if (failed) await worker.close().catch(() => undefined);
  return runOnWorkers({
    plan: o.plan, specs: o.specs, specHashes: o.specHashes, trace: o.trace, reporter: o.reporter, host: runHost,
    ...(failed ? { workers: [], hostsSkipped: [{ host: host.label, reason: `${failed.code}: ${failed.message}`, error: failed }] } : { workers: [worker] }),
    signal: o.signal, repeatEach: o.repeatEach, knownIssues: o.knownIssues, baselines: o.baselines,
  });
}
