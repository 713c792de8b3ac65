// The run `winpv run` asked for (commands/run.ts is the command): options checked, scenarios and
// specs loaded, the plan made, capacity leased, the instances run on workers or one host, the reports
// written and the run recorded in the results store.
import { join, relative, resolve } from 'node:path';
import type { CommandContext } from './command';
import { availableParallelism } from 'node:os';
import { checkWorkers, packageRoot, resolveRunHosts } from './config';
import { ExitCode, usageError } from '../model/errors';
import { loadScenarios } from '../scenario';
import { plan, parseShard } from '../plan/planner';
import { createHost } from '../hosts/factory';
import { setSimV8Flags } from '../hosts/sim/v8-flags';
import { TraceWriter } from '../trace/writer';
import { runPlan, type RunOutcome } from '../runner/run';
import { MAX_REPEAT_EACH, renderPassRates } from '../runner/repeat';
import { ReporterMultiplexer } from '../report/multiplexer';
import { FileReporter, type RunMeta } from '../report/files';
import { FileDurations, recordDurations } from '../report/durations';
import { holdCapacity, parseLeaseTimeout, type HeldCapacity } from './lease-support';
import { ConsoleReporter } from '../report/console';
import type { ResolvedConfig, ResolvedHost } from '../model/config';
import type { HostBackend } from '../model/host';
import type { SpecSet } from '../model/spec';
import type { RunPlan } from '../model/plan';
import type { KnownIssue } from '../model/outcomes';
import type { BaselineSource } from '../model/results';
import { HostWorker, runOnWorkers, runStartEvent, type Worker } from '../runner/pool';
import { MemoryBudget, Semaphore } from '../runner/guards';
import { ChildSimWorker } from './sim-workers';
import { driverSpecs, exitForSummary, newRunDir, stdoutReporter } from './run-support';
import type { RunRecorder, RunStoreKey } from '../results/record-run';
import type { RunRecord } from '../results/record';
import { hostNeedsOf } from '../plan/needs';
import { windowsBuildOfPlan } from '../results/baselines';
import { streamedRun, type StreamedRun } from './streamed-run';
import type { RunSummary } from '../model/result';
import type { SectionDigestName } from '../model/trace';
import { KNOWN_ISSUES_FILE, loadKnownIssues } from '../results/known';
import { harnessVersion } from './commands/results';
import { DEFAULT_TAGS, type RunValues } from './run-options';

/** What `winpv run` was asked: its options checked, the configuration resolved, the plan made. */
interface RunRequest {
  ctx: CommandContext;
  v: RunValues;
  positionals: string[];
  cfg: ResolvedConfig;
  shard?: { index: number; count: number };
  leaseTimeoutMs: number;
  retries: number;
  repeatEach: number;
  knownIssues: KnownIssue[];
  inputs: string[];
  specs: SpecSet;
  hashes: Record<string, string>;
  host: HostBackend;
  thePlan: RunPlan;
  durationsFile: string;
}

/** A run under way: where it writes, the hosts and workers it runs on and the capacity it holds. */
interface RunPlace extends RunRequest {
  keepOnFailure: boolean;
  runHosts: ResolvedHost[];
  workers: number;
  /** On workers (every simulator run, several workers or hosts); else the one-host runner. */
  parallel: boolean;
  started: Date;
  runId: string;
  dir: string;
  /** Aborted when a lease is lost. */
  stop: AbortController;
  held: HeldCapacity;
  leased: boolean;
  /** The one-host runner's host, named by the slot it holds (xl domain names). */
  oneHost: HostBackend;
}

/** `winpv run` once its options are parsed and its store is opening: --list, or the run. */
export async function runRequested(ctx: CommandContext, v: RunValues, positionals: string[], cfg: ResolvedConfig, recorder: RunRecorder | undefined): Promise<number> {
  const req = await planRequest(ctx, v, positionals, cfg);
  if (v.list) return listPlan(req);
  recorder?.planned(storeKey(req));
  const place = await takePlace(req);
  try {
    return await runWithLease(place, recorder);
  } finally {
    await place.held.release();
  }
}

