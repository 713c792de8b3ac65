// How winpv marks what it creates on a pool, so that `winpv xapi gc` can find what a crashed run left.
// Every VM, VDI, VBD and VIF the harness creates carries these other_config keys; VMs are also named
// with the run id, so a clone that died before it could be tagged is still recognisable.
import type { XapiRecord } from 'xen-api';

/** other_config key holding the run id. */
export const RUN_KEY = 'winpv-run';
/** other_config key holding the creation time (ISO 8601, UTC). */
const CREATED_KEY = 'winpv-created';
/** other_config key holding the scenario instance and guest name, for people reading XenCenter / XO. */
export const OWNER_KEY = 'winpv-owner';
/** name_label prefix of every VM winpv creates: `winpv:<run-id>:<instance>/<guest>`. */
const NAME_PREFIX = 'winpv:';

export function tagsFor(runId: string, owner: string, now: Date): Record<string, string> {
  return { [RUN_KEY]: runId, [CREATED_KEY]: now.toISOString(), [OWNER_KEY]: owner };
}

export function vmName(runId: string, owner: string): string {
  return `${NAME_PREFIX}${runId}:${owner}`;
}

/** The run id an object belongs to, from its tag or (for VMs) its name; undefined if not winpv's. */
export function runOf(rec: XapiRecord): string | undefined {
  const oc = (rec.other_config ?? {}) as Record<string, string>;
  if (oc[RUN_KEY]) return oc[RUN_KEY];
  const name = typeof rec.name_label === 'string' ? rec.name_label : '';
  if (rec.$type === 'VM' && name.startsWith(NAME_PREFIX)) return name.slice(NAME_PREFIX.length).split(':')[0] || undefined;
  return undefined;
}

/** When the object was created by winpv (from its tag); undefined when untagged or unreadable. */
export function createdAt(rec: XapiRecord): Date | undefined {
  const oc = (rec.other_config ?? {}) as Record<string, string>;
  const t = oc[CREATED_KEY] ? Date.parse(oc[CREATED_KEY]) : NaN;
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** A run id: sortable, unique enough across concurrent CI jobs, and safe in names. */
export function newRunId(now: Date, random: string): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${random}`;
}
