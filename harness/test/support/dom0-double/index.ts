// dom0 of the test pool, reached over real SSH (the test SSH server): it answers the xenstore-*
// tools, netback's debugfs io_ring_q* files and the backend statistics from a xenstore that follows
// the pool: a started domain gets its backends (Initialising -> InitWait) and frontends; when the
// guest reports PV drivers its frontends connect the way blkback/netback and the Windows drivers do.
import { startTestSshServer, type TestSshServer } from '../ssh-server';
import type { FakePool } from '../xapi-server/pool';
import { FakeNetbackDebugfs } from '../netback-debugfs';
import { IO_RINGS_SCRIPT, RING_LOOP_SCRIPT } from '../../../src/hosts/netback-rings';
import { BATCH_READ_SCRIPT, PERL_READER_CHECK, WATCH_SCRIPT } from '../../../src/hosts/dom0-xenstore';
import { toolPrints, toolStores } from '../xenstore-tools';

export class FakeXenstore {
  readonly nodes = new Map<string, string>();
  readonly watchers = new Set<(path: string) => void>();
  write(path: string, value: string) {
    // parents exist implicitly, as with xenstore-write
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const p = '/' + parts.slice(0, i).join('/');
      if (!this.nodes.has(p)) this.nodes.set(p, '');
    }
    this.nodes.set(path, value);
    for (const w of this.watchers) w(path);
  }
  rm(path: string) {
    const had = [...this.nodes.keys()].filter((k) => k === path || k.startsWith(path + '/'));
    for (const k of had) this.nodes.delete(k);
    if (had.length) for (const w of this.watchers) w(path);
    return had.length > 0;
  }
  list(path: string): string[] | undefined {
    if (!this.nodes.has(path)) return undefined;
    const pre = path === '/' ? '/' : path + '/';
    return [...new Set([...this.nodes.keys()].filter((k) => k.startsWith(pre)).map((k) => k.slice(pre.length).split('/')[0]!))];
  }
}

/** Xen vdev numbers of the device names XAPI gives HVM guests. */
const vdev = (name: string) => ({ hda: 768, hdb: 832, hdc: 5632, hdd: 5696 } as Record<string, number>)[name] ?? 51712 + 16 * (name.charCodeAt(3) - 97);

