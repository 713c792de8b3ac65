// Configuration, resolved once and in one place: command-line flags, then environment (WINPV_*), then
// the config file ($WINPV_CONFIG, else $XDG_CONFIG_HOME/winpv/config.json, else
// ~/.config/winpv/config.json: outside the repository), then defaults. Passwords come only from an
// environment variable or a file named by the config, never from the command line, and are held as
// Secrets. This is the only module that reads process.env (harness/test/architecture/config.test.ts);
// everything below the commands gets resolved values (ResolvedConfig, ResolvedHost, BuilderConfig).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { randomInt } from 'node:crypto';
import { inputError, usageError } from '../model/errors';
import { Secret } from '../model/secret';
import type { HostEntry, ResolvedConfig, ResolvedHost, UserConfig } from '../model/config';
import { parseBuiltin } from '../model/bundle';

/** The repository root of this installation (harness/dist/cli -> ../../..). */
export const packageRoot = (): string => resolve(__dirname, '..', '..', '..');

export interface ConfigFlags {
  host?: string;
  reportDir?: string;
  seed?: string;
  config?: string;
  labDir?: string;
  verbose?: boolean;
  db?: string;
}

/** The environment of this winpv process: read here only, then handed to resolveConfig and its kin. */
export const processEnvironment = (): NodeJS.ProcessEnv => process.env;

const homeOf = (env: NodeJS.ProcessEnv) => env.HOME || homedir();

function configFilePath(env: NodeJS.ProcessEnv): string {
  if (env.WINPV_CONFIG) return env.WINPV_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homeOf(env), '.config');
  return join(base, 'winpv', 'config.json');
}

/** Reads the config file; a missing default file is an empty config, a missing named one is an error. */
function loadUserConfig(path: string, required: boolean): UserConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw inputError('CONFIG_UNREADABLE', `cannot read the config file: ${(e as Error).message}`, [], { file: path });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const line = m ? text.slice(0, Number(m[1])).split('\n').length : undefined;
    throw inputError('CONFIG_INVALID', `the config file is not valid JSON: ${(e as Error).message}`, [], { file: path, line });
  }
  return validateUserConfig(data, path);
}

const HOST_KEYS = new Set(['url', 'passwordEnv', 'passwordFile', 'identityFile', 'knownHostsFile', 'insecure', 'template', 'isoSr', 'network',
  // XenAPI guests and dom0 (hosts/xapi/config.ts)
  'guestUser', 'guestPort', 'guestIdentityFile', 'guestPasswordEnv', 'guestPasswordFile', 'guestKnownHostsFile', 'guestHostKeySha256', 'dom0Ssh', 'dom0Port', 'reuseGuests',
  'guestDiscovery', 'dhcpLeaseFile', 'maxInstallReboots', 'bundles',
  // scale: how many instances at once, and what the host offers (--host label:..., scenario <labels>)
  'capacity', 'labels', 'migrationsAtOnce', 'memoryReserveMiB']);

const LABEL = /^[a-z0-9][a-z0-9_.-]*$/;

