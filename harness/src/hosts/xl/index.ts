// The xl backend's entry points for the host factory: `xl://user@host[:port]` and `lab`.
import type { HostBackend } from '../../model/host';
import type { ResolvedHost } from '../../model/config';
import type { Secret } from '../../model/secret';
import { hostError, WinpvError } from '../../model/errors';
import { SshConnection, type SshTarget } from '../../remote/ssh';
import { readState, isOurProcess } from '../../lab/state';
import { XlHost } from './xl-host';

export interface XlHostSpec {
  hostname: string;
  port?: number;
  user?: string;
  identityFile?: string;
  knownHostsFile?: string;
  password?: Secret;
  label: string;
}

export function sshTargetFor(spec: XlHostSpec): SshTarget {
  return {
    host: spec.hostname, port: spec.port, user: spec.user ?? 'root',
    identityFile: spec.identityFile, knownHostsFile: spec.knownHostsFile, password: spec.password,
  };
}

/** `xl://user@host[:port]`: any Xen dom0 with xl, xenstore-utils and sshd. */
function createXlHost(spec: XlHostSpec, nameTag?: string): HostBackend {
  const target = sshTargetFor(spec);
  return new XlHost({ label: spec.label, connect: () => SshConnection.connect(target), ...(nameTag ? { nameTag } : {}) });
}

/** The SSH target of the running lab (from its state file: port, key, dom0's host key) in `dir`,
 *  the lab directory cli/config.ts resolved. */
export function labTarget(dir: string): SshTarget {
  const s = readState(dir);
  if (!s || !isOurProcess(dir, s)) throw hostError('LAB_NOT_RUNNING', `no lab running in ${dir}: start it with \`winpv lab up\``);
  return { host: '127.0.0.1', port: s.port, user: s.user, identityFile: s.sshKey, knownHostsFile: s.knownHosts };
}

/** `lab`: the xl backend on the lab started by `winpv lab up`. */
export function createLabHost(dir: string, nameTag?: string): HostBackend {
  return new XlHost({ label: 'lab', connect: () => SshConnection.connect(labTarget(dir)), ...(nameTag ? { nameTag } : {}) });
}

/** The lab directory of a `lab` host (cli/config.ts resolveHost sets it). */
export function labDirOf(host: ResolvedHost): string {
  if (host.labDir === undefined) throw new WinpvError('internal', 'LAB_DIR_UNRESOLVED', `host ${host.label}: no lab directory was resolved for it`);
  return host.labDir;
}

/** The factory's maker: `lab` (no host name) or `xl://user@host[:port]`. */
export function makeXlHost(host: ResolvedHost, o: { leaseSlot?: number } = {}): HostBackend {
  const tag = o.leaseSlot !== undefined ? `s${o.leaseSlot}` : undefined;
  if (host.hostname === undefined) return createLabHost(labDirOf(host), tag);
  return createXlHost({
    hostname: host.hostname, port: host.port, user: host.user, identityFile: host.identityFile,
    knownHostsFile: host.knownHostsFile, password: host.password, label: host.label,
  }, tag);
}
