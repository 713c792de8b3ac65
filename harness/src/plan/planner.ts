// The planner: pure functions from loaded scenarios and run options to a RunPlan. It expands each
// scenario's matrix (substituting ${name} per instance), applies --tag/--grep, keeps this shard's
// instances (balanced by recorded durations, else stable by instance id: plan/shard.ts), and marks
// instances the host cannot run (missing capability, or a fault it cannot inject) as skipped with the reason.
import type { Capability, FaultName } from '../model/catalog';
import type { PlanInstance, RunPlan } from '../model/plan';
import { allSteps, type MatrixAxis, type Scenario, type TemplatedValue } from '../model/scenario';
import type { Durations } from '../model/durations';
import { builtinArtefact, type BuiltinArtefacts } from '../model/bundle';
import { combinations, substitute } from '../model/matrix';
import { assignShards, inShard } from './shard';

export { fnv1a, inShard } from './shard';
export { combinations, substitute } from '../model/matrix';

export interface PlanOptions {
  seed: number;
  /** Keep instances carrying at least one of these tags (none given: all). */
  tags?: string[];
  /** Keep instances whose id or title matches (a regular expression, case-insensitive). */
  grep?: string;
  /** 1-based shard index and count. */
  shard?: { index: number; count: number };
  /** Recorded instance durations: with any, shards are balanced by time instead of split by id. */
  durations?: Durations;
  /** What the host can do; undefined means "do not judge" (e.g. planning for a listing). */
  capabilities?: ReadonlySet<Capability>;
  /** The faults the host can inject (its FaultCapability.supported); undefined: every fault. */
  faults?: ReadonlySet<FaultName>;
  hostKind?: string;
  /** The labels of the chosen host (config file); undefined: do not judge labels. */
  hostLabels?: ReadonlySet<string>;
  /** What `builtin:` bundles are on the host (its HostBackend.builtinArtefacts); undefined: every one is there. */
  builtinArtefacts?: BuiltinArtefacts;
}


export function instanceId(name: string, params: Record<string, string>): string {
  const keys = Object.keys(params);
  return keys.length ? `${name}[${keys.map((k) => `${k}=${params[k]}`).join(',')}]` : name;
}

function deepSubstitute<T>(v: T, params: Record<string, string>): T {
  if (typeof v === 'string') return substitute(v, params) as T;
  if (Array.isArray(v)) return v.map((x) => deepSubstitute(x, params)) as T;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = k === 'source' ? x : deepSubstitute(x, params);
    return out as T;
  }
  return v;
}

function convert(t: TemplatedValue, params: Record<string, string>): string | number | boolean {
  const s = substitute(t.template, params);
  if (t.as === 'int') return Number(s);
  if (t.as === 'bool') return /^(true|1)$/.test(s);
  return s;
}

function setAt(obj: unknown, at: (string | number)[], value: unknown): void {
  let o = obj as Record<string | number, unknown>;
  for (const k of at.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[at[at.length - 1]] = value;
}

/** One scenario expanded into its instances (a scenario without a matrix is one instance). */
export function expand(s: Scenario): PlanInstance[] {
  return combinations(s.matrix).map((params) => {
    const { templated, ...rest } = s;
    const scenario = deepSubstitute({ ...rest, matrix: [] as MatrixAxis[] }, params) as Scenario;
    for (const t of templated ?? []) setAt(scenario, t.at, convert(t, params));
    return { id: instanceId(s.name, params), scenario, params };
  });
}

/** Every fault a scenario switches on: scenario-wide ones and fault steps at any depth. */
export function faultsUsed(s: Scenario): FaultName[] {
  const out = new Set<FaultName>(s.faults.map((f) => f.name));
  for (const st of allSteps(s.steps)) if (st.kind === 'fault') out.add(st.fault.name);
  return [...out];
}

/** Why the host cannot run this instance (a missing capability first, then a fault it cannot inject), or undefined. */
function skipReason(s: Scenario, opts: PlanOptions): string | undefined {
  const host = opts.hostKind ? `host ${opts.hostKind}` : 'host';
  const unlabelled = opts.hostLabels ? (s.labels ?? []).filter((l) => !opts.hostLabels!.has(l)) : [];
  if (unlabelled.length) return `${host} lacks label ${unlabelled.map((l) => `'${l}'`).join(', ')}`;
  if (!opts.capabilities) return undefined;
  const missing = s.needs.filter((c) => !opts.capabilities!.has(c));
  if (missing.length) return `${host} lacks ${missing.map((m) => `'${m}'`).join(', ')}`;
  const artefacts = missingArtefacts(s, opts.builtinArtefacts);
  if (artefacts.length) return `${host} has no artefact for ${artefacts.join('; and for ')}`;
  if (!opts.faults) return undefined;
  const cannot = faultsUsed(s).filter((f) => !opts.faults!.has(f));
  if (!cannot.length) return undefined;
  const can = [...opts.faults].sort();
  return `${host} cannot inject ${cannot.map((f) => `'${f}'`).join(', ')} (it injects ${can.length ? can.join(', ') : 'no faults'})`;
}

/** What the user must provide for each builtin bundle this scenario installs that the host lacks. */
function missingArtefacts(s: Scenario, artefacts: BuiltinArtefacts | undefined): string[] {
  if (!artefacts) return [];
  const out = new Set<string>();
  for (const st of allSteps(s.steps)) {
    if (st.kind !== 'install-drivers') continue;
    const found = builtinArtefact(st.bundle, artefacts);
    if (found && 'missing' in found) out.add(found.missing);
  }
  return [...out];
}

export function plan(scenarios: readonly Scenario[], opts: PlanOptions): RunPlan {
  const grep = opts.grep ? new RegExp(opts.grep, 'i') : undefined;
  const seen = new Set<string>();
  const instances: PlanInstance[] = [];
  for (const s of scenarios) {
    for (const inst of expand(s)) {
      if (seen.has(inst.id)) continue; // the same file given twice
      seen.add(inst.id);
      if (opts.tags?.length && !inst.scenario.tags.some((t) => opts.tags!.includes(t))) continue;
      if (grep && !grep.test(inst.id) && !grep.test(inst.scenario.title)) continue;
      const skip = skipReason(inst.scenario, opts);
      if (skip) inst.skip = skip;
      instances.push(inst);
    }
  }
  if (opts.shard) {
    const { index, count } = opts.shard;
    const byTime = assignShards(instances.map((i) => i.id), opts.durations, count);
    const mine = instances.filter((i) => (byTime ? byTime.get(i.id) === index : inShard(i.id, opts.shard!)));
    instances.length = 0;
    instances.push(...mine);
  }
  return { seed: opts.seed, instances, ...(opts.shard ? { shard: opts.shard } : {}) };
}

/** Parses `k/n` (1 <= k <= n); returns an error message instead of throwing (plan/ is pure). */
export function parseShard(s: string): { index: number; count: number } | string {
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  if (!m) return `--shard must be k/n (e.g. 2/4), not '${s}'`;
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) return `--shard ${s}: need 1 <= k <= n`;
  return { index, count };
}