function validateUserConfig(data: unknown, file: string): UserConfig {
  const problems: { location: { file: string; path: string }; message: string }[] = [];
  const bad = (path: string, message: string) => problems.push({ location: { file, path }, message });
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw inputError('CONFIG_INVALID', 'the config file must hold a JSON object', [], { file });
  }
  const c = data as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!['defaultHost', 'hosts', 'reportDir', 'labDir', 'resultsDb'].includes(k)) bad(`/${k}`, `unknown setting '${k}'`);
  for (const k of ['defaultHost', 'reportDir', 'labDir', 'resultsDb']) if (c[k] !== undefined && typeof c[k] !== 'string') bad(`/${k}`, 'must be a string');
  if (c.hosts !== undefined) {
    if (typeof c.hosts !== 'object' || c.hosts === null) bad('/hosts', 'must be an object of named hosts');
    else
      for (const [name, h] of Object.entries(c.hosts as Record<string, unknown>)) {
        if (typeof h !== 'object' || h === null) {
          bad(`/hosts/${name}`, 'must be an object');
          continue;
        }
        const e = h as Record<string, unknown>;
        if (typeof e.url !== 'string') bad(`/hosts/${name}/url`, 'a host needs a url');
        for (const k of Object.keys(e)) {
          if (k === 'password') bad(`/hosts/${name}/password`, 'passwords are not kept in the config: use passwordEnv or passwordFile');
          else if (!HOST_KEYS.has(k)) bad(`/hosts/${name}/${k}`, `unknown host setting '${k}'`);
        }
        if (e.capacity !== undefined && !(Number.isInteger(e.capacity) && (e.capacity as number) >= 1 && (e.capacity as number) <= 1024)) {
          bad(`/hosts/${name}/capacity`, `capacity must be a whole number from 1 to 1024 (instances at once), not ${JSON.stringify(e.capacity)}`);
        }
        for (const k of ['migrationsAtOnce', 'memoryReserveMiB'] as const) {
          if (e[k] !== undefined && !(Number.isInteger(e[k]) && (e[k] as number) >= (k === 'migrationsAtOnce' ? 1 : 0))) bad(`/hosts/${name}/${k}`, `${k} must be a whole number${k === 'migrationsAtOnce' ? ' from 1' : ''}, not ${JSON.stringify(e[k])}`);
        }
        for (const [path, message] of bundlesProblems(e.bundles)) bad(`/hosts/${name}/bundles${path}`, message);
        if (e.labels !== undefined) {
          if (!Array.isArray(e.labels)) bad(`/hosts/${name}/labels`, 'labels must be an array of names');
          else
            for (const [i, l] of e.labels.entries()) {
              if (typeof l !== 'string' || !LABEL.test(l)) bad(`/hosts/${name}/labels/${i}`, `a label is a name (lower case letters, digits, _ . -), not ${JSON.stringify(l)}`);
            }
        }
      }
  }
  if (problems.length) throw inputError('CONFIG_INVALID', `the config file has ${problems.length} problem(s)`, problems, { file });
  return c as UserConfig;
}

/** A host's "bundles": `<version>[@<vendor prefix>]` -> `iso:<file name>` or an absolute path. */
function bundlesProblems(b: unknown): [string, string][] {
  if (b === undefined) return [];
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return [['', 'bundles must be an object: {"<version>[@<vendor prefix>]": "iso:<file on the ISO SR>" or "<absolute bundle path>"}']];
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) {
    if (!parseBuiltin(`builtin:${k}`)) out.push([`/${k}`, `'${k}' is not <version>[@<vendor prefix>] (e.g. 9.0.0@XS, 9.0.0)`]);
    else if (typeof v !== 'string' || !(/^iso:[^\\/]+$/.test(v) || isAbsolute(v))) out.push([`/${k}`, `must be "iso:<file name on the ISO SR>" or an absolute path of a bundle directory, ISO or zip, not ${JSON.stringify(v)}`]);
  }
  return out;
}

export interface HostUrl {
  kind: 'sim' | 'xl' | 'xapi';
  lab: boolean;
  user?: string;
  hostname?: string;
  port?: number;
}

/** `sim`, `lab`, `xl://user@host[:port]`, `xapi://user@host[:port]`. Credentials in URLs are refused. */
export function parseHostUrl(url: string): HostUrl {
  if (url === 'sim' || url === 'sim:' || url === 'sim://') return { kind: 'sim', lab: false };
  if (url === 'lab') return { kind: 'xl', lab: true };
  const m = /^(xl|xapi):\/\/(?:([^@:/]+)(:[^@/]*)?@)?([^:/@]+|\[[0-9a-fA-F:]+\])(?::(\d+))?\/?$/.exec(url);
  if (!m) throw usageError(`not a host: '${url}' (expected sim, lab, xl://user@host[:port] or xapi://user@host[:port], or a host name from the config file)`);
  if (m[3]) throw usageError('passwords are not accepted in host URLs: use the environment or the config file');
  const port = m[5] ? Number(m[5]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) throw usageError(`bad port in '${url}'`);
  return { kind: m[1] as 'xl' | 'xapi', lab: false, user: m[2] ?? 'root', hostname: m[4], port };
}

/** A password: from the environment variable the config names (which must be set), else the file it
 *  names (one trailing newline dropped), else the generic environment variable, else none. */
function secretFrom(what: string, env: NodeJS.ProcessEnv, named: { envName?: string; envSetting: string; file?: string; fileSetting: string }, generic?: string): Secret | undefined {
  if (named.envName) {
    const v = env[named.envName];
    if (v === undefined) throw usageError(`${what}: environment variable ${named.envName} (${named.envSetting}) is not set`);
    return new Secret(v);
  }
  if (named.file) {
    try {
      return new Secret(readFileSync(named.file, 'utf8').replace(/\r?\n$/, ''));
    } catch (e) {
      throw inputError('CONFIG_PASSWORD_FILE', `${what}: cannot read ${named.fileSetting}: ${(e as Error).message}`, [], { file: named.file });
    }
  }
  const v = generic !== undefined ? env[generic] : undefined;
  return v !== undefined ? new Secret(v) : undefined;
}

