// A dom0 double for the xl backend's unit tests: commands arrive as the quoted lines remote/ssh
// would send, are parsed back into argv, and answered from an in-memory xenstore and domain table.
import type { Dom0Link } from '../../../src/hosts/xl/dom0';
import type { ExecResult, LineStream } from '../../../src/remote/ssh';
import { shJoin } from '../../../src/util/quote';
import { BATCH_READ_SCRIPT } from '../../../src/hosts/dom0-xenstore';
import { toolPrints, toolStores } from '../../support/xenstore-tools';
import { READ_PARAMS } from '../../../src/hosts/xl/backend-params';
import { IO_RINGS_SCRIPT, RING_LOOP_SCRIPT } from '../../../src/hosts/netback-rings';
import { DESTROY_AND_RELEASE_SCRIPT, RELEASE_SCRIPT, STOP_MONITOR_AND_LIST_SCRIPT } from '../../../src/hosts/xl/lifecycle';

/** Splits a line built by shJoin back into words (single quotes and '\'' only, as shQuote writes). */
export function unquote(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      cur += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '\\') {
      cur += line[++i];
      inWord = true;
    } else if (c === ' ') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

export interface FakeDomain {
  name: string;
  domid: number;
  state: string;
  /** The config it was created from (libxl keeps it with the domain; xl migrate sends it). */
  config?: string;
}

export class FakeDom0 implements Dom0Link {
  readonly xs = new Map<string, string>();
  readonly domains = new Map<string, FakeDomain>();
  readonly files = new Map<string, string>();
  /** Octal modes of files that have one (sysfs module parameters: 644 writable, 444 read-only). */
  readonly modes = new Map<string, string>();
  readonly loops = new Map<string, string>();
  readonly lines: string[] = [];
  private nextDomid = 1;
  private watchers: ((p: string) => void)[] = [];
  private closeCbs: ((err?: Error) => void)[] = [];
  /** What `xl info` says is free (MiB), and dom0's /proc/loadavg and online CPUs (the preflight's questions). */
  freeMemoryMiB = 3900;
  loadavg = '0.31 0.25 0.20 1/180 4242';
  cpus = 4;
  /** The guests' PV frontends (Linux's): when a domain starts running they connect each device
   *  (frontend 1, 3 for a vbd, backend 4, frontend 4). Off by default: most tests drive the keys. */
  frontends = false;
  /** A planted fault: a migrated domain's frontends do not reconnect (stay Initialising). */
  noReconnectAfterMigrate = false;
  /** A planted fault: the guest does not acknowledge libxl's suspend request. */
  noSuspendAck = false;
  private migrated = new Set<number>();
  /** `xl info`'s virt_caps: `shadow` when Xen was built with CONFIG_SHADOW_PAGING (xen/arch/x86/sysctl.c
   *  arch_do_physinfo). Debian's 4.17.7 build, the lab's, has none. */
  virtCaps = 'pv hvm hap shadow';
  /** Answer for commands the double does not model. */
  other: (argv: string[]) => ExecResult = (argv) => ({ code: 127, stdout: '', stderr: `fake dom0: ${argv[0]}: not found` });

  constructor() {
    this.xs.set('/local/domain/0/name', 'Domain-0');
  }

  /** xenstored's @releaseDomain: a domain shut down (crash included) or died. */
  releaseDomain(): void {
    for (const w of this.watchers) w('@releaseDomain');
  }

  /** A node exists when it was written or a node below it was: xenstored makes the parents of a
   *  written node, with an empty value (read as "", listed by xenstore-ls). */
  private exists(path: string): boolean {
    if (this.xs.has(path)) return true;
    for (const k of this.xs.keys()) if (k.startsWith(path + '/')) return true;
    return false;
  }
  private valueOf(path: string): string {
    return this.xs.get(path) ?? '';
  }

  setKey(path: string, value: string): void {
    this.xs.set(path, value);
    for (const w of this.watchers) w(path);
  }

