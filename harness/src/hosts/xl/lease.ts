// Leases of an xl host live in dom0 itself, in a directory under /run (tmpfs: a dom0 reboot, which
// ends every guest, ends every lease too), reached over the same SSH connection the backend uses.
// The atomic step is rename(2) of a directory: a new key is written into a fresh temporary directory
// and renamed onto `<dir>/<key>` with `mv -T`; rename refuses a target directory that is not empty
// (ENOTEMPTY, POSIX rename()), and every key directory holds its value file, so of two runs adding
// the same key exactly one wins, and a reader never sees a key without its value. A holder killed
// between the two steps leaves only a temporary directory, which no key names.
import type { LeaseStore } from '../lease';
import { LEASE_PREFIX } from '../../model/lease';
import { hostError } from '../../model/errors';
import type { ResolvedHost } from '../../model/config';
import type { ExecResult } from '../../remote/ssh';
import { SshConnection } from '../../remote/ssh';
import { labDirOf, labTarget, sshTargetFor } from './index';

/** Where dom0 keeps the leases. */
export const XL_LEASE_DIR = '/run/winpv-lease';

/** The part of a dom0 connection the store needs. */
export interface LeaseLink {
  exec(argv: readonly string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
}

const KEY = /^[A-Za-z0-9_.-]+$/;
/** Each store command's deadline: below the leases' 120 s staleness (hosts/lease.ts), above what a
 *  loaded lab's dom0 takes under TCG (a trivial command over SSH took 47 s on this shared machine, and
 *  the run's heartbeat stopped it at the former 30 s). */
const TIMEOUT_MS = 90_000;

// $1 directory, $2 key, $3 value. Prints `added` or `exists`.
const ADD = `set -e; mkdir -p "$1"; t=$(mktemp -d "$1/.new.XXXXXX"); printf '%s' "$3" > "$t/value"
if mv -T "$t" "$1/$2" 2>/dev/null; then echo added; else rm -rf "$t"; echo exists; fi`;
// $1 directory, $2 prefix. One `key<TAB>value` line per key (values are JSON: no tab, no newline).
const READ = `[ -d "$1" ] || exit 0; for k in "$1/$2"*; do [ -f "$k/value" ] || continue; printf '%s\\t%s\\n' "\${k##*/}" "$(cat "$k/value")"; done`;
// $1 directory, $2 key.
const REMOVE = `rm -rf -- "$1/$2"`;

export class XlLeaseStore implements LeaseStore {
  constructor(
    private readonly link: LeaseLink,
    readonly describe: string,
    private readonly dir = XL_LEASE_DIR,
  ) {}

  private async sh(script: string, args: string[]): Promise<string> {
    for (const a of args.slice(1, 2)) if (!KEY.test(a)) throw hostError('LEASE_KEY', `not a lease key: ${a}`);
    const r = await this.link.exec(['sh', '-c', script, 'sh', ...args], { timeoutMs: TIMEOUT_MS });
    if (r.code !== 0) throw hostError('XL_LEASE', `lease store on ${this.describe} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  }

  async read(): Promise<Record<string, string>> {
    const out = await this.sh(READ, [this.dir, LEASE_PREFIX]);
    const map: Record<string, string> = {};
    for (const line of out.split('\n')) {
      const tab = line.indexOf('\t');
      if (tab > 0) map[line.slice(0, tab)] = line.slice(tab + 1);
    }
    return map;
  }

  async add(key: string, value: string): Promise<boolean> {
    return (await this.sh(ADD, [this.dir, key, value])).trim() === 'added';
  }

  async remove(key: string): Promise<void> {
    await this.sh(REMOVE, [this.dir, key]);
  }
}

/** An SSH connection to the xl host's dom0 and its lease store; close() ends the connection. */
export async function openXlLeaseStore(h: ResolvedHost): Promise<{ store: XlLeaseStore; close(): Promise<void> }> {
  const target = h.hostname === undefined ? labTarget(labDirOf(h)) : sshTargetFor({ hostname: h.hostname, port: h.port, user: h.user, identityFile: h.identityFile, knownHostsFile: h.knownHostsFile, password: h.password, label: h.label });
  const c = await SshConnection.connect(target);
  return { store: new XlLeaseStore(c, `dom0 of ${h.label}`), close: () => c.close() };
}