/** The lab directory, the one rule for every command (`winpv lab`, a run on `--host lab`, its lease
 *  store): --dir, else $WINPV_LAB_DIR, else the config file's labDir, else
 *  $XDG_CACHE_HOME/winpv/lab, else ~/.cache/winpv/lab; absolute. */
export function labDirFrom(env: NodeJS.ProcessEnv, explicit?: string, configured?: string): string {
  return resolve(explicit || env.WINPV_LAB_DIR || configured || join(env.XDG_CACHE_HOME || join(homeOf(env), '.cache'), 'winpv', 'lab'));
}

/** The configured host names (sorted) carrying every label of `label:<l>[,<l>]`; an unknown label or no match is a usage error. */
export function hostsWithLabels(spec: string, user: UserConfig): string[] {
  const wanted = spec.slice('label:'.length).split(',').map((l) => l.trim()).filter(Boolean);
  if (!wanted.length) throw usageError(`--host ${spec}: name at least one label (label:<l>[,<l>])`);
  const hosts = Object.entries(user.hosts ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const known = new Set(hosts.flatMap(([, h]) => h.labels ?? []));
  const unknown = wanted.filter((l) => !known.has(l));
  if (unknown.length) {
    throw usageError(`--host ${spec}: no configured host has label ${unknown.map((l) => `'${l}'`).join(', ')} (labels in the config: ${known.size ? [...known].sort().join(', ') : 'none'})`);
  }
  const matching = hosts.filter(([, h]) => wanted.every((l) => h.labels?.includes(l))).map(([n]) => n);
  if (!matching.length) throw usageError(`--host ${spec}: no configured host carries all of ${wanted.join(', ')}`);
  return matching;
}

/** `--workers N` against the capacity of the run's hosts (1 each unless configured; the simulator has
 *  none unless configured): more workers than that is a usage error. */
export function checkWorkers(text: string, hosts: ResolvedHost | readonly ResolvedHost[]): number {
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1) throw usageError(`--workers takes a whole number from 1, not '${text}'`);
  const n = Number(text);
  const all = Array.isArray(hosts) ? hosts : [hosts as ResolvedHost];
  const capacity = all.reduce((c, h) => c + h.capacity, 0);
  if (all.some((h) => h.kind !== 'sim' || h.entry.capacity !== undefined) && n > capacity) {
    const named = all.length === 1 ? `host '${all[0]!.name}' (${capacity}; set hosts.${all[0]!.name}.capacity in the config)` : `hosts ${all.map((h) => `'${h.name}'`).join(', ')} together (${capacity}; set their capacity in the config)`;
    throw usageError(`--workers ${n} is more than the capacity of ${named}`);
  }
  return n;
}

/** Every host a run uses: those of `--host label:...` (each up to its capacity), else the one host. */
export function resolveRunHosts(cfg: ResolvedConfig, hostFlag: string | undefined, env: NodeJS.ProcessEnv): ResolvedHost[] {
  const spec = hostFlag ?? env.WINPV_HOST;
  if (!spec?.startsWith('label:')) return [cfg.host];
  const user = loadUserConfig(cfg.configFile ?? configFilePath(env), false);
  return hostsWithLabels(spec, user).map((name) => resolveHost(name, user, env));
}

export function resolveHost(nameOrUrl: string, user: UserConfig, env: NodeJS.ProcessEnv, labDirFlag?: string): ResolvedHost {
  if (nameOrUrl.startsWith('label:')) nameOrUrl = hostsWithLabels(nameOrUrl, user)[0];
  const named = user.hosts?.[nameOrUrl];
  const entry: HostEntry = named ?? { url: nameOrUrl };
  const u = parseHostUrl(entry.url);
  const label = u.kind === 'sim' ? 'sim' : u.lab ? 'lab' : `${u.kind}://${u.user}@${u.hostname}${u.port ? `:${u.port}` : ''}`;
  return {
    name: named ? nameOrUrl : label,
    kind: u.kind,
    label,
    user: u.user,
    hostname: u.hostname,
    port: u.port,
    password: u.kind === 'sim' ? undefined : secretFrom(`host '${nameOrUrl}'`, env, { envName: entry.passwordEnv, envSetting: 'passwordEnv', file: entry.passwordFile, fileSetting: 'passwordFile' }, u.kind === 'xapi' ? 'WINPV_XAPI_PASSWORD' : 'WINPV_SSH_PASSWORD'),
    identityFile: entry.identityFile ?? env.WINPV_SSH_IDENTITY,
    knownHostsFile: entry.knownHostsFile,
    insecure: entry.insecure === true,
    capacity: entry.capacity ?? 1,
    labels: entry.labels ?? [],
    entry,
    ...(u.kind === 'xapi' ? withGuestPassword(nameOrUrl, entry, env) : {}),
    ...(u.lab ? { labDir: labDirFrom(env, labDirFlag, user.labDir) } : {}),
  };
}