/** The numeric options checked (usage errors name the option and the value). */
function checkedNumbers(v: RunValues): { shard?: { index: number; count: number }; retries: number; repeatEach: number } {
  let shard: { index: number; count: number } | undefined;
  if (v.shard !== undefined) {
    const s = parseShard(v.shard);
    if (typeof s === 'string') throw usageError(s);
    shard = s;
  }
  if (v.grep !== undefined) {
    try {
      new RegExp(v.grep);
    } catch (e) {
      throw usageError(`--grep: ${(e as Error).message}`);
    }
  }
  const retries = v.retries === undefined ? 0 : Number(v.retries);
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw usageError(`--retries takes an integer from 0 to 10, not '${v.retries}'`);
  const repeatEach = v['repeat-each'] === undefined ? 1 : Number(v['repeat-each']);
  if (!Number.isInteger(repeatEach) || repeatEach < 1 || repeatEach > MAX_REPEAT_EACH) throw usageError(`--repeat-each takes an integer from 1 to ${MAX_REPEAT_EACH}, not '${v['repeat-each']}'`);
  return { ...(shard ? { shard } : {}), retries, repeatEach };
}

/** Options checked, configuration resolved, scenarios and specs loaded, the plan made for the host. */
async function planRequest(ctx: CommandContext, v: RunValues, positionals: string[], cfg: ResolvedConfig): Promise<RunRequest> {
  const leaseTimeoutMs = parseLeaseTimeout(v['lease-timeout']);
  const { shard, retries, repeatEach } = checkedNumbers(v);
  const root = packageRoot();
  const knownIssues = loadKnownIssues(v['known-issues'] ?? join(root, 'scenarios', KNOWN_ISSUES_FILE), v['known-issues'] !== undefined);
  const inputs = positionals.length ? positionals : [relative(ctx.cwd, join(root, 'scenarios')) || '.'];
  const tags = v.tag?.length ? v.tag : positionals.length ? undefined : DEFAULT_TAGS;
  const scenarios = loadScenarios(inputs, ctx.cwd);
  const { specs, hashes } = driverSpecs(ctx.cwd);
  const host = createHost(cfg.host, { specs });
  const durationsFile = v.durations !== undefined ? resolve(ctx.cwd, v.durations) : join(cfg.reportDir, 'durations.json');
  const durations = shard ? await new FileDurations(durationsFile).durations(cfg.host.kind) : undefined;
  const thePlan = plan(scenarios, { durations, seed: cfg.seed, tags, grep: v.grep, shard, capabilities: host.capabilities, faults: host.faults?.supported, hostKind: host.kind, hostLabels: new Set(cfg.host.labels), ...(host.builtinArtefacts ? { builtinArtefacts: host.builtinArtefacts } : {}) });
  if (thePlan.instances.length === 0) throw usageError('no scenario instance matches the filters');
  return { ctx, v, positionals, cfg, shard, leaseTimeoutMs, retries, repeatEach, knownIssues, inputs, specs, hashes, host, thePlan, durationsFile };
}

/** What the run is recorded under in the store: its plan's scenarios, host class and Windows build. */
function storeKey({ thePlan, host }: RunRequest): RunStoreKey {
  return { scenarios: [...new Set(thePlan.instances.map((i) => i.scenario.name))], hostKind: host.kind, windowsBuild: windowsBuildOfPlan(thePlan.instances, host.kind) };
}

/** --list: the instances this run would run (and the skips with their reasons). */
function listPlan({ ctx, thePlan, host }: RunRequest): number {
  for (const i of thePlan.instances) ctx.out.write(`${i.id}${i.skip ? `  (skip: ${i.skip})` : ''}\n`);
  ctx.out.write(`${thePlan.instances.length} instance${thePlan.instances.length === 1 ? '' : 's'} on ${host.label}\n`);
  return ExitCode.ok;
}

