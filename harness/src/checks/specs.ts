// Spec lookups the checks share, on top of model/spec-eval (the one interpretation of key specs
// that the simulator's frontends also use): which spec describes a device type, which concrete
// keys a key spec stands for at this moment (placeholders, per-queue directories), whether a key
// is required, and what is wrong with a value.
import type { DriverSpec, KeyRef, KeySpec, SpecSet } from '../model/spec';
import { conditionHolds, constraintProblems, keyNamePattern, keyValueProblem, type KeyReader } from '../model/spec-eval';
import type { XsReplay } from './view';

export function specForDeviceType(specs: SpecSet, type: string): DriverSpec | undefined {
  for (const s of specs.values()) if (s.device?.type === type) return s;
  return undefined;
}

export interface KeyContext {
  replay: XsReplay;
  /** Directory of the side that writes the key (the guest home for guest keys). */
  dir: string;
  frontendDir?: string;
  backendDir?: string;
  home?: string;
  /** Every key of the spec, for defaults of referenced keys. */
  keys: readonly KeySpec[];
}

export function reader(ctx: KeyContext): KeyReader {
  return (ref: KeyRef) => {
    const dir = ref.side === 'frontend' ? ctx.frontendDir : ref.side === 'backend' ? ctx.backendDir : ctx.home;
    return dir ? ctx.replay.get(`${dir}/${ref.name}`) : undefined;
  };
}

/** Whether the key must be present while its writer is in `state` (guest keys: state 1 once the driver runs). */
export function requiredAt(ks: KeySpec, state: number, ctx: KeyContext): boolean {
  const states = ks.requiredStates ?? (ks.requiredFrom !== undefined ? [1, 2, 3, 4].filter((s) => s >= ks.requiredFrom!) : []);
  return states.includes(state) && conditionHolds(ks.conditions, ctx.keys, reader(ctx));
}

/** Concrete names (relative to ctx.dir) present for a key spec. */
export function presentNames(ks: KeySpec, ctx: KeyContext): string[] {
  const re = keyNamePattern(ks);
  return ctx.replay.below(ctx.dir).filter((k) => re.test(k));
}

/** What is wrong with a value: type, range, enum, pattern, fixed value, constraints against other keys. */
export function judgeValue(ks: KeySpec, value: string, ctx: KeyContext): string | undefined {
  return keyValueProblem(ks, value) ?? constraintProblems(ks, value, ctx.keys, reader(ctx))[0];
}

const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);

/** The concrete names a required key must have now: per queue, per ring page, or one. */
function expectedNames(ks: KeySpec, ctx: KeyContext): string[] | undefined {
  const fr = ctx.frontendDir ? (k: string) => ctx.replay.get(`${ctx.frontendDir}/${k}`) : () => undefined;
  let names = [ks.name];
  if (ks.name.includes('<i>')) {
    const order = num(fr('ring-page-order'));
    if (order === undefined) return undefined; // count unknown: at least one will do
    names = Array.from({ length: 2 ** order }, (_, i) => ks.name.replace('<i>', String(i)));
  }
  if (/<[A-Za-z]+>/.test(names[0])) return undefined;
  const queues = ks.perQueue ? num(fr('multi-queue-num-queues')) : undefined;
  if (queues !== undefined && queues > 1) names = names.flatMap((n) => Array.from({ length: queues }, (_, q) => `queue-${q}/${n}`));
  return names;
}

/** Problems of one required key at this moment: missing, or invalid values. */
export function judgeRequiredKey(ks: KeySpec, ctx: KeyContext): string | undefined {
  const expected = expectedNames(ks, ctx);
  const present = presentNames(ks, ctx);
  if (expected) {
    const missing = expected.filter((n) => ctx.replay.get(`${ctx.dir}/${n}`) === undefined);
    if (missing.length) return `${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', ...' : ''} ${missing.length === 1 ? 'is' : 'are'} missing`;
  } else if (present.length === 0) return `${ks.name} is missing`;
  if (expected) {
    for (const n of expected) {
      const p = judgeValue(ks, ctx.replay.get(`${ctx.dir}/${n}`)!, ctx);
      if (p) return `${n}: ${p}`;
    }
    return undefined;
  }
  // A placeholder key (drivers/<N>) stands for records at any index, several drivers writing one each
  // (xenbus and xeniface both keep a drivers/<N>): this spec's record is there when one of them is valid.
  const problems = present.map((n) => ({ n, p: judgeValue(ks, ctx.replay.get(`${ctx.dir}/${n}`)!, ctx) }));
  if (problems.some((x) => !x.p)) return undefined;
  return `${problems[0].n}: ${problems[0].p}`;
}