/** A XenAPI host's Windows guests' password: guestPasswordEnv, guestPasswordFile, WINPV_GUEST_PASSWORD. */
function withGuestPassword(name: string, entry: HostEntry, env: NodeJS.ProcessEnv): { guestPassword?: Secret } {
  const s = secretFrom(`guests of host '${name}'`, env, { envName: entry.guestPasswordEnv, envSetting: 'guestPasswordEnv', file: entry.guestPasswordFile, fileSetting: 'guestPasswordFile' }, 'WINPV_GUEST_PASSWORD');
  return s ? { guestPassword: s } : {};
}

function parseSeed(s: string): number {
  if (!/^\d{1,10}$/.test(s) || Number(s) > 0xffffffff) throw usageError(`--seed takes a whole number from 0 to 4294967295, not '${s}'`);
  return Number(s);
}

/** The lab directory alone (`winpv lab`): --dir, environment, the config file's labDir, default. */
export function resolveLabDir(flags: Pick<ConfigFlags, 'labDir' | 'config'>, env: NodeJS.ProcessEnv): string {
  const user = loadUserConfig(flags.config ?? configFilePath(env), flags.config !== undefined || env.WINPV_CONFIG !== undefined);
  return labDirFrom(env, flags.labDir, user.labDir);
}

/** What `winpv build` needs from flags and environment: the builder's URL and SSH credentials (the
 *  password only from WINPV_SSH_PASSWORD) and where the sources are on it. */
export interface BuilderConfig {
  url: string;
  password?: Secret;
  identityFile?: string;
  sourceRoot: string;
}

export function resolveBuilderConfig(flags: { builder?: string; identity?: string; sourceRoot?: string }, env: NodeJS.ProcessEnv): BuilderConfig {
  const password = secretFrom('the builder', env, { envSetting: '', fileSetting: '' }, 'WINPV_SSH_PASSWORD');
  const identityFile = flags.identity ?? env.WINPV_SSH_IDENTITY;
  return {
    url: flags.builder ?? env.WINPV_BUILDER ?? 'local',
    ...(password ? { password } : {}),
    ...(identityFile ? { identityFile } : {}),
    sourceRoot: flags.sourceRoot ?? env.WINPV_BUILD_SOURCE_ROOT ?? 'C:\\winpv\\src',
  };
}

/** `winpv xenstored`'s socket: --socket, else XENSTORED_PATH (the variable Xen's own tools read). */
export const xenstoredSocketPath = (flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined => flag ?? env.XENSTORED_PATH;

/** The one place where flags, environment, file and defaults meet. */
export function resolveConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv): ResolvedConfig {
  const file = flags.config ?? configFilePath(env);
  const user = loadUserConfig(file, flags.config !== undefined || env.WINPV_CONFIG !== undefined);
  const hostName = flags.host ?? env.WINPV_HOST ?? user.defaultHost ?? 'sim';
  const seedText = flags.seed ?? env.WINPV_SEED;
  return {
    configFile: file,
    host: resolveHost(hostName, user, env, flags.labDir),
    reportDir: resolve(flags.reportDir ?? env.WINPV_REPORT_DIR ?? user.reportDir ?? join(packageRoot(), 'reports')),
    labDir: labDirFrom(env, flags.labDir, user.labDir),
    seed: seedText !== undefined ? parseSeed(seedText) : randomInt(0, 0xffffffff),
    verbose: flags.verbose ?? false,
    resultsDataDir: join(env.XDG_DATA_HOME || join(homeOf(env), '.local', 'share'), 'winpv', 'results'),
    ...((flags.db ?? env.WINPV_DB ?? user.resultsDb) !== undefined ? { resultsDb: flags.db ?? env.WINPV_DB ?? user.resultsDb } : {}),
  };
}
