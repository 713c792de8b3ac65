// Configuration: what the user writes (file, environment, flags) and what a run uses after
// resolution. Precedence lives in one place, harness/src/cli/config.ts: flags > environment > file > defaults.
import type { Secret } from './secret';

/** A named host in the config file. Passwords are never stored here; they are read from passwordEnv or passwordFile. */
export interface HostEntry {
  url: string; // sim:, lab, xl://user@host:port, xapi://user@pool-master
  passwordEnv?: string;
  passwordFile?: string;
  identityFile?: string; // SSH private key for xl / dom0 probes / guests
  knownHostsFile?: string;
  /** Opt out of TLS verification (XenAPI). Never the default. */
  insecure?: boolean;
  /** XenAPI: template to clone Windows guests from, SR for ISOs, network. */
  template?: string;
  isoSr?: string;
  network?: string;
  /** XenAPI: Windows guests are reached over OpenSSH with these credentials (password from an env var or file). */
  guestUser?: string;
  guestPort?: number;
  guestIdentityFile?: string;
  guestPasswordEnv?: string;
  guestPasswordFile?: string;
  guestKnownHostsFile?: string;
  /** Pinned host key of the guests (clones of one template share it), `SHA256:...`. */
  guestHostKeySha256?: string;
  /** XenAPI: false = no SSH to dom0 (no xenstore or ring probes). */
  dom0Ssh?: boolean;
  /** XenAPI: how a guest is found on the network, the ways tried in order (`guest-metrics`,
   *  `dom0-neighbour`, `dhcp-leases`); default guest-metrics, dom0-neighbour (and dhcp-leases when
   *  dhcpLeaseFile is set). */
  guestDiscovery?: string[];
  /** XenAPI: the test network's DHCP lease file in dom0 (dnsmasq or ISC dhcpd format), for `dhcp-leases`. */
  dhcpLeaseFile?: string;
  /** XenAPI: how many reboots a driver install may take before winpv gives up (default 4). */
  maxInstallReboots?: number;
  /** XenAPI: keep each guest between scenarios of the same shape, reverted to the snapshot taken
   *  before its driver install, instead of cloning a new one (close() still removes everything). */
  reuseGuests?: boolean;
  /** XenAPI: SSH port of the pool members' dom0 (default 22; a tunnel or a test pool). Host keys come from knownHostsFile. */
  dom0Port?: number;
  /** How many scenario instances this host (or pool) runs at once; shared between runs by leases. Default 1. */
  capacity?: number;
  /** What the host offers (e.g. `windows-2022`, `vbd3`, `sriov`): `--host label:<l>` picks among hosts
   *  carrying every label given, and a scenario's `<labels>` must all be here or it is skipped. */
  labels?: string[];
  /** Live migrations at once in this host's pool during a parallel run (default 1). */
  migrationsAtOnce?: number;
  /** XenAPI: the real artefacts standing in for the simulator's `builtin:` models, by
   *  `<version>[@<vendor prefix>]` (`9.0.0@XS`: another vendor's tools; `9.0.0`: our previous
   *  release, else winpv-9.0.0.iso): `iso:<file on the ISO SR>` or an absolute bundle path. */
  bundles?: Record<string, string>;
  /** Memory a parallel run leaves free on the host (default 2048 MiB): its budget is free memory minus this. */
  memoryReserveMiB?: number;
}

export interface UserConfig {
  defaultHost?: string;
  hosts?: Record<string, HostEntry>;
  reportDir?: string;
  labDir?: string;
  /** Results store: `postgres://...` or a PGlite data directory; `none` records nothing. */
  resultsDb?: string;
}

export interface ResolvedHost {
  name: string;
  kind: 'sim' | 'xl' | 'xapi';
  /** Without credentials: safe for reports. */
  label: string;
  user?: string;
  hostname?: string;
  port?: number;
  password?: Secret;
  identityFile?: string;
  knownHostsFile?: string;
  insecure: boolean;
  /** XenAPI: the guests' (Windows) password, from the entry's guestPasswordEnv / guestPasswordFile or
   *  WINPV_GUEST_PASSWORD. */
  guestPassword?: Secret;
  /** `lab`: the lab directory (cli/config.ts's one rule), where its QEMU, port and keys are recorded. */
  labDir?: string;
  /** Instances at once (HostEntry.capacity, default 1). */
  capacity: number;
  labels: string[];
  entry: HostEntry;
}

export interface ResolvedConfig {
  configFile?: string;
  host: ResolvedHost;
  reportDir: string;
  labDir: string;
  seed: number;
  verbose: boolean;
  /** Results store as configured (--db, WINPV_DB, resultsDb); undefined: not configured. */
  resultsDb?: string;
  /** The default store's data directory: `$XDG_DATA_HOME/winpv/results` (`~/.local/share/winpv/results`). */
  resultsDataDir: string;
}
