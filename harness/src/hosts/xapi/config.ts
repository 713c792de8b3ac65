// What the XenAPI backend needs, from the host cli/config.ts resolved (its entry in the config file,
// its secrets already read from the environment variables or files the config names).
import type { ResolvedHost } from '../../model/config';
import { inputError, usageError } from '../../model/errors';
import { Secret } from '../../model/secret';
import type { SshTarget } from '../../remote/ssh';
import { DISCOVERY_WAYS, type AddressSource } from './guest-address';

export interface SshCredentials {
  user: string;
  port?: number;
  identityFile?: string;
  password?: Secret;
  knownHostsFile?: string;
  hostKeySha256?: string;
}

export interface XapiHostConfig {
  /** For reports: no credentials. */
  label: string;
  /** https://host[:port] */
  url: string;
  user: string;
  password: Secret;
  insecure: boolean;
  transport?: 'auto' | 'json-rpc' | 'xml-rpc';
  /** Template (name label or UUID) to fast-clone guests from, unless the guest shape names one. */
  template?: string;
  /** Network (name label, bridge or UUID) for the guests' VIFs; default: the template's. */
  network?: string;
  /** ISO SR (name label or UUID) holding driver bundle ISOs. */
  isoSr?: string;
  /** The artefacts standing in for `builtin:` bundles (HostEntry.bundles). */
  bundles?: Record<string, string>;
  /** SSH to dom0 of each pool member for the xenstore and ring probes; absent: no dom0 probes. */
  dom0?: SshCredentials;
  /** SSH (OpenSSH on Windows) to the guests. */
  guest: SshCredentials;
  timeouts: { bootMs: number; shutdownMs: number; taskMs: number };
  /** Keep guests between scenarios: revert to the pre-install snapshot instead of a new clone. */
  reuseGuests?: boolean;
  /** The ways a guest is found on the network, tried in this order (guest-address.ts). */
  discovery: AddressSource[];
  /** The test network's DHCP lease file in dom0, for `dhcp-leases`. */
  dhcpLeaseFile?: string;
  /** Reboots a driver install may take (the first included) before it is an error. */
  maxInstallReboots: number;
  /** How long the host waits between tries of what no XenAPI event announces (DEFAULT_XAPI_PAUSES). */
  pauses: XapiPauses;
}

/** Pauses between tries of things that no event.from wakes (dom0's neighbour table, a guest's sshd,
 *  a frontend's state in dom0's xenstore). Not user settings: a real pool needs the defaults; the
 *  XenAPI test doubles answer at once, so their tests give shorter ones. */
export interface XapiPauses {
  /** Finding a guest: the first pause before dom0 is asked again, doubled each round up to `discoveryMaxMs`. */
  discoveryFirstMs: number;
  discoveryMaxMs: number;
  /** Between SSH connection attempts to a booting guest (sshd starts after the agent reports). */
  sshRetryMs: number;
  /** Longest wait between two looks at dom0's xenstore for a Connected frontend after a driver install. */
  pvDriversMs: number;
  /** Between two reads of a new data disk's frontend state in dom0's xenstore. */
  diskStateMs: number;
}

export const DEFAULT_XAPI_PAUSES: Readonly<XapiPauses> = { discoveryFirstMs: 250, discoveryMaxMs: 2_000, sshRetryMs: 2_000, pvDriversMs: 1_000, diskStateMs: 200 };

/** A driver install takes two reboots on a pool (the unplug written at install is read at the next
 *  boot); four leave room for a Windows that asks once more, and a guest that loops is caught. */
export const DEFAULT_MAX_INSTALL_REBOOTS = 4;

