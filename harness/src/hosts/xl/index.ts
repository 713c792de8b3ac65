// The xl backend's entry points for the host factory: `xl://user@host[:port]` and `lab`.
import type { HostBackend } from '../../model/host';
import type { ResolvedHost } from '../../model/config';
import type { Secret } from '../../model/secret';
import { hostError } from '../../model/errors';
import { SshConnection, type SshTarget } from '../../remote/ssh';
import { labDir, readState, isOurProcess } from '../../lab/state';
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
export function createXlHost(spec: XlHostSpec, nameTag?: string): HostBackend {
  const target = sshTargetFor(spec);
  return new XlHost({ label: spec.label, connect: () => SshConnection.connect(target), ...(nameTag ? { nameTag } : {}) });
}

/** The SSH target of the running lab (from its state file: port, key, dom0's host key). `dir` is
 *  the lab directory cli/config.ts resolved; without it, lab/state.ts's rule over `env`. */
export function labTarget(env: NodeJS.ProcessEnv, dir?: string): SshTarget {
  const d = labDir(env, dir);
  const s = readState(d);
  if (!s || !isOurProcess(d, s)) throw hostError('LAB_NOT_RUNNING', `no lab running in ${d}: start it with \`winpv lab up\``);
  return { host: '127.0.0.1', port: s.port, user: s.user, identityFile: s.sshKey, knownHostsFile: s.knownHosts };
}

/** `lab`: the xl backend on the lab started by `winpv lab up`. */
export function createLabHost(env: NodeJS.ProcessEnv, dir?: string, nameTag?: string): HostBackend {
  return new XlHost({ label: 'lab', connect: () => SshConnection.connect(labTarget(env, dir)), ...(nameTag ? { nameTag } : {}) });
}

/** The factory's maker: `lab` (no host name) or `xl://user@host[:port]`. */
export function makeXlHost(host: ResolvedHost, o: { env?: NodeJS.ProcessEnv; labDir?: string; leaseSlot?: number } = {}): HostBackend {
  const tag = o.leaseSlot !== undefined ? `s${o.leaseSlot}` : undefined;
  if (host.hostname === undefined) return createLabHost(o.env ?? process.env, o.labDir, tag);
  return createXlHost({
    hostname: host.hostname, port: host.port, user: host.user, identityFile: host.identityFile,
    knownHostsFile: host.knownHostsFile, password: host.password, label: host.label,
  }, tag);
}