/** The simulator's default: a worker per core, but no more than the instances there are to run. A
 *  worker process costs its start-up and its own compile of the simulator (about 1.3 s of CPU, more
 *  than a small scenario's run), so a run of one instance runs in this process; the trace is the same
 *  whatever the number of workers. */
export function defaultSimWorkers(instances: readonly { skip?: string }[], repeatEach: number, cores = availableParallelism()): number {
  return Math.min(cores, instancesToRun(instances, repeatEach));
}

/** The instances a run will start (skipped ones need no worker and no slot), at least one. */
function instancesToRun(instances: readonly { skip?: string }[], repeatEach: number): number {
  return Math.max(1, instances.filter((i) => !i.skip).length * repeatEach);
}

/** The run's workers and hosts chosen, its directory made, and a lease held on each slot of a real host it uses. */
async function takePlace(req: RunRequest): Promise<RunPlace> {
  const { ctx, v, cfg, shard, specs, host } = req;
  const keepOnFailure = v['keep-on-failure'] === true;
  const runHosts = resolveRunHosts(cfg, v.host, ctx.env);
  const workers = v.workers !== undefined ? checkWorkers(v.workers, runHosts) : cfg.host.kind === 'sim' ? defaultSimWorkers(req.thePlan.instances, req.repeatEach) : runHosts.reduce((n, h) => n + h.capacity, 0);
  if (keepOnFailure && v.workers !== undefined && workers > 1) throw usageError('--keep-on-failure keeps one failing instance\'s guests on one host: it runs with one worker (drop --workers)');
  // One host and one worker on a real host: the one-host runner; the simulator always runs every
  // instance on a host of its own (so its events do not depend on the number of workers).
  const parallel = !keepOnFailure && (cfg.host.kind === 'sim' || workers > 1 || runHosts.length > 1);

  const started = new Date(); // the run's date lives in summary.json only, never in the trace
  const { runId, dir } = newRunDir(cfg.reportDir, started, cfg.seed, shard ? `-shard${shard.index}of${shard.count}` : '');
  // A real host is shared with other runs: hold a lease on each slot of its capacity the run uses.
  const stop = new AbortController();
  // No more slots than the run has instances to start (a pool's other slots stay free for other
  // runs), but one on each of its hosts at least: a host found unhealthy leaves its instances to the others.
  const want = spread(runHosts, parallel ? Math.min(workers, Math.max(instancesToRun(req.thePlan.instances, req.repeatEach), runHosts.length)) : 1);
  const held = await holdCapacity(want, {
    runId, timeoutMs: req.leaseTimeoutMs, signal: ctx.signal,
    say: (m) => ctx.err.write(`winpv: ${m}\n`),
    onLost: (e) => {
      ctx.err.write(`winpv: ${e.message}: stopping the run\n`);
      stop.abort();
    },
  });
  const leased = [...held.slots.values()].some((n) => n > 0) && cfg.host.kind !== 'sim';
  const slot = held.firstSlot(cfg.host.name);
  const oneHost = slot !== undefined ? createHost(cfg.host, { specs, leaseSlot: slot }) : host;
  return { ...req, keepOnFailure, runHosts, workers, parallel, started, runId, dir, stop, held, leased, oneHost };
}

async function runWithLease(p: RunPlace, recorder: RunRecorder | undefined): Promise<number> {
  const { dir, runId, started, inputs, shard } = p;
  const meta = (): RunMeta => ({
    runId, startedAt: started.toISOString(), finishedAt: new Date().toISOString(), inputs, command: 'run', ...(shard ? { shard } : {}),
  });
  // as the run ends the recorder records it while report.html is drawn with the trends (results/record-run.ts)
  return runRecorded(p, streamedRun(join(dir, 'trace.jsonl'), recorder !== undefined), meta, recorder);
}