  /** Changes made while the watch reader was descheduled: it reads them as one batch, each path
   *  once, in the order of its last write, with where its writes fall (PERL_WATCHER). */
  setKeysReadLate(entries: readonly [string, string][]): void {
    const at = new Map<string, [number, number]>();
    entries.forEach(([p, v], i) => {
      this.xs.set(p, v);
      at.set(p, [at.get(p)?.[0] ?? i + 1, i + 1]);
    });
    const paths = [...at].sort(([, a], [, b]) => a[1] - b[1]);
    for (const b of this.batchWatchers) b(paths);
  }
  private batchWatchers: ((paths: [string, [number, number]][]) => void)[] = [];

  async exec(argv: readonly string[], opts: { stdin?: string | Buffer } = {}): Promise<ExecResult> {
    const line = shJoin(argv);
    this.lines.push(line);
    if (argv[0] === 'tee') return this.tee(argv[1]!, String(opts.stdin ?? ''));
    // Scripts that run xl: the shell's xl is a command of its own, seen (and replaceable by a
    // test) as if it had been sent alone. The monitor is not modelled (pkill finds nothing).
    if (argv[0] === 'sh' && argv[2] === STOP_MONITOR_AND_LIST_SCRIPT) return this.exec(['xl', 'list', '-v']);
    if (argv[0] === 'sh' && argv[2] === DESTROY_AND_RELEASE_SCRIPT) {
      const destroyed = await this.exec(['xl', 'destroy', argv[4]!]);
      return destroyed.code === 0 ? this.release(argv.slice(5)) : destroyed;
    }
    return this.answer(unquote(line));
  }

  /** tee FILE: a read-only file (mode without the owner's write bit) refuses, as sysfs does. */
  private tee(path: string, data: string): ExecResult {
    const mode = this.modes.get(path);
    if (mode && (parseInt(mode, 8) & 0o200) === 0) return { code: 1, stdout: '', stderr: `tee: ${path}: Permission denied` };
    this.files.set(path, mode ? data.trim() : data);
    return this.ok(data);
  }

  private ok(stdout = ''): ExecResult {
    return { code: 0, stdout, stderr: '' };
  }