/** The ways tried, in order, from the host entry: each named once, each one this host can use. */
function discoveryFrom(h: ResolvedHost, dom0: boolean): AddressSource[] {
  const { label, entry: e } = h;
  const where = { file: 'the config file', path: `/hosts/${h.name}/guestDiscovery` };
  const given = e.guestDiscovery ?? ['guest-metrics', ...(dom0 ? ['dom0-neighbour'] : []), ...(dom0 && e.dhcpLeaseFile ? ['dhcp-leases'] : [])];
  if (!Array.isArray(given) || given.length === 0) throw inputError('CONFIG_INVALID', `${label}: guestDiscovery must name at least one of ${DISCOVERY_WAYS.join(', ')}`, [], { ...where });
  const out: AddressSource[] = [];
  for (const w of given) {
    if (!(DISCOVERY_WAYS as readonly string[]).includes(w)) throw inputError('CONFIG_INVALID', `${label}: guestDiscovery names '${w}', which is none of ${DISCOVERY_WAYS.join(', ')}`, [], { ...where });
    if (out.includes(w as AddressSource)) throw inputError('CONFIG_INVALID', `${label}: guestDiscovery names '${w}' twice`, [], { ...where });
    if (w !== 'guest-metrics' && !dom0) throw inputError('CONFIG_INVALID', `${label}: guestDiscovery way '${w}' reads dom0, and dom0Ssh is false`, [], { ...where });
    if (w === 'dhcp-leases' && !e.dhcpLeaseFile) throw inputError('CONFIG_INVALID', `${label}: guestDiscovery way 'dhcp-leases' needs dhcpLeaseFile (the lease file's path in dom0)`, [], { ...where });
    out.push(w as AddressSource);
  }
  return out;
}

export function xapiConfigFrom(h: ResolvedHost): XapiHostConfig {
  if (h.kind !== 'xapi' || !h.hostname) throw usageError(`not a XenAPI host: ${h.label}`);
  if (!h.password) {
    throw usageError(`no password for ${h.label}: set WINPV_XAPI_PASSWORD, or passwordEnv / passwordFile in the host's config entry`);
  }
  const e = h.entry;
  return {
    label: h.label,
    url: `https://${h.hostname}${h.port ? `:${h.port}` : ''}`,
    user: h.user ?? 'root',
    password: h.password,
    insecure: h.insecure,
    template: e.template,
    network: e.network,
    isoSr: e.isoSr,
    ...(e.bundles ? { bundles: { ...e.bundles } } : {}),
    dom0: e.dom0Ssh === false ? undefined : { user: 'root', port: e.dom0Port, identityFile: h.identityFile, password: h.identityFile ? undefined : h.password, knownHostsFile: h.knownHostsFile },
    guest: {
      user: e.guestUser ?? 'Administrator',
      port: e.guestPort,
      identityFile: e.guestIdentityFile ?? h.identityFile,
      password: h.guestPassword,
      knownHostsFile: e.guestKnownHostsFile ?? h.knownHostsFile,
      hostKeySha256: e.guestHostKeySha256,
    },
    timeouts: { bootMs: 15 * 60_000, shutdownMs: 5 * 60_000, taskMs: 30 * 60_000 },
    ...(e.reuseGuests ? { reuseGuests: true } : {}),
    discovery: discoveryFrom(h, e.dom0Ssh !== false),
    ...(e.dhcpLeaseFile ? { dhcpLeaseFile: e.dhcpLeaseFile } : {}),
    maxInstallReboots: maxReboots(h, e.maxInstallReboots),
    pauses: { ...DEFAULT_XAPI_PAUSES },
  };
}

function maxReboots(h: ResolvedHost, n: unknown): number {
  const label = h.label;
  if (n === undefined) return DEFAULT_MAX_INSTALL_REBOOTS;
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 20) {
    throw inputError('CONFIG_INVALID', `${label}: maxInstallReboots must be a whole number from 1 to 20, not ${JSON.stringify(n)}`, [], { file: 'the config file', path: `/hosts/${h.name}/maxInstallReboots` });
  }
  return n as number;
}

export function sshTarget(c: SshCredentials, host: string): SshTarget {
  return { host, port: c.port, user: c.user, identityFile: c.identityFile, password: c.password, knownHostsFile: c.knownHostsFile, hostKeySha256: c.hostKeySha256 };
}