async function runRecorded(p: RunPlace, streamed: StreamedRun, meta: () => RunMeta, recorder: RunRecorder | undefined): Promise<number> {
  const { ctx, v, dir, runId, stop, thePlan, specs, hashes, retries, repeatEach, knownIssues, keepOnFailure } = p;
  const { trace, page, record } = streamed;
  // the store's record from the events as they streamed (RunRecordDigest): nothing reads trace.jsonl back
  const recordOf = record && ((s: RunSummary, m: RunMeta) => record.record({ schema: 'winpv-summary/1', ...m, ...s }, runId, harnessVersion()));
  const reportInput = recorder && recordOf && ((s: RunSummary, m: RunMeta) => recorder.reportInput(recordOf(s, m)));
  const reporter = new ReporterMultiplexer([...stdoutReporter(v.reporter, ctx, 'console'), streamed.judged, new FileReporter(dir, meta, page, reportInput)]);
  const signal = AbortSignal.any([ctx.signal, stop.signal]);
  const live = reporter.reporters.find((r): r is ConsoleReporter => r instanceof ConsoleReporter);
  // scenarios that name the regression check judge their metrics against the store's history
  const baselines = recorder && thePlan.instances.some((i) => i.scenario.checks.some((c) => c.name === 'regression')) ? { baselines: recorder.baselines } : {};
  const outcome: RunOutcome = p.parallel
    ? await runParallel(p, { trace, reporter, signal, baselines, live, digests: streamed.digests })
    : await runPlan({ host: p.oneHost, plan: thePlan, specs, specHashes: hashes, trace, reporter, signal, artifactsDir: join(dir, 'artifacts'), retries, repeatEach, knownIssues, keepOnFailure, needs: hostNeedsOf(thePlan.instances, p.oneHost.builtinArtefacts), ...baselines });
  if (outcome.hostError?.code === 'NO_HEALTHY_HOST') {
    ctx.err.write(`winpv: no healthy host: ${outcome.hostError.message}\n`);
  }
  return endOfRun(p, outcome, reporter, recorder && recordOf && { recorder, record: () => recordOf(outcome.summary, meta()) });
}

/** The end of a run: durations recorded, where the reports are, the results store's record, the exit code;
 *  then the guests --keep-on-failure kept, held until the run is interrupted. */
async function endOfRun(p: RunPlace, outcome: RunOutcome, reporter: ReporterMultiplexer, store: { recorder: RunRecorder; record: () => RunRecord } | undefined): Promise<number> {
  const { ctx, v, cfg, dir, repeatEach, durationsFile, positionals, held } = p;
  // a soak's repetitions are not instances of their own: their ids stay out of the durations file
  if (outcome.summary.complete && repeatEach === 1) {
    try {
      recordDurations(durationsFile, outcome.summary);
    } catch (e) {
      ctx.err.write(`winpv: durations not recorded: ${(e as Error).message} (${durationsFile})\n`);
    }
  }
  const shown = relative(ctx.cwd, dir) || dir;
  const say = (s: string) => (v.reporter === 'tap' ? ctx.err : ctx.out).write(s);
  if (outcome.summary.passRates) say(`pass rates over ${repeatEach} runs each:\n${renderPassRates(outcome.summary.passRates).map((l) => `  ${l}\n`).join('')}`);
  say(`reports: ${shown.startsWith('..') ? dir : shown}\n`);
  for (const e of reporter.errors) ctx.err.write(`winpv: reporter ${e.reporter}.${e.method} failed: ${e.error.message}\n`);
  if (store) {
    const r = await store.recorder.finish(dir, store.record);
    if (r.warning) ctx.err.write(`winpv: warning: ${r.warning}\n`);
  }
  const code = outcome.hostError ? ExitCode.hostError : reporter.errors.length ? ExitCode.hostError : exitForSummary(outcome.summary);
  if (outcome.hostError) ctx.err.write(`winpv: host failure: ${outcome.hostError.code}: ${outcome.hostError.message}\n`);
  if (code !== ExitCode.ok) say(`seed ${cfg.seed}: repeat with winpv run --seed ${cfg.seed}${v.host ? ` --host ${v.host}` : ''}${positionals.length ? ` ${positionals.join(' ')}` : ''}\n`);
  if (outcome.kept) await holdKept(p, outcome.kept);
  return held.lost() ? ExitCode.hostError : code;
}