  private answer(a: string[]): ExecResult {
    const [cmd, ...rest] = a;
    const args = rest.filter((x) => x !== '--');
    switch (cmd) {
      case 'sh': {
        // the batched read: sh -c SCRIPT sh path...
        if (a[2] === BATCH_READ_SCRIPT) {
          return this.ok(a.slice(4).map((p) => (this.exists(p) ? `V${Buffer.from(toolPrints(this.valueOf(p)), 'latin1').toString('base64')}\n` : 'N\n')).join(''));
        }
        // netback's debugfs is not modelled (no vif of the double connects rings): the one-shot
        // read's glob matches nothing and it prints nothing
        if (a[2] === IO_RINGS_SCRIPT) return this.ok();
        if (a[2] === RELEASE_SCRIPT) return this.release(a.slice(4));

        if (a[2] === READ_PARAMS) {
          const rows = a.slice(4).map((p) => `${p} ${this.modes.get(p) ?? ''} ${this.files.get(p) ?? ''}\n`);
          return this.ok(rows.join(''));
        }
        return this.other(a);
      }
      // The tools' answers and messages as Debian's xen 4.17 tools give them against the C xenstored
      // (tools/xenstore/xenstore_client.c; test/hosts/dom0-doubles-tools.test.ts compares them).
      case 'xenstore-list': {
        const base = args[0]!.replace(/\/$/, '');
        if (!this.exists(base)) return { code: 1, stdout: '', stderr: `xenstore-list: could not list path ${base}\n` };
        const kids = new Set([...this.xs.keys()].filter((k) => k.startsWith(base + '/')).map((k) => k.slice(base.length + 1).split('/')[0]!));
        return this.ok([...kids].map((k) => k + '\n').join(''));
      }
      case 'xenstore-ls': {
        const base = args[1]!.replace(/\/$/, '');
        const rows = [...this.xs.keys()].filter((k) => k.startsWith(base + '/')).sort();
        // as xenstore-ls (tools/xenstore/xenstore_client.c) reports xs_directory's ENOENT
        if (!rows.length && !this.xs.has(base)) return { code: 1, stdout: '', stderr: `xenstore-ls: xs_directory (${base}): No such file or directory\n` };
        // interior nodes appear with an empty value, as xenstored lists them
        const all = new Set<string>();
        for (const k of rows) for (let p = k; p.length > base.length; p = p.slice(0, p.lastIndexOf('/'))) all.add(p);
        return this.ok([...all].sort().map((k) => `${k} = "${toolPrints(this.xs.get(k) ?? '')}"\n`).join(''));
      }
      case 'xenstore-write':
        this.setKey(args[0]!, toolStores(args[1]!));
        return this.ok();
      case 'xenstore-rm': {
        // xenstored's rm (xenstored_core.c do_rm): a node that is not there is no error when its
        // parent is, and fires no watch; under a missing parent it is ENOENT
        const path = args[0]!;
        if (!this.exists(path)) {
          const parent = path.slice(0, path.lastIndexOf('/')) || '/';
          return parent === '/' || this.exists(parent) ? this.ok() : { code: 1, stdout: '', stderr: `xenstore-rm: could not remove path ${path}\n` };
        }
        for (const k of [...this.xs.keys()]) if (k === path || k.startsWith(path + '/')) this.xs.delete(k);
        for (const w of this.watchers) w(path);
        return this.ok();
      }
      case 'xl':
        return this.xl(args);
      case 'rm':
        for (const f of args.filter((x) => !x.startsWith('-'))) this.files.delete(f);
        return this.ok();
      case 'cat':
        if (args[0] === '/proc/loadavg') return this.ok(`${this.loadavg}\n`);
        return this.files.has(args[0]!) ? this.ok(this.files.get(args[0]!)) : { code: 1, stdout: '', stderr: `cat: ${args[0]}: No such file or directory` };
      case 'mkdir': case 'truncate': case 'test': case 'chmod': case 'pkill': case 'true':
        return this.ok();
      case 'losetup':
        if (args[0] === '--find') {
          this.loops.set(`/dev/loop${this.loops.size}`, args[2]!);
          return this.ok(`/dev/loop${this.loops.size - 1}\n`);
        }
        this.loops.delete(args[1]!);
        return this.ok();
      case 'ip':
        return this.ok('3: xenbr0    inet 10.0.2.15/24 brd 10.0.2.255 scope global xenbr0\n');
      case 'stat':
        return { code: 1, stdout: '', stderr: 'no such file' };
      case 'getconf':
        return args[0] === '_NPROCESSORS_ONLN' ? this.ok(`${this.cpus}\n`) : this.other(a);
      default:
        return this.other(a);
    }
  }

  /**
   * xl's monitor stopped in the middle of the on_poweroff="destroy" it carries out after a guest shut
   * down: libxl (tools/libs/light/libxl_domain.c, libxl__destroy_domid then devices_destroy_cb) has
   * paused the domain, removed its devices and its xenstore home, and not yet forked the child that
   * calls xc_domain_destroy. The domain stays, paused, shut down and nameless: `xl list` names it
   * `(null)`, `xl domid <name>` no longer finds it, `xl destroy <domid>` still does.
   */
  /** RELEASE_SCRIPT's arguments: how many loop devices, the devices, then files. */
  private release(args: string[]): ExecResult {
    const n = Number(args[0]);
    for (const loop of args.slice(1, 1 + n)) this.loops.delete(loop);
    for (const f of args.slice(1 + n)) this.files.delete(f);
    return this.ok();
  }

