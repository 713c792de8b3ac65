// What `winpv run` and `winpv lease` share: the lease store of a resolved host and who we are.
// Leases guard real hosts only: the simulator is private to its process.
import { hostname, userInfo } from 'node:os';
import type { ResolvedHost } from '../model/config';
import { usageError } from '../model/errors';
import type { LeaseStore } from '../hosts/lease';
import { parseAge } from '../hosts/xapi/gc';

export interface OpenStore {
  store: LeaseStore;
  close(): Promise<void>;
}

/** The host's lease store, or undefined for a host that needs none (sim). xl: not yet (see README). */
export async function openLeaseStore(h: ResolvedHost, env: NodeJS.ProcessEnv): Promise<OpenStore | undefined> {
  if (h.kind !== 'xapi') return undefined;
  const { openXapiLeaseStore } = require('../hosts/xapi/lease') as typeof import('../hosts/xapi/lease');
  return openXapiLeaseStore(h, env);
}

export function leaseHolder(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers)
  }
  return `${user}@${hostname()} pid ${process.pid}`;
}

/** `--lease-timeout 30m` (s, m, h, d; a bare number is seconds). */
export function parseLeaseTimeout(s: string | undefined, dflt = '30m'): number {
  const ms = parseAge(s ?? dflt);
  if (ms === undefined) throw usageError(`--lease-timeout takes a duration like 90s, 30m or 2h, not '${s}'`);
  return ms;
}
