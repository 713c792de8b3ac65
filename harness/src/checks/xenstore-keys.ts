// xenstore-keys: when a device end enters a state, every key the spec requires of that side from
// that state on is present and valid (type, range, enum, pattern, constraint against the other
// end), alternatives satisfied by one member; keys present but optional must be valid too.
import { XenbusState, xenbusStateName as sn } from '../model/xenbus';
import type { KeySpec, SpecSet } from '../model/spec';
import type { CheckResult } from '../model/result';
import { Findings } from './findings';
import { judgeRequiredKey, judgeValue, presentNames, requiredAt, specForDeviceType, type KeyContext } from './specs';
import { unobservedAt, walkStates } from './devices';
import { devName, type InstanceView } from './view';

export function xenstoreKeys(v: InstanceView, _params: Record<string, string>, specs: SpecSet): CheckResult {
  const f = new Findings('xenstore-keys');
  let points = 0;
  walkStates(v, (c, _now, replay) => {
    if (c.to === null || Number.isNaN(c.to) || c.to < XenbusState.Initialising || c.to > XenbusState.Connected) return;
    const spec = specForDeviceType(specs, c.type);
    if (!spec?.device) return;
    // conditions and constraints read the other end: one the probe has not seen yet (attached after a
    // migration, while the toolstack had already written it) cannot be judged against
    const other = c.side === 'frontend' ? c.backendDir : c.frontendDir;
    if (replay.get(`${other}/state`) === undefined && unobservedAt(v, other, c.e.seq)) return;
    points++;
    const ctx: KeyContext = { replay, dir: c.dir, frontendDir: c.frontendDir, backendDir: c.backendDir, home: `/local/domain/${c.domid}`, keys: spec.device.keys };
    const where = `${c.guest} ${c.side} ${devName(c.type, c.devid)} entering ${sn(c.to)}`;
    const keys = spec.device.keys.filter((k) => k.side === c.side);
    const groups = new Map<string, KeySpec[]>();
    for (const ks of keys) {
      const required = requiredAt(ks, c.to!, ctx);
      if (required) {
        if (ks.alternativeGroup) {
          groups.set(ks.alternativeGroup, [...(groups.get(ks.alternativeGroup) ?? []), ks]);
          continue;
        }
        const p = judgeRequiredKey(ks, ctx);
        if (p) f.fail(`${where}: ${p}`, { path: `${c.dir}/${ks.name}`, at: c.e.t, seq: c.e.seq, expected: describe(ks), observed: observed(ks, ctx) });
      } else {
        for (const n of presentNames(ks, ctx)) {
          const p = judgeValue(ks, replay.get(`${c.dir}/${n}`)!, ctx);
          if (p) f.fail(`${where}: ${n}: ${p}`, { path: `${c.dir}/${n}`, at: c.e.t, seq: c.e.seq, expected: describe(ks), observed: replay.get(`${c.dir}/${n}`) });
        }
      }
    }
    for (const [group, members] of groups) {
      const problems = members.map((ks) => judgeRequiredKey(ks, ctx));
      if (problems.every((p) => p !== undefined)) {
        // none of the alternatives holds: report the one that came closest (present but invalid) first
        const i = Math.max(0, problems.findIndex((p) => !p!.endsWith('is missing')));
        f.fail(`${where}: none of the alternatives ${members.map((m) => m.name).join(' | ')} (${group}) is valid: ${problems[i]}`, {
          path: `${c.dir}/${members[i].name}`,
          at: c.e.t,
          seq: c.e.seq,
          expected: members.map(describe).join(' | '),
          observed: observed(members[i], ctx),
        });
      }
    }
  });
  return f.result(`required keys present and valid at ${points} state entries`);
}

function describe(ks: KeySpec): string {
  const parts = [`${ks.name} (${ks.type})`];
  if (ks.min !== undefined || ks.max !== undefined) parts.push(`in [${ks.min ?? ''}..${ks.max ?? ''}]`);
  if (ks.enumValues) parts.push(`one of ${ks.enumValues.join(', ')}`);
  if (ks.pattern) parts.push(`matching ${ks.pattern}`);
  if (ks.constraint) parts.push(ks.constraint);
  if (ks.requiredFrom !== undefined) parts.push(`required from ${sn(ks.requiredFrom)}`);
  return parts.join(' ');
}

function observed(ks: KeySpec, ctx: KeyContext): string | null {
  const names = presentNames(ks, ctx);
  return names.length ? names.map((n) => `${n}=${ctx.replay.get(`${ctx.dir}/${n}`)}`).join(', ') : null;
}