  stopMonitorMidDestroy(name: string): void {
    const d = this.domains.get(name)!;
    this.domains.delete(name);
    for (const k of [...this.xs.keys()]) if (k.startsWith(`/local/domain/${d.domid}/`) || /^\/local\/domain\/0\/backend\/[^/]+\/(\d+)\//.exec(k)?.[1] === String(d.domid)) this.xs.delete(k);
    d.name = '(null)';
    d.state = '--ps--';
    this.domains.set(`(null)#${d.domid}`, d);
  }

  private xl(args: string[]): ExecResult {
    const [sub, ...r] = args;
    // a domain qualifier is a domid when it is all digits (libxl_domain_qualifier_to_domid), else a name
    const byName = (n: string) => (/^\d+$/.test(n) ? [...this.domains.values()].find((d) => d.domid === Number(n)) : n === '(null)' ? undefined : this.domains.get(n));
    const keyOf = (d: FakeDomain) => [...this.domains].find(([, x]) => x === d)![0];
    const uuidOf = (d: FakeDomain) => /^uuid = "(.*)"$/m.exec(d.config ?? '')?.[1] ?? '00000000-0000-0000-0000-000000000000';
    switch (sub) {
      case 'info':
        // `xl info`'s lines as xl prints them (tools/xl/xl_info.c output_physinfo: free_memory in MiB)
        return this.ok(`total_memory           : 4095\nfree_memory            : ${this.freeMemoryMiB}\nxen_version            : 4.17.7\nvirt_caps              : ${this.virtCaps}\n`);
      case 'create': {
        const cfg = this.files.get(r[r.length - 1]!) ?? '';
        const name = /^name = "(.*)"$/m.exec(cfg)?.[1];
        if (!name) return { code: 1, stdout: '', stderr: 'bad config' };
        const d: FakeDomain = { name, domid: this.nextDomid++, state: r.includes('-p') ? '--p---' : 'r-----', config: cfg };
        this.domains.set(name, d);
        this.addDevices(d);
        return this.ok();
      }
      case 'migrate':
        return this.migrate(r);
      case 'network-attach': {
        // `xl network-attach <domain> key=value...`: libxl adds both halves (libxl_nic.c)
        const d = byName(r[0]!);
        if (!d) return { code: 1, stdout: '', stderr: 'invalid domain identifier' };
        const kv = Object.fromEntries(r.slice(1).map((a) => a.split('=') as [string, string]));
        const back = `/local/domain/0/backend/vif/${d.domid}/${kv.devid}`;
        this.setKey(`${back}/state`, '2');
        this.setKey(`/local/domain/${d.domid}/device/vif/${kv.devid}/backend`, back);
        if (kv.mac) for (const dir of [back, `/local/domain/${d.domid}/device/vif/${kv.devid}`]) this.setKey(`${dir}/mac`, kv.mac);
        return this.ok();
      }
      case 'domid': {
        const d = byName(r[0]!);
        return d ? this.ok(`${d.domid}\n`) : { code: 1, stdout: '', stderr: `${r[0]} is an invalid domain identifier` };
      }
      case 'unpause': case 'pause': case 'destroy': case 'shutdown': {
        const d = byName(r[r.length - 1]!);
        if (!d) return { code: 1, stdout: '', stderr: 'invalid domain identifier' };
        if (sub === 'destroy' || sub === 'shutdown') {
          this.domains.delete(keyOf(d));
          setImmediate(() => this.releaseDomain());
        } else {
          const starts = sub === 'unpause' && d.state.includes('p');
          d.state = sub === 'pause' ? '--p---' : 'r-----';
          if (starts) this.started(d);
        }
        return this.ok();
      }
      case 'sysrq': {
        // the guest kernel handles control/sysrq; `c` panics it and on_crash="preserve" keeps it listed
        const d = byName(r[0]!);
        if (!d) return { code: 1, stdout: '', stderr: 'invalid domain identifier' };
        if (r[1] === 'c' && !d.state.includes('p')) {
          d.state = '---sc-';
          setImmediate(() => this.releaseDomain());
        }
        return this.ok();
      }
      case 'list': {
        // `xl list [-v] [domain]`, as tools/xl/xl_list.c list_domains prints it (-v: the UUID, reason code, label)
        const verbose = r[0] === '-v';
        const q = verbose ? r.slice(1) : r;
        const ds = q.length ? [byName(q[0]!)].filter((x): x is FakeDomain => !!x) : [...this.domains.values()];
        if (q.length && !ds.length) return { code: 1, stdout: '', stderr: 'invalid domain' };
        const head = 'Name                                        ID   Mem VCPUs\tState\tTime(s)' + (verbose ? '   UUID                            Reason-Code\tSecurity Label' : '');
        return this.ok(head + '\n' + ds.map((d) => `${d.name.padEnd(40)} ${String(d.domid).padStart(5)}   128     1     ${d.state}       0.1` + (verbose ? ` ${uuidOf(d)}        -                -` : '')).join('\n') + '\n');
      }
      default:
        return this.other(['xl', ...args]);
    }
  }

  /** libxl writes both halves of each device of the config: the backend, and the frontend's
   *  `backend` key naming it (libxl_device.c libxl__device_generic_add). */
  private addDevices(d: FakeDomain): void {
    const cfg = d.config ?? '';
    for (const m of cfg.matchAll(/vdev=(xvd[a-z]+)/g)) {
      const id = m[1] === 'xvda' ? 51712 : 51728;
      this.setKey(`/local/domain/0/backend/vbd/${d.domid}/${id}/state`, '2');
      this.setKey(`/local/domain/${d.domid}/device/vbd/${id}/backend`, `/local/domain/0/backend/vbd/${d.domid}/${id}`);
      this.setKey(`/local/domain/${d.domid}/device/vbd/${id}/state`, '1');
    }
    for (const m of cfg.matchAll(/devid=(\d+)(?:,script=[^,"]*)?(?:,mac=([0-9a-f:]{17}))?/g)) {
      this.setKey(`/local/domain/0/backend/vif/${d.domid}/${m[1]}/state`, '2');
      this.setKey(`/local/domain/${d.domid}/device/vif/${m[1]}/backend`, `/local/domain/0/backend/vif/${d.domid}/${m[1]}`);
      this.setKey(`/local/domain/${d.domid}/device/vif/${m[1]}/state`, '1');
      // libxl writes the MAC into both halves (libxl_nic.c libxl__set_xenstore_nic / _nic_frontend)
      if (m[2]) for (const dir of [`/local/domain/0/backend/vif/${d.domid}`, `/local/domain/${d.domid}/device/vif`].map((x) => `${x}/${m[1]}`)) this.setKey(`${dir}/mac`, m[2]);
    }
    this.setKey(`/local/domain/${d.domid}/control/shutdown`, '');
  }

  /** The domain's frontends connect once it runs (with `frontends` on), as Linux's blkfront and
   *  netfront do: vbd Initialised then Connected after the backend, vif Connected after the backend. */
  private started(d: FakeDomain): void {
    if (!this.frontends || (this.noReconnectAfterMigrate && this.migrated.has(d.domid))) return;
    const tick = () => new Promise<void>((r) => setTimeout(r, 1));
    void (async () => {
      await tick();
      const devs = [...this.xs.keys()].map((k) => new RegExp(`^/local/domain/${d.domid}/device/(vbd|vif)/(\\d+)/backend$`).exec(k)).filter((m): m is RegExpExecArray => !!m);
      for (const [, type, id] of devs) {
        const fe = `/local/domain/${d.domid}/device/${type}/${id}`;
        const be = this.xs.get(`${fe}/backend`)!;
        // blkfront: Initialised on the backend's InitWait, Connected after it; netfront: Connected on InitWait
        const steps: [string, string][] = type === 'vbd' ? [[fe, '3'], [be, '4'], [fe, '4']] : [[fe, '4'], [be, '4']];
        for (const [dir, state] of steps) {
          this.setKey(`${dir}/state`, state);
          await tick();
        }
      }
    })();
  }

  /** The domain's xenstore trees go with it (libxl__destroy_domid: devices, then its home). */
  private forget(d: FakeDomain): void {
    for (const k of [...this.xs.keys()]) {
      if (k.startsWith(`/local/domain/${d.domid}/`) || new RegExp(`^/local/domain/0/backend/[a-z0-9]+/${d.domid}/`).test(k)) this.xs.delete(k);
    }
    for (const w of this.watchers) {
      w(`/local/domain/${d.domid}`);
      w(`/local/domain/0/backend/vbd/${d.domid}`);
      w(`/local/domain/0/backend/vif/${d.domid}`);
    }
    this.domains.delete(d.name);
  }

  /**
   * `xl migrate [-s SSHCMD] [-p] [-e] <domain> <host>` as tools/xl/xl_migrate.c (4.17) does it,
   * to this same dom0 only (`-s ''` with host `xl migrate-receive [-p]`: the host argument is the
   * receiver's command, create_migration_child). main_migrate: find_domain (xl_utils.c) refuses an
   * unknown domain with "<p> is an invalid domain identifier (rc=-6)" (ERROR_INVAL), exit 1.
   * migrate_receive builds the new domain as `<name>--incoming` (xl_vmcontrol.c create_domain) from the
   * config the sender sent, paused; libxl_domain_suspend writes control/shutdown "suspend", which the
   * guest acknowledges by clearing it (libxl_dom_suspend.c domain_suspend_common_pvcontrol_suspending;
   * no acknowledgement: "guest didn't acknowledge suspend, cancelling request", ERROR_GUEST_TIMEDOUT,
   * "Migration failed, failed to suspend at sender.", exit 1, the guest running on). migrate_domain
   * then renames the old domain `<name>--migratedaway`, the receiver renames its domain to `<name>` and
   * unpauses it unless -p, and the sender destroys the old one ("Migration successful.", exit 0).
   */
  private migrate(args: string[]): ExecResult {
    let rune: string | undefined;
    const pos: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '-s') rune = args[++i];
      else if (a === '-C') i++;
      else if (/^-[Fep]$|^--(debug|live)$/.test(a)) continue;
      else pos.push(a);
    }
    if (pos.length !== 2) return this.other(['xl', 'migrate', ...args]);
    const [p, host] = pos as [string, string];
    const d = /^\d+$/.test(p) ? [...this.domains.values()].find((x) => x.domid === Number(p)) : this.domains.get(p);
    if (!d) return { code: 1, stdout: '', stderr: `${p} is an invalid domain identifier (rc=-6)\n` };
    const recv = rune === '' ? /^xl migrate-receive((?: -[edp])*)$/.exec(host) : null;
    if (!recv) return this.other(['xl', 'migrate', ...args]); // another host: not this double's
    const said: string[] = ['migration target: Ready to receive domain.'];
    const fail = (tail: string[]) => ({ code: 1, stdout: '', stderr: [...said, ...tail].join('\n') + '\n' });
    const incoming: FakeDomain = { name: `${d.name}--incoming`, domid: this.nextDomid++, state: '--p---', config: d.config };
    this.domains.set(incoming.name, incoming);
    this.addDevices(incoming);
    if (!/^type = "hvm"$/m.test(d.config ?? '') && !this.virtCaps.split(' ').includes('shadow')) {
      // A PV guest's log-dirty mode is shadow paging's; without it (xen/arch/x86/mm/shadow/none.c
      // _enable_log_dirty: -EOPNOTSUPP) libxc's enable_logdirty (xg_sr_save.c) fails before the guest is
      // asked to suspend. The lines as the lab's xl printed them (Debian's Xen 4.17.7, virt_caps pv hvm hap).
      this.forget(incoming);
      return fail([
        `xc: info: Saving domain ${d.domid}, type x86 PV`,
        'xc: error: Failed to enable logdirty: 95,22,0 (22 = Invalid argument): Internal error',
        'xc: error: Save failed (22 = Invalid argument): Internal error',
        `libxl: error: libxl_stream_write.c:347:libxl__xc_domain_save_done: Domain ${d.domid}:saving domain: domain did not respond to suspend request: Invalid argument`,
        'migration sender: libxl_domain_suspend failed (rc=-8)',
        'migration target: Domain creation failed (code -3).',
        'Migration failed, failed to suspend at sender.',
      ]);
    }
    this.setKey(`/local/domain/${d.domid}/control/shutdown`, 'suspend');
    if (this.noSuspendAck) {
      this.setKey(`/local/domain/${d.domid}/control/shutdown`, '');
      this.forget(incoming);
      return fail([`libxl: error: libxl_dom_suspend.c:269:domain_suspend_common_pvcontrol_suspending: Domain ${d.domid}:guest didn't acknowledge suspend, cancelling request`, 'migration sender: libxl_domain_suspend failed (rc=-8)', 'Migration failed, failed to suspend at sender.']);
    }
    this.setKey(`/local/domain/${d.domid}/control/shutdown`, '');
    d.state = '---ss-';
    said.push('migration target: Transfer complete, requesting permission to start domain.', 'migration sender: Target has acknowledged transfer.');
    this.domains.delete(d.name);
    d.name = `${d.name}--migratedaway`;
    this.domains.set(d.name, d);
    said.push('migration sender: Giving target permission to start.', 'migration target: Got permission, starting domain.');
    this.domains.delete(incoming.name);
    incoming.name = d.name.replace(/--migratedaway$/, '');
    this.domains.set(incoming.name, incoming);
    this.migrated.add(incoming.domid);
    if (!recv[1]!.includes('-p')) {
      incoming.state = 'r-----';
      this.started(incoming);
    }
    said.push('migration target: Domain started successsfully.', 'migration sender: Target reports successful startup.');
    this.forget(d);
    setImmediate(() => this.releaseDomain());
    said.push('Migration successful.');
    return { code: 0, stdout: '', stderr: said.join('\n') + '\n' };
  }

  stream(line: string, onLine: (line: string) => void): LineStream {
    this.lines.push(line);
    let finish!: (r: ExecResult) => void;
    const done = new Promise<ExecResult>((r) => (finish = r));
    if (unquote(line)[2] === RING_LOOP_SCRIPT) {
      // no netback debugfs here (above): the loop's `[ -d "$1" ]` fails at once, it prints G and exits 0
      setImmediate(() => {
        onLine('G');
        finish({ code: 0, stdout: '', stderr: '' });
      });
      return { stop: () => undefined, write: () => undefined, done };
    }
    const root = unquote(line).pop()!;
    // dom0 without Perl: xenstore-watch and one xenstore-read per event (the value as the tool prints it)
    const say = (p: string) => onLine(this.exists(p) ? `V${p} ${Buffer.from(toolPrints(this.valueOf(p)), 'latin1').toString('base64')}` : `N${p}`);
    const w = (p: string) => {
      if (p === root || p.startsWith(root + '/')) say(p);
    };
    const late = (paths: [string, [number, number]][]) => {
      const mine = paths.filter(([p]) => p === root || p.startsWith(root + '/'));
      if (mine.length === 1) say(mine[0]![0]);
      if (mine.length < 2) return;
      // the Perl reader's lines: raw values in hex, each with its writes' places
      onLine(`B${mine.length}`);
      for (const [p, [first, last]] of mine) onLine(`${this.exists(p) ? `X${p} ${Buffer.from(this.valueOf(p)).toString('hex')}` : `N${p}`} #${first},${last}`);
    };
    // the watch is registered a moment after the command starts, and xenstored fires it once then:
    // changes before that are not reported, and none comes ahead of the registration event
    setImmediate(() => {
      this.watchers.push(w);
      this.batchWatchers.push(late);
      say(root);
    });
    const stop = (r: ExecResult) => {
      this.watchers = this.watchers.filter((x) => x !== w);
      this.batchWatchers = this.batchWatchers.filter((x) => x !== late);
      this.watchEnds.delete(stop);
      finish(r);
    };
    this.watchEnds.add(stop);
    return { stop: () => stop({ code: 0, stdout: '', stderr: '' }), write: () => undefined, done };
  }

  private readonly watchEnds = new Set<(r: ExecResult) => void>();

  /** Ends every xenstore-watch stream from dom0's side (xenstored restarted, the tool killed). */
  endWatchStreams(): void {
    for (const end of [...this.watchEnds]) end({ code: 1, stdout: '', stderr: 'xenstore-watch: xs_watch: Connection reset by peer\n' });
  }

  async putFile(local: string | Buffer, remotePath: string): Promise<void> {
    this.files.set(remotePath, local.toString());
  }

  onClose(cb: (err?: Error) => void): void {
    this.closeCbs.push(cb);
  }

  /** Simulates the SSH connection dropping. */
  drop(): void {
    for (const cb of this.closeCbs) cb(new Error('connection reset'));
  }

  async close(): Promise<void> {
    /* nothing to release */
  }
}