/** What the run on workers writes to and is stopped by. */
interface RunSinks {
  trace: TraceWriter;
  reporter: ReporterMultiplexer;
  signal: AbortSignal;
  baselines: { baselines?: BaselineSource };
  live?: ConsoleReporter;
  /** The digests a simulator worker process shapes its sections for. */
  digests: SectionDigestName[];
}

/** The run on workers: simulator worker processes (one in this process when there is one worker),
 *  or each healthy real host running up to the slots it was leased; hosts left out are named with
 *  the reason in the trace; with none left, exit 3. */
async function runParallel(p: RunPlace, o: RunSinks): Promise<RunOutcome> {
  const { thePlan, specs, hashes, runHosts, host, repeatEach, knownIssues } = p;
  const skipped = [...p.held.skipped];
  const runStartHost = { kind: host.kind, label: runHosts.length > 1 ? runHosts.map((h) => h.label).join(', ') : host.label, capabilities: [...host.capabilities].sort() };
  const runStart = runStartEvent(thePlan, runStartHost, hashes);
  const pool = p.cfg.host.kind === 'sim' ? simWorkers(p, runStart, o.digests) : await hostWorkers(p, runStart, skipped);
  return runOnWorkers({
    plan: thePlan, specs, specHashes: hashes, trace: o.trace, reporter: o.reporter, workers: pool, host: runStartHost, signal: o.signal, repeatEach, knownIssues,
    hostsSkipped: skipped, ...o.baselines, ...(o.live ? { onStatus: (l) => o.live!.workers(l) } : {}),
  });
}

/** The simulator's workers: one in this process, or a child process per worker. */
function simWorkers(p: RunPlace, runStart: ReturnType<typeof runStartEvent>, digests: SectionDigestName[]): Worker[] {
  const { cfg, specs, retries, workers } = p;
  const artifactsDir = join(p.dir, 'artifacts');
  setSimV8Flags(); // this process runs the simulator, or judges and writes what its workers send
  if (workers === 1) return [new HostWorker({ seed: cfg.seed, specs, runStart, retries, artifactsDir, label: 'sim', slots: 1, fresh: true, make: () => createHost(cfg.host, { specs }) })];
  const pool: Worker[] = [];
  for (let k = 1; k <= workers; k++) pool.push(new ChildSimWorker(`sim #${k}`, { seed: cfg.seed, specs, runStart, retries, artifactsDir, digests }));
  return pool;
}

/** A worker per real host with leased slots, each checked before use (one that fails is added to
 *  `skipped` with the reason), with its memory budget and migration semaphore. */
async function hostWorkers(p: RunPlace, runStart: ReturnType<typeof runStartEvent>, skipped: RunPlace['held']['skipped']): Promise<Worker[]> {
  const { ctx, cfg, specs, retries, held } = p;
  const common = { seed: cfg.seed, specs, runStart, retries, artifactsDir: join(p.dir, 'artifacts') };
  const needs = hostNeedsOf(p.thePlan.instances);
  const pool: Worker[] = [];
  for (const h of p.runHosts) {
    const slots = held.slots.get(h.name) ?? 0;
    if (!slots) continue;
    const guards = { migrations: new Semaphore(h.entry.migrationsAtOnce ?? 1) } as { migrations: Semaphore; memory?: MemoryBudget };
    const w = new HostWorker({ ...common, label: h.name, slots, fresh: false, make: () => createHost(h, { specs, leaseSlot: held.firstSlot(h.name) }), guards, needs });
    ctx.err.write(`winpv: checking ${h.label} before use\n`);
    const why = await w.open();
    if (why) {
      skipped.push({ host: h.name, reason: why });
      ctx.err.write(`winpv: host ${h.name} skipped: ${why}\n`);
      await w.close().catch(() => undefined);
      continue;
    }
    const free = await w.freeMemoryBytes().catch((e: Error) => void ctx.err.write(`winpv: ${h.name}: no memory budget (${e.message})\n`));
    if (free !== undefined) guards.memory = new MemoryBudget(free - (h.entry.memoryReserveMiB ?? DEFAULT_RESERVE_MIB) * 2 ** 20, h.name);
    pool.push(w);
  }
  return pool;
}