/** Parse the words of a POSIX sh command line built with shQuote. */
function shWords(s: string): string[] {
  const out: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|([^\s']+)/g;
  for (const m of s.matchAll(re)) out.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!);
  return out;
}

export interface Dom0Double {
  ssh: TestSshServer;
  xs: FakeXenstore;
  /** Faults to plant. keysLostAfterResume: after a resume (a new domain built from the suspend
   *  image) xenbus does not write drivers/<N> and control/feature-suspend again. silentGuests: a
   *  template that never talks on its emulated NIC: dom0's neighbour table never learns it.
   *  staleMs: how long a halted guest's entry stays STALE before a probe leaves it FAILED.
   *  dhcpInDom0: the test network's DHCP server runs in dom0 (dnsmasq, its leases in DNSMASQ_LEASES).
   *  load1: dom0's 1-minute load average (/proc/loadavg) on its dom0Cpus CPUs.
   *  agentSilentAfterMigrate: after a live migration the guest agents (xenagent, the XenServer guest
   *  agent) are not told of the resume and do not write their keys into the new domain. */
  faults: { keysLostAfterResume: boolean; silentGuests: boolean; staleMs: number; dhcpInDom0: boolean; load1: number; dom0Cpus: number; agentSilentAfterMigrate?: boolean };
  /** ntttcp-for-linux runs (arguments). */
  ntttcpRuns: string[];
  /** The backend disks are served by: tapdisk3 (`vbd3`, XenServer 7+ / XCP-ng 8, the default) or
   *  blkback (`vbd`, older pools and xl). Set before guests start. */
  disks: { backend: 'vbd3' | 'vbd' };
  close(): Promise<void>;
}

/** Where the test network's dnsmasq in dom0 keeps its leases (dnsmasq's default lease file). */
export const DNSMASQ_LEASES = '/var/lib/misc/dnsmasq.leases';

/** `perl: false`: a dom0 without Perl, where the watch stream is xenstore-watch + xenstore-read. */
export async function startDom0Double(pool: FakePool, o: { user: string; password: string; diskBackend?: 'vbd3' | 'vbd'; perl?: boolean }): Promise<Dom0Double> {
  const perl = o.perl ?? true;
  const xs = new FakeXenstore();
  xs.write('/local/domain/0/name', 'Domain-0');
  const ntttcpRuns: string[] = [];
  const domains = new Map<string, number>(); // VM ref -> domid
  const migratedDomains = new Set<number>();
  const connected = new Set<number>();
  const faults: Dom0Double['faults'] = { keysLostAfterResume: false, silentGuests: false, staleMs: 60_000, dhcpInDom0: false, load1: 0.42, dom0Cpus: 4, agentSilentAfterMigrate: false };
  // A pool's disks come through sm, whose attach hands xenopsd backend_type "vbd3" (tapdisk3);
  // xenopsd then writes backend/vbd3/<domid>/<devid> (xen-api ocaml/xenopsd/xc/device.ml,
  // supported_vbd_backends = vbd, vbd3, qdisk).
  const disks = { backend: o.diskBackend ?? ('vbd3' as 'vbd3' | 'vbd') };
  /** tapdisk3 processes by device: the pid tapback writes as kthread-pid, and the request counters
   *  tapdisk keeps in /dev/shm/td3-<pid>/vbd-<domid>-<devid> (xenstat's read_attributes_vbd3). */
  const tapdisks = new Map<string, { pid: number; rd: number; wr: number }>();
  let nextPid = 4242;
  const beDir = (kind: 'vbd' | 'vif', domid: number, id: number) => `/local/domain/0/backend/${kind === 'vbd' ? disks.backend : 'vif'}/${domid}/${id}`;
  /** VMs suspended now, and the domains built for them by a resume. */
  const suspended = new Set<string>();
  const resumedDomains = new Set<number>();

  const devicesOf = (vmRef: string) => {
    const vm = pool.objects.get(vmRef)?.rec;
    if (!vm) return { vbds: [] as number[], vifs: [] as number[] };
    const vbds = (vm.VBDs as string[]).map((b) => pool.objects.get(b)?.rec).filter((b) => b && b.type === 'Disk' && b.currently_attached).map((b) => vdev(String(b!.device)));
    const vifs = (vm.VIFs as string[]).map((v) => pool.objects.get(v)?.rec).filter((v) => v && v.currently_attached).map((v) => Number(v!.device));
    return { vbds, vifs };
  };

  /** The VIF's MAC, as the toolstack writes it into both halves of the device. */
  const vifMac = (domid: number, id: number) => {
    const vmRef = [...domains].find(([, d]) => d === domid)?.[0];
    const vif = vmRef ? (pool.objects.get(vmRef)?.rec.VIFs as string[]).map((v) => pool.objects.get(v)?.rec).find((v) => v && Number(v.device) === id) : undefined;
    return String(vif?.MAC ?? '');
  };

  /** The toolstack creates a device: backend Initialising -> InitWait with its features, frontend Initialising. */
  function deviceUp(domid: number, kind: 'vbd' | 'vif', id: number) {
    const be = beDir(kind, domid, id);
    const fe = `/local/domain/${domid}/device/${kind}/${id}`;
    xs.write(`${be}/frontend`, fe);
    xs.write(`${be}/frontend-id`, String(domid));
    xs.write(`${be}/online`, '1');
    xs.write(`${be}/state`, '1');
    xs.write(`${fe}/backend`, be);
    xs.write(`${fe}/backend-id`, '0');
    const mac = kind === 'vif' ? vifMac(domid, id) : '';
    if (kind === 'vif') {
      xs.write(`${fe}/mac`, mac);
      xs.write(`${fe}/mtu`, '1500');
    }
    xs.write(`${fe}/state`, '1');
    if (kind === 'vbd' && disks.backend === 'vbd3') {
      // tapdisk3: tapback writes max-ring-page-order 3 as the directory appears; the hotplug script
      // starts a tapdisk and writes physical-device (its tapdev major:minor in hex) and hotplug-status;
      // tapback then finds the tapdisk, writes kthread-pid (its pid) and goes InitWait. No queue or
      // other features (blktap tapback/backend.c tapback_backend_create_device, physical_device_path_changed,
      // hotplug_status_changed; frontend.c frontend_changed; hosts/sim/tapback.ts).
      xs.write(`${be}/max-ring-page-order`, '3');
      const pid = nextPid++;
      tapdisks.set(`${domid}/${id}`, { pid, rd: 0, wr: 0 });
      xs.write(`${be}/physical-device`, `fe:${(tapdisks.size - 1).toString(16)}`);
      xs.write(`${be}/hotplug-status`, 'connected');
      xs.write(`${be}/kthread-pid`, String(pid));
    } else if (kind === 'vbd') {
      for (const [k, v] of [['max-ring-page-order', '4'], ['feature-persistent', '1'], ['feature-max-indirect-segments', '256'], ['feature-flush-cache', '1'], ['feature-discard', '1'], ['multi-queue-max-queues', '2']]) xs.write(`${be}/${k}`, v);
    } else {
      for (const [k, v] of [['feature-sg', '1'], ['feature-gso-tcpv4', '1'], ['feature-gso-tcpv6', '1'], ['feature-rx-copy', '1'], ['feature-split-event-channels', '1'], ['feature-ctrl-ring', '1'], ['multi-queue-max-queues', '2'], ['mac', mac]]) xs.write(`${be}/${k}`, v);
    }
    xs.write(`${be}/state`, '2');
  }

  let gref = 8;
  let port = 10;
  /** A frontend of the Windows drivers connects as the specs say (xenvbd: keys, Initialised, backend
   *  Connected, Connected; xenvif: keys while Initialising, then straight to Connected). */
  function deviceConnect(domid: number, kind: 'vbd' | 'vif', id: number) {
    const home = `/local/domain/${domid}`;
    const fe = `${home}/device/${kind}/${id}`;
    const be = beDir(kind, domid, id);
    if (kind === 'vbd') {
      const target = [768, 832, 5632, 5696].indexOf(id) >= 0 ? [768, 832, 5632, 5696].indexOf(id) : (id - 51712) >> 4;
      xs.write(`${fe}/target-id`, String(target));
      xs.write(`${fe}/feature-surprise-remove`, '1');
      xs.write(`${fe}/feature-online-resize`, '1');
      xs.write(`${fe}/feature-large-sector-size`, '1');
      // xenvbd takes the smaller of the backend's max-ring-page-order and its own maximum (4), and a
      // single-page ring (ring-ref) when the backend offers none (win-xenvbd src/xenvbd/frontend.c,
      // reading the backend's features; tapdisk3 offers none, blkback does)
      const order = Math.min(Number(xs.nodes.get(`${be}/max-ring-page-order`) ?? '0'), 4);
      if (order > 0) {
        xs.write(`${fe}/ring-page-order`, String(order));
        for (let i = 0; i < 2 ** order; i++) xs.write(`${fe}/ring-ref${i}`, String(gref++));
      } else xs.write(`${fe}/ring-ref`, String(gref++));
      xs.write(`${fe}/event-channel`, String(port++));
      xs.write(`${fe}/multi-queue-num-queues`, '1'); // always, 1 included (ring.c RingStoreWrite)
      xs.write(`${fe}/protocol`, 'x86_64-abi');
      xs.write(`${fe}/feature-persistent`, '1');
      xs.write(`${home}/data/scsi/target/${target}/frontend`, fe);
      xs.write(`${home}/data/scsi/target/${target}/device`, String(id));
      xs.write(`${fe}/state`, '3');
      // tapback's connect_frontend writes feature-barrier, sector-size, sectors and info in one
      // transaction, then Connected; blkback's connect writes sectors, sector-size, info
      if (disks.backend === 'vbd3') xs.write(`${be}/feature-barrier`, '1');
      xs.write(`${be}/sectors`, '2097152');
      xs.write(`${be}/sector-size`, '512');
      xs.write(`${be}/info`, '0');
      xs.write(`${be}/state`, '4');
      xs.write(`${fe}/state`, '4');
    } else {
      for (const k of ['tx-ring-ref', 'rx-ring-ref']) xs.write(`${fe}/${k}`, String(gref++));
      // the backend offers feature-split-event-channels: xenvif takes one channel per direction
      xs.write(`${fe}/event-channel-tx`, String(port++));
      xs.write(`${fe}/event-channel-rx`, String(port++));
      // the backend offers feature-ctrl-ring: xenvif sets up the control ring
      xs.write(`${fe}/ctrl-ring-ref`, String(gref++));
      xs.write(`${fe}/event-channel-ctrl`, String(port++));
      for (const [k, v] of [['multi-queue-num-queues', '1'], ['request-rx-copy', '1'], ['feature-sg', '1'], ['feature-rx-notify', '1'], ['feature-gso-tcpv4', '1'], ['feature-gso-tcpv6', '1']]) xs.write(`${fe}/${k}`, v);
      xs.write(`${fe}/state`, '4');
      xs.write(`${be}/state`, '4');
      netback.connect(domid, id);
      xs.write(`${home}/feature/hotplug/vif`, '1');
      xs.write(`${home}/attr/vif/${id}/ipv4/0`, '127.0.0.2');
    }
  }

  /** Unplug by the toolstack: the backend goes Closing, the Windows frontend answers Closed (the
   *  drivers' surprise-removal path), the backend Closed, then both directories go. */
  function deviceDown(domid: number, kind: 'vbd' | 'vif', id: number) {
    const be = beDir(kind, domid, id);
    const fe = `/local/domain/${domid}/device/${kind}/${id}`;
    if (xs.nodes.has(`${be}/state`)) {
      xs.write(`${be}/state`, '5');
      if (connected.has(domid)) xs.write(`${fe}/state`, '6');
      xs.write(`${be}/state`, '6');
    }
    xs.rm(be);
    xs.rm(fe);
    if (kind === 'vbd') tapdisks.delete(`${domid}/${id}`);
    else netback.disconnect(domid, id);
  }

  function domainUp(vmRef: string, domid: number) {
    domains.set(vmRef, domid);
    const home = `/local/domain/${domid}`;
    xs.write(`${home}/domid`, String(domid));
    xs.write(`${home}/name`, String(pool.objects.get(vmRef)?.rec.name_label ?? ''));
    const { vbds, vifs } = devicesOf(vmRef);
    for (const id of vbds) deviceUp(domid, 'vbd', id);
    for (const id of vifs) deviceUp(domid, 'vif', id);
  }

  /** The Windows drivers come up: xenbus's guest keys, then every frontend connects. */
  function pvConnect(vmRef: string, domid: number, version: string) {
    if (connected.has(domid)) return;
    connected.add(domid);
    const home = `/local/domain/${domid}`;
    if (!(faults.keysLostAfterResume && resumedDomains.has(domid))) {
      xs.write(`${home}/drivers/0`, `XenProject XENBUS ${version}`);
      if (pool.guests.get(vmRef)?.xeniface) xs.write(`${home}/drivers/1`, `XenProject XENIFACE ${version}`);
      xs.write(`${home}/control/feature-suspend`, '1');
    }
    const { vbds, vifs } = devicesOf(vmRef);
    for (const id of vbds) deviceConnect(domid, 'vbd', id);
    for (const id of vifs) deviceConnect(domid, 'vif', id);
    if (pool.guests.get(vmRef)?.agent && !(faults.agentSilentAfterMigrate && migratedDomains.has(domid))) agentKeys(home, version);
  }

  /** What the guest agents write once they run (they reach xenstore through xeniface), and again in
   *  each new domain after a resume or migration, told of it by xeniface: xenagent its shutdown
   *  capabilities (win-xeniface src/xenagent xenifacedevice.cpp: control/feature-poweroff, -reboot,
   *  -s3, -s4, -laptop-slate-mode; drivers-spec/xeniface.xml), the XenServer guest agent the OS and the tools' version (win-xenguestagent
   *  XenService.cs: data/os_*, attr/PVAddons/*, data/meminfo_*), the keys xapi reads into
   *  VM_guest_metrics (xen-api ocaml/xapi/xapi_guest_agent.ml). */
  function agentKeys(home: string, version: string) {
    for (const f of ['poweroff', 'reboot', 's3', 's4', 'laptop-slate-mode']) xs.write(`${home}/control/feature-${f}`, '1');
    const [major = '0', minor = '0', micro = '0', build = '0'] = version.split('.');
    const keys: [string, string][] = [
      ['data/os_name', 'Microsoft Windows Server 2022 Datacenter|C:\\Windows|\\Device\\Harddisk0\\Partition2'], ['data/os_distro', 'windows'], ['data/os_majorver', '10'], ['data/os_minorver', '0'],
      ['attr/PVAddons/MajorVersion', major], ['attr/PVAddons/MinorVersion', minor], ['attr/PVAddons/MicroVersion', micro], ['attr/PVAddons/BuildVersion', build], ['attr/PVAddons/Installed', '1'],
      ['data/meminfo_total', '2096696'], ['data/meminfo_free', '1519812'],
    ];
    for (const [k, v] of keys) xs.write(`${home}/${k}`, v);
  }

  function domainDown(vmRef: string) {
    const domid = domains.get(vmRef);
    if (domid === undefined) return;
    domains.delete(vmRef);
    connected.delete(domid);
    netback.disconnect(domid);
    xs.rm(`/local/domain/0/backend/${disks.backend}/${domid}`);
    xs.rm(`/local/domain/0/backend/vif/${domid}`);
    for (const k of [...tapdisks.keys()]) if (k.startsWith(`${domid}/`)) tapdisks.delete(k);
    xs.rm(`/local/domain/${domid}`);
  }

  const attached = new Map<string, boolean>();
  const listener = (cls: string, _op: string, ref: string, rec: Record<string, unknown> | null) => {
    if ((cls === 'VBD' || cls === 'VIF') && rec && !(cls === 'VBD' && rec.type !== 'Disk')) {
      // Hot-plug and unplug on a running domain (devices attached while the domain is being built
      // come up with domainUp; a halted domain's devices go with domainDown).
      const on = rec.currently_attached === true;
      const was = attached.get(ref) ?? false;
      attached.set(ref, on);
      const domid = domains.get(String(rec.VM));
      if (on === was || domid === undefined) return;
      const kind = cls === 'VBD' ? 'vbd' : 'vif';
      const id = kind === 'vbd' ? vdev(String(rec.device)) : Number(rec.device);
      const present = xs.nodes.has(`${beDir(kind, domid, id)}/state`);
      if (on && !present) {
        deviceUp(domid, kind, id);
        if (connected.has(domid)) deviceConnect(domid, kind, id);
      } else if (!on && present) deviceDown(domid, kind, id);
      return;
    }
    if (cls === 'VM') {
      const prev = domains.get(ref);
      // A paused domain exists too (built, backends created); a crashed one kept for its dump as well.
      const running = rec && (rec.power_state === 'Running' || rec.power_state === 'Paused') ? Number(rec.domid) : undefined;
      if (prev !== undefined && prev !== running) domainDown(ref);
      if (rec?.power_state === 'Suspended') suspended.add(ref);
      else if (!rec || (rec.power_state === 'Halted' && rec.suspend_VDI === 'OpaqueRef:NULL')) suspended.delete(ref);
      if (running !== undefined && running !== prev) {
        if (suspended.delete(ref)) resumedDomains.add(running);
        // a live migration: running in one domain, then in another, with no halt between
        if (prev !== undefined) migratedDomains.add(running);
        domainUp(ref, running);
      }
      // the guest's PV drivers run (whether or not an agent reports them to xapi): their frontends
      // connect; xenbus's control/feature-* writes are what makes xapi create the guest metrics
      const pv = running !== undefined && rec && rec.guest_metrics !== 'OpaqueRef:NULL' ? pool.guests.get(ref)?.pvVersion : undefined;
      if (pv && running !== undefined) pvConnect(ref, running, `${pv.major}.${pv.minor}.${pv.micro}.${pv.build}`);
    }
  };
  pool.listeners.add(listener);

  // netback's debugfs: a vif's directory exists while its rings are connected (xen-netback
  // xenbus.c: xenvif_debugfs_addif when connect() maps the rings, xenvif_debugfs_delif on
  // disconnect). The indices move on, all requests answered (a busy, healthy netback queue): every
  // tick while a sampling loop runs, and at every one-shot read.
  const netback = (() => {
    const debugfs = new FakeNetbackDebugfs();
    const vifs = new Map<string, { domid: number; devid: number; n: number }>();
    let loops = 0;
    let ticker: NodeJS.Timeout | undefined;
    const advance = () => {
      for (const v of vifs.values()) {
        v.n++;
        const q = (i: number) => ({ tx: 4096 + 16 * v.n + i, rx: 8192 + 32 * v.n + i });
        debugfs.set(v.domid, v.devid, [q(0), q(1)]);
      }
    };
    return {
      debugfs,
      advance,
      connect(domid: number, devid: number) {
        vifs.set(`${domid}.${devid}`, { domid, devid, n: 0 });
        advance();
      },
      disconnect(domid: number, devid?: number) {
        for (const [k, v] of [...vifs]) {
          if (v.domid !== domid || (devid !== undefined && v.devid !== devid)) continue;
          vifs.delete(k);
          debugfs.remove(v.domid, v.devid);
        }
      },
      loopStarted() {
        if (loops++ === 0) ticker = setInterval(advance, 25);
      },
      loopEnded() {
        if (--loops === 0) clearInterval(ticker);
      },
      close() {
        clearInterval(ticker);
        debugfs.close();
      },
    };
  })();

  /** The sampler's scripts run by /bin/sh on the fake debugfs, as sshd runs a command line; the
   *  channel closing closes the shell's stdout, as sshd does, and the loop ends on its next write. */
  const runNetbackScript = (w: string[], ctx: { stdout(s: string): void; stderr(s: string): void; channel: { on(ev: 'close', cb: () => void): unknown } }) => {
    const loop = w[2] === RING_LOOP_SCRIPT;
    if (loop) netback.loopStarted();
    else netback.advance();
    const p = netback.debugfs.spawn(w);
    const send = (out: (s: string) => void) => (b: Buffer) => {
      try {
        out(b.toString());
      } catch {
        /* the channel is gone */
      }
    };
    p.stdout!.on('data', send(ctx.stdout));
    p.stderr!.on('data', send(ctx.stderr));
    ctx.channel.on('close', () => p.stdout!.destroy());
    return new Promise<number>((resolve) =>
      p.on('close', (code) => {
        if (loop) netback.loopEnded();
        resolve(code ?? 255);
      }),
    );
  };

  const ssh = await startTestSshServer({
    user: o.user,
    password: o.password,
    onExec: (ctx) => {
      const c = ctx.command;
      let m: RegExpExecArray | null;
      const w = shWords(c);
      // the batched read (sh -c SCRIPT sh path...): xenstore-read's text of each value, base64
      if (w[0] === 'sh' && w[1] === '-c' && w[2] === BATCH_READ_SCRIPT) {
        for (const p of w.slice(4)) ctx.stdout(xs.nodes.has(p) ? `V${Buffer.from(toolPrints(xs.nodes.get(p)!), 'latin1').toString('base64')}\n` : 'N\n');
        return 0;
      }
      // The tools' answers and messages as Debian's xen 4.17 tools give them against the C xenstored
      // (tools/xenstore/xenstore_client.c; test/hosts/dom0-doubles-tools.test.ts compares them).
      if (w[0] === 'xenstore-read' && w.length === 2) {
        if (!xs.nodes.has(w[1]!)) {
          ctx.stderr(`xenstore-read: couldn't read path ${w[1]}\n`);
          return 1;
        }
        ctx.stdout(`${toolPrints(xs.nodes.get(w[1]!)!)}\n`);
        return 0;
      }
      if (w[0] === 'xenstore-list') {
        const l = xs.list(w[1]!);
        if (!l) {
          ctx.stderr(`xenstore-list: could not list path ${w[1]}\n`);
          return 1;
        }
        ctx.stdout(l.map((x) => x + '\n').join(''));
        return 0;
      }
      if (w[0] === 'xenstore-ls' && w[1] === '-f') {
        const root = w[2]!;
        if (!xs.nodes.has(root)) {
          ctx.stderr(`xenstore-ls: xs_directory (${root}): No such file or directory\n`);
          return 1;
        }
        // every node below the root, not the root itself (tools/xenstore/xenstore_client.c do_ls,
        // whose first call lists the root's children; test/xenstore/peers.test.ts runs Debian's tool)
        for (const [k, v] of [...xs.nodes].filter(([k]) => k.startsWith(root + '/')).sort(([a], [b]) => a.localeCompare(b))) {
          ctx.stdout(`${k} = "${toolPrints(v)}"\n`);
        }
        return 0;
      }
      if (w[0] === 'xenstore-write') {
        xs.write(w[1]!, toolStores(w[2] ?? ''));
        return 0;
      }
      if (w[0] === 'xenstore-rm') {
        // xenstored's rm (xenstored_core.c do_rm): a node that is not there is no error when its
        // parent is; under a missing parent it is ENOENT, and the tool says so
        const p = w[1]!;
        const parent = p.slice(0, p.lastIndexOf('/')) || '/';
        if (!xs.rm(p) && parent !== '/' && !xs.nodes.has(parent)) {
          ctx.stderr(`xenstore-rm: could not remove path ${p}\n`);
          return 1;
        }
        return 0;
      }
      // Perl and xenstored's socket, for the watch reader (winpv doctor asks)
      if (w[0] === 'sh' && w[1] === '-c' && w[2] === PERL_READER_CHECK) return perl ? 0 : 1;
      // the watch stream (sh -c WATCH_SCRIPT PERL_WATCHER root), each value read as its event arrives:
      // with Perl the reader speaks xenstored's protocol and prints the value raw, in hex; without,
      // xenstore-read prints it escaped (base64 of the tool's text)
      if (w[0] === 'sh' && w[1] === '-c' && w[2] === WATCH_SCRIPT) {
        const root = w[4]!;
        const value = (p: string) => (perl ? `X${p} ${Buffer.from(xs.nodes.get(p)!, 'utf8').toString('hex')}` : `V${p} ${Buffer.from(toolPrints(xs.nodes.get(p)!), 'latin1').toString('base64')}`);
        const line = (p: string) => (xs.nodes.has(p) ? `${value(p)}\n` : `N${p}\n`);
        return new Promise<number>((resolve) => {
          const send = (p: string) => {
            if (p === root || p.startsWith(root + '/')) ctx.channel.write(line(p));
          };
          ctx.channel.write(line(root)); // fired once when the watch is registered
          xs.watchers.add(send);
          ctx.channel.on('close', () => {
            xs.watchers.delete(send);
            resolve(0);
          });
        });
      }
      if (w[0] === 'sh' && w[1] === '-c' && (w[2] === RING_LOOP_SCRIPT || w[2] === IO_RINGS_SCRIPT)) return runNetbackScript(w, ctx);
      if ((m = /^cd (\S+) 2>\/dev\/null && grep -H \. \*$/.exec(c))) {
        const dir = shWords(m[1]!)[0]!;
        // blkback's statistics exist only for blkback backends (a vbd3 pool has none)
        if (disks.backend === 'vbd' && /^\/sys\/bus\/xen-backend\/devices\/vbd-\d+-\d+\/statistics$/.test(dir)) {
          ctx.stdout('ds_req:0\nf_req:12\noo_req:0\nrd_req:210344\nrd_sect:1682752\nwr_req:90147\nwr_sect:721176\n');
          return 0;
        }
        if (/^\/sys\/class\/net\/vif\d+\.\d+\/statistics$/.test(dir)) {
          ctx.stdout('rx_bytes:1250000123\nrx_packets:860000\ntx_bytes:52000000\ntx_packets:400000\nrx_dropped:0\ntx_dropped:0\n');
          return 0;
        }
        return 1;
      }
      // `xl trigger <domid> nmi [<vcpu>]` (xl(1)): an NMI into a running domain; xl names an unknown
      // domain ("Invalid domain identifier") and fails
      if (w[0] === 'xl' && w[1] === 'trigger' && w.length >= 4) {
        const domid = Number(w[2]);
        const vmRef = [...domains].find(([, d]) => d === domid)?.[0];
        if (!vmRef || pool.get(vmRef, 'VM').power_state !== 'Running') {
          ctx.stderr(`Invalid domain identifier: ${w[2]}\n`);
          return 1;
        }
        if (w[3] !== 'nmi') {
          ctx.stderr(`Invalid trigger "${w[3]}"\n`);
          return 1;
        }
        pool.opts.onNmi?.(vmRef);
        return 0;
      }
      // dom0's neighbour table (`ip -4 neigh show`, iproute2's format): the kernel learns a guest's
      // MAC only from traffic it sees, i.e. once the guest took its DHCP lease on its emulated NIC
      // and then sent something (the pool double's trafficDelayMs after the lease). A confirmed
      // entry is REACHABLE; once the guest stops answering (halted, rebooting) it goes STALE, keeping
      // the old lladdr, and a probe that gets no answer leaves it FAILED, without one (Linux
      // net/core/neighbour.c, NUD_REACHABLE -> NUD_STALE after base_reachable_time, NUD_FAILED after
      // the probes; ip-neighbour(8)).
      if (w[0] === 'ip' && w[1] === '-4' && w[2] === 'neigh' && w[3] === 'show' && w.length === 4) {
        if (!faults.silentGuests) {
          for (const [mac, n] of pool.neighbours) {
            const age = Date.now() - n.since;
            if (n.up) ctx.stdout(`${n.ip} dev xenbr0 lladdr ${mac} REACHABLE\n`);
            else if (age < faults.staleMs) ctx.stdout(`${n.ip} dev xenbr0 lladdr ${mac} STALE\n`);
            else ctx.stdout(`${n.ip} dev xenbr0  FAILED\n`);
          }
        }
        ctx.stdout('192.0.2.1 dev xenbr0 lladdr 52:54:00:12:34:56 STALE\n192.0.2.77 dev xenbr0  FAILED\n');
        return 0;
      }
      // dom0's load: /proc/loadavg (`load1 load5 load15 running/total last-pid`, proc(5)) and the
      // online CPUs as getconf prints them (XenServer's dom0 has 4-16 vCPUs, docs: dom0 vCPUs)
      if (w[0] === 'cat' && w[1] === '/proc/loadavg' && w.length === 2) {
        ctx.stdout(`${faults.load1.toFixed(2)} ${faults.load1.toFixed(2)} ${faults.load1.toFixed(2)} 2/412 31337\n`);
        return 0;
      }
      if (w[0] === 'getconf' && w[1] === '_NPROCESSORS_ONLN' && w.length === 2) {
        ctx.stdout(`${faults.dom0Cpus}\n`);
        return 0;
      }
      // The test network's DHCP server in dom0 (dnsmasq on the guests' bridge): its lease file,
      // one lease a line, `<expiry epoch s> <mac> <ip> <hostname|*> <client-id|*>` (dnsmasq's
      // lease file format, src/lease.c lease_update_file). Leases are written as they are granted,
      // whether or not the guest sent anything since.
      if (w[0] === 'cat' && w[1] === DNSMASQ_LEASES && w.length === 2) {
        if (!faults.dhcpInDom0) {
          ctx.stderr(`cat: ${DNSMASQ_LEASES}: No such file or directory\n`);
          return 1;
        }
        for (const [mac, ip] of pool.leases) {
          const at = pool.leasedAt.get(mac) ?? Date.now();
          ctx.stdout(`${Math.floor(at / 1000) + 3600} ${mac} ${ip} WIN-${mac.slice(-5).replace(':', '').toUpperCase()} 01:${mac}\n`);
        }
        return 0;
      }
      // tapdisk3's shared statistics (struct vbd3_stats, version 1: u32 version, u32 pad, then 11
      // u64: oo_reqs, read_reqs_submitted, read_reqs_completed, read_sectors, read_total_ticks,
      // write_reqs_submitted, write_reqs_completed, write_sectors, write_total_ticks, io_errors,
      // flags), read as od prints them: the harness asks `od -An -v -tu8 <file>`.
      if (w[0] === 'od' && w[1] === '-An' && w[2] === '-v' && w[3] === '-tu8' && (m = /^\/dev\/shm\/td3-(\d+)\/vbd-(\d+)-(\d+)$/.exec(w[4] ?? ''))) {
        const td = tapdisks.get(`${m[2]}/${m[3]}`);
        if (!td || td.pid !== Number(m[1])) {
          ctx.stderr(`od: ${w[4]}: No such file or directory\n`);
          return 1;
        }
        td.rd += 5210;
        td.wr += 2290;
        const v = [1, 3, td.rd, td.rd, td.rd * 8, td.rd * 40, td.wr, td.wr, td.wr * 8, td.wr * 70, 0, 0];
        // od prints 16 bytes a line: two u64, each right-aligned in 20 columns after a space
        for (let i = 0; i < v.length; i += 2) ctx.stdout(`${v.slice(i, i + 2).map((x) => ` ${String(x).padStart(20)}`).join('')}\n`);
        return 0;
      }
      if (w[0] === 'ntttcp' && (w[1] === '-r' || w[1] === '-s') && w.includes('-N')) {
        ntttcpRuns.push(w.slice(1).join(' '));
        ctx.stdout(`NTTTCP for Linux 1.4.0\n---------------------------------------------------------\n${w[1] === '-r' ? 'test duration' : 'network activity progressing'}...\n`);
        return 0;
      }
      ctx.stderr(`sh: 1: ${w[0]}: not found\n`);
      return 127;
    },
  });
  return {
    ssh,
    xs,
    faults,
    ntttcpRuns,
    disks,
    async close() {
      pool.listeners.delete(listener);
      await ssh.close();
      netback.close();
    },
  };
}