/** How to reach the guests --keep-on-failure kept, serving the simulator's xenstore beside the run;
 *  the stop function of that socket, when one was opened. */
async function keptGuestsHelp(p: RunPlace, kept: NonNullable<RunOutcome['kept']>, lines: string[]): Promise<(() => Promise<void>) | undefined> {
  const { host, dir } = p;
  try {
    if (host.serveXenstore) {
      const sock = join(dir, 'kept-xenstore.sock');
      const stopServing = await host.serveXenstore(sock);
      lines.push(`  xenstore: XENSTORED_PATH=${sock} xenstore-ls ${kept.guests[0]?.home ?? '/local/domain'}`);
      return stopServing;
    } else if (host.kind === 'xl') {
      for (const g of kept.guests) lines.push(`  console: xl console ${g.domid}; xenstore: xenstore-ls ${g.home} (both in dom0 of ${host.label})`);
    } else {
      for (const g of kept.guests) lines.push(`  console: the VM's console in XenCenter or Xen Orchestra; xenstore: xenstore-ls ${g.home} in dom0 of ${host.label}`);
    }
  } catch (e) {
    lines.push(`  (the xenstore socket could not be opened: ${(e as Error).message})`);
  }
  return undefined;
}

/** --keep-on-failure: says how to reach the kept guests, keeps them (and the lease, renewed as
 *  while running) until the run is interrupted, then destroys them and closes the host. */
async function holdKept(p: RunPlace, kept: NonNullable<RunOutcome['kept']>): Promise<void> {
  const { ctx, host } = p;
  const lines = [`--keep-on-failure: ${kept.inst} failed; its guests are kept running on ${host.label}:`];
  for (const w of kept.why) lines.push(`  ${w}`);
  for (const g of kept.guests) lines.push(`  guest ${g.name}: domid ${g.domid}, xenstore ${g.home}`);
  const stopServing = await keptGuestsHelp(p, kept, lines);
  lines.push(`  ${p.leased ? `the lease on ${host.label} is held and renewed meanwhile; ` : ''}release: Ctrl-C (or kill -INT ${process.pid}) destroys the kept guests and ends the run`);
  ctx.err.write(lines.join('\n') + '\n');
  const stopped = AbortSignal.any([ctx.signal, p.stop.signal]);
  if (!stopped.aborted) await new Promise<void>((done) => stopped.addEventListener('abort', () => done(), { once: true }));
  await stopServing?.().catch(() => undefined);
  await kept.release();
  ctx.err.write(`--keep-on-failure: the kept guests of ${kept.inst} are destroyed\n`);
}

/** Memory left to dom0 and the toolstack on a host, unless the config says (memoryReserveMiB). */
const DEFAULT_RESERVE_MIB = 2048;

/** Workers over the run's hosts: one at a time to each in turn, up to each host's capacity (the simulator has no limit). */
export function spread(hosts: readonly ResolvedHost[], workers: number): { host: ResolvedHost; slots: number }[] {
  const out = hosts.map((host) => ({ host, slots: 0 }));
  for (let left = workers, moved = true; left > 0 && moved; ) {
    moved = false;
    for (const o of out) {
      if (left > 0 && (o.host.kind === 'sim' || o.slots < o.host.capacity)) {
        o.slots++;
        left--;
        moved = true;
      }
    }
  }
  return out;
}
