// The stateful model behind the XAPI test server: a one- or two-host pool with VMs, VBDs, VDIs, SRs,
// VIFs, networks, guest metrics and tasks, an event log served by event.from, and the real XenAPI
// error codes. Guests are modelled just enough for a harness to drive them: a started VM gets a domid
// and, shortly after, guest metrics naming its IP and the PV driver version its guest reports.
import { randomUUID } from 'node:crypto';
import type { XrValue } from './xmlrpc';

/** The driver bundle ISOs in the pool's ISO SR. */
export const POOL_ISOS = ['winpv-9.1.0.iso', 'winpv-9.0.0.iso'];

export class XapiFailure extends Error {
  constructor(readonly code: string, readonly params: string[] = []) {
    super(`${code}(${params.join(', ')})`);
  }
}

type Rec = Record<string, XrValue>;
const CLASSES = ['pool', 'host', 'SR', 'VDI', 'VBD', 'VIF', 'network', 'VM', 'VM_metrics', 'VM_guest_metrics', 'task', 'PBD', 'console', 'message'] as const;
const NULL = 'OpaqueRef:NULL';

interface Event {
  id: number;
  cls: string;
  operation: 'add' | 'mod' | 'del';
  ref: string;
  snapshot: Rec | null;
}

/** What the guest inside a VM reports, set by tests (the Windows double updates it on driver install). */
export interface GuestState {
  ip: string;
  /** PV driver version reported once the guest runs with PV drivers; undefined = no PV drivers. */
  pvVersion?: { major: number; minor: number; micro: number; build: number };
  /** The guest agent runs (it needs the PV drivers and xeniface to reach xenstore): it writes
   *  attr/vif/<devid>/ipv4/<n>, attr/PVAddons/* and data/updated, from which xapi fills the guest
   *  metrics' networks and PV_drivers_version and xenopsd reports PV_drivers_detected. */
  agent?: boolean;
  /** xeniface is bound (it writes its drivers/<N> version string, drivers-spec/xeniface.xml). */
  xeniface?: boolean;
  /** userdevices of disks Windows holds open (the system disk with C: and the pagefile, by default
   *  "0"): a clean VBD.unplug of one is refused by the guest (DEVICE_DETACH_REJECTED). */
  heldDisks?: string[];
}

export interface PoolOptions {
  user: string;
  password: string;
  hosts?: string[];
  /** Address of every pool member (dom0 SSH goes there); default 192.0.2.1x. */
  hostAddress?: string;
  /** Memory of each host (default 64 GiB); dom0 takes 4 GiB of it. */
  hostMemoryBytes?: number;
  /** Size of the ISO SR's filesystem (default 10 GiB): uploads beyond its free space fail. */
  isoSrBytes?: number;
  /** Delay before guest metrics appear after start/reboot/resume (ms). */
  bootDelayMs?: number;
  /** Time an Async.* task stays pending before it completes (ms, default 25): xapi's tasks are
   *  asynchronous, a client that reads the result at once sees status "pending". */
  taskMs?: number;
  /** Time VM.suspend spends between destroying the domain and reporting the VM Suspended (ms). */
  suspendMs?: number;
  /** After its DHCP lease, how long until the guest sends traffic dom0 sees (its neighbour table
   *  learns the MAC then), in ms (default 40). */
  trafficDelayMs?: number;
  guest?: (vmRef: string, vm: Rec) => GuestState;
  /** Called after VM.revert restored a snapshot (the guest's own state goes back too). */
  onRevert?: (vmRef: string, snapshotRef: string) => void;
  /** A non-maskable interrupt reached the VM's guest (dom0's `xl trigger <domid> nmi`). */
  onNmi?: (vmRef: string) => void;
}

export class FakePool {
  readonly objects = new Map<string, { cls: string; rec: Rec }>();
  private events: Event[] = [];
  private nextEvent = 1;
  private waiters = new Set<() => void>();
  readonly sessions = new Map<string, { user: string }>();
  readonly calls: { method: string; params: XrValue[] }[] = [];
  readonly poolRef: string;
  readonly hostRefs: string[] = [];
  readonly defaultSr: string;
  readonly isoSr: string;
  readonly networkRef: string;
  readonly templateRef: string;
  private nextDomid = 1;
  private timers = new Set<NodeJS.Timeout>();
  /** Methods that fail with the given error the next time they are called (fault injection). */
  readonly failNext = new Map<string, XapiFailure>();
  /** Bytes written into VDIs through PUT /import_raw_vdi (an ISO SR's files). */
  readonly content = new Map<string, Buffer>();
  /** The test network's view of guests before any Xen driver: the emulated NIC (QEMU's, with the
   *  VIF's MAC: xenopsd gives the emulated NIC the VIF's MAC) takes a DHCP lease as Windows boots.
   *  MAC (lower case) -> IPv4 address; dom0's neighbour table is built from it. */
  readonly leases = new Map<string, string>();
  /** When each lease was granted (ms, Date.now()), for the test network's lease file. */
  readonly leasedAt = new Map<string, number>();
  /** dom0's view of the guests' MACs: set once the guest, after its lease, sent traffic dom0 saw
   *  (an ARP request/reply or a packet to dom0's address); `up` false once the domain is gone (the
   *  kernel's entry then goes STALE, and FAILED when probed without an answer). MAC -> state. */
  readonly neighbours = new Map<string, { ip: string; up: boolean; since: number }>();
  /** What each running guest holds (from the guest callback at boot). */
  readonly guests = new Map<string, GuestState>();
  /** The next PUT /import_raw_vdi is answered with this HTTP status, its task failed with this error. */
  refuseImport?: { status: number; error: XapiFailure };

  constructor(readonly opts: PoolOptions) {
    const hosts = opts.hosts ?? ['xs-host1', 'xs-host2'];
    hosts.forEach((name, i) => {
      this.hostRefs.push(this.add('host', { name_label: name, address: opts.hostAddress ?? `192.0.2.${10 + i}`, enabled: true, resident_VMs: [], other_config: {}, API_version_major: 2, API_version_minor: 21, memory_overhead: 0, metrics: NULL, memory_total: opts.hostMemoryBytes ?? 64 * 2 ** 30 }));
    });
    // every record of a class has the same fields, as in XAPI (xen-api builds its record type from the first one)
    this.defaultSr = this.add('SR', {
      name_label: 'Local storage', type: 'lvm', content_type: 'user', VDIs: [], PBDs: [], other_config: {}, physical_size: 500 * 2 ** 30, physical_utilisation: 0, shared: false,
      is_tools_sr: false, allowed_operations: ['vdi_create', 'vdi_destroy', 'vdi_snapshot', 'vdi_clone', 'vdi_resize', 'scan', 'forget', 'plug', 'unplug'],
    });
    // a writable ISO SR (NFS or a local legacy_mode directory): sm's ISOSR implements VDI.create
    this.isoSr = this.add('SR', {
      name_label: 'ISOs', type: 'iso', content_type: 'iso', VDIs: [], PBDs: [], other_config: {}, physical_size: opts.isoSrBytes ?? 10 * 2 ** 30, physical_utilisation: 0, shared: true,
      is_tools_sr: false, allowed_operations: ['vdi_create', 'vdi_destroy', 'vdi_introduce', 'scan', 'forget', 'plug', 'unplug'],
    });
    // the current driver bundle and the previous one (for upgrade-over-older)
    for (const iso of POOL_ISOS) this.add('VDI', this.vdiRecord(this.isoSr, iso, 60 * 2 ** 20, { read_only: true, type: 'user', location: iso }));
    this.networkRef = this.add('network', { name_label: 'Pool-wide network associated with eth0', bridge: 'xenbr0', VIFs: [], other_config: {} });
    this.poolRef = this.add('pool', { name_label: 'test pool', master: this.hostRefs[0]!, default_SR: this.defaultSr, other_config: {} });
    // dom0: must never be touched by a harness.
    this.add('VM', { ...this.vmRecord('Control domain on host: xs-host1'), is_control_domain: true, power_state: 'Running', domid: 0, resident_on: this.hostRefs[0]! });
    this.templateRef = this.add('VM', { ...this.vmRecord('Windows Server 2022 (winpv base)'), is_a_template: true });
    const osVdi = this.add('VDI', this.vdiRecord(this.defaultSr, 'win2022 base disk', 40 * 2 ** 30));
    this.createVbd(this.templateRef, osVdi, '0', 'Disk', false);
    this.createVbd(this.templateRef, NULL, '3', 'CD', true);
    this.createVif(this.templateRef, '0', '');
  }

  // ---------------------------------------------------------------------------- records and events

  add(cls: string, fields: Rec): string {
    const ref = `OpaqueRef:${randomUUID()}`;
    const rec: Rec = { uuid: randomUUID(), ...fields };
    this.objects.set(ref, { cls, rec });
    this.emit(cls, 'add', ref, rec);
    // keep back-pointers the way XAPI does
    if (cls === 'VDI') this.push(rec.SR as string, 'VDIs', ref);
    if (cls === 'VBD') {
      this.push(rec.VM as string, 'VBDs', ref);
      if (rec.VDI !== NULL) this.push(rec.VDI as string, 'VBDs', ref);
    }
    if (cls === 'VIF') {
      this.push(rec.VM as string, 'VIFs', ref);
      this.push(rec.network as string, 'VIFs', ref);
    }
    return ref;
  }

  push(ref: string, field: string, value: string) {
    const o = this.objects.get(ref);
    if (!o) return;
    o.rec[field] = [...(o.rec[field] as string[]), value];
    this.emit(o.cls, 'mod', ref, o.rec);
  }

  pull(ref: string, field: string, value: string) {
    const o = this.objects.get(ref);
    if (!o) return;
    o.rec[field] = (o.rec[field] as string[]).filter((x) => x !== value);
    this.emit(o.cls, 'mod', ref, o.rec);
  }

  set(ref: string, fields: Rec) {
    const o = this.objects.get(ref);
    if (!o) throw new XapiFailure('HANDLE_INVALID', ['', ref]);
    Object.assign(o.rec, fields);
    this.emit(o.cls, 'mod', ref, o.rec);
  }

  remove(ref: string) {
    const o = this.objects.get(ref);
    if (!o) return;
    this.objects.delete(ref);
    this.emit(o.cls, 'del', ref, null);
    if (o.cls === 'VDI') this.pull(o.rec.SR as string, 'VDIs', ref);
    if (o.cls === 'VBD') {
      this.pull(o.rec.VM as string, 'VBDs', ref);
      if (o.rec.VDI !== NULL) this.pull(o.rec.VDI as string, 'VBDs', ref);
    }
    if (o.cls === 'VIF') {
      this.pull(o.rec.VM as string, 'VIFs', ref);
      this.pull(o.rec.network as string, 'VIFs', ref);
    }
  }

  get(ref: unknown, cls?: string): Rec {
    const o = typeof ref === 'string' ? this.objects.get(ref) : undefined;
    if (!o || (cls && o.cls !== cls)) throw new XapiFailure('HANDLE_INVALID', [cls ?? 'object', String(ref)]);
    return o.rec;
  }

  all(cls: string): [string, Rec][] {
    return [...this.objects].filter(([, o]) => o.cls === cls).map(([r, o]) => [r, o.rec]);
  }

  /** Test doubles that follow the pool (dom0's xenstore) subscribe here. */
  readonly listeners = new Set<(cls: string, operation: Event['operation'], ref: string, rec: Rec | null) => void>();

  private emit(cls: string, operation: Event['operation'], ref: string, rec: Rec | null) {
    for (const l of this.listeners) l(cls, operation, ref, rec);
    this.events.push({ id: this.nextEvent++, cls, operation, ref, snapshot: rec ? structuredClone(rec) : null });
    if (this.events.length > 5000) this.events.splice(0, 1000);
    for (const w of [...this.waiters]) w();
  }

  token(): string {
    return String(this.nextEvent - 1).padStart(20, '0');
  }

  /** event.from: events after the token for the given classes, waiting up to timeoutS for one. */
  async eventFrom(classes: string[], token: string, timeoutS: number, sessionValid: () => boolean): Promise<Rec> {
    const wanted = new Set(classes.map((c) => c.toLowerCase()));
    const all = wanted.has('*');
    const from = token === '' ? 0 : Number(token);
    if (!Number.isFinite(from)) throw new XapiFailure('EVENT_FROM_TOKEN_PARSE_FAILURE', [token]);
    if (this.events.length && from < this.events[0]!.id - 1) throw new XapiFailure('EVENTS_LOST');
    const pick = () => this.events.filter((e) => e.id > from && (all || wanted.has(e.cls.toLowerCase())));
    let found = pick();
    if (found.length === 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        };
        const check = () => {
          if (!sessionValid() || pick().length) done();
        };
        const timer = setTimeout(done, timeoutS * 1000);
        this.waiters.add(check);
      });
      if (!sessionValid()) throw new XapiFailure('SESSION_INVALID', ['']);
      found = pick();
    }
    const counts: Rec = {};
    for (const c of classes) if (c !== '*') counts[c] = this.all(CLASSES.find((k) => k.toLowerCase() === c.toLowerCase()) ?? c).length;
    return {
      events: found.map((e) => ({ id: String(e.id), timestamp: String(e.id), class: e.cls.toLowerCase(), operation: e.operation, ref: e.ref, snapshot: e.snapshot ?? {} })),
      valid_ref_counts: counts,
      token: this.token(),
    };
  }

  /** Wakes every pending event.from (used when a session ends). */
  wakeAll() {
    for (const w of [...this.waiters]) w();
  }

  later(ms: number, fn: () => void) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  stop() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.wakeAll();
  }

  // ---------------------------------------------------------------------------- record shapes

  vmRecord(name: string): Rec {
    return {
      name_label: name, name_description: '', is_a_template: false, is_a_snapshot: false, is_control_domain: false,
      snapshot_of: NULL, snapshots: [], parent: NULL, power_state: 'Halted', domid: -1,
      VCPUs_max: 2, VCPUs_at_startup: 2, memory_static_min: 1024 * 2 ** 20, memory_static_max: 4096 * 2 ** 20,
      memory_dynamic_min: 4096 * 2 ** 20, memory_dynamic_max: 4096 * 2 ** 20, VBDs: [], VIFs: [],
      guest_metrics: NULL, metrics: NULL, resident_on: NULL, suspend_VDI: NULL, other_config: {}, tags: [], platform: { viridian: 'true' },
      HVM_boot_policy: 'BIOS order', actions_after_crash: 'restart', actions_after_shutdown: 'destroy', actions_after_reboot: 'restart',
      allowed_operations: [], blocked_operations: {}, xenstore_data: {}, snapshot_time: '19700101T00:00:00Z', has_vendor_device: false,
    };
  }

  vdiRecord(sr: string, name: string, size: number, extra: Rec = {}): Rec {
    return { name_label: name, name_description: '', SR: sr, virtual_size: size, physical_utilisation: 0, type: 'user', sharable: false, read_only: false, VBDs: [], other_config: {}, sm_config: {}, xenstore_data: {}, is_a_snapshot: false, snapshot_of: NULL, snapshots: [], managed: true, missing: false, tags: [], location: '', ...extra };
  }

  createVbd(vm: string, vdi: string, userdevice: string, type: string, empty: boolean, other: Rec = {}): string {
    return this.add('VBD', { VM: vm, VDI: vdi, userdevice, device: '', type, mode: type === 'CD' ? 'RO' : 'RW', bootable: userdevice === '0', empty, currently_attached: false, other_config: other, qos_algorithm_type: '', qos_algorithm_params: {}, allowed_operations: [] });
  }

  createVif(vm: string, device: string, mac: string, other: Rec = {}): string {
    const m = mac || `c2:${[1, 2, 3, 4, 5].map(() => Math.floor(Math.random() * 256).toString(16).padStart(2, '0')).join(':')}`;
    return this.add('VIF', { VM: vm, network: this.networkRef, device, MAC: m, MTU: 1500, currently_attached: false, other_config: other, qos_algorithm_type: '', qos_algorithm_params: {}, locking_mode: 'network_default' });
  }

  // ---------------------------------------------------------------------------- guests

  /** Device names XAPI gives HVM guests: userdevice 0..3 are IDE (hda..hdd), the rest xvd*. */
  deviceName(userdevice: string): string {
    const n = Number(userdevice);
    return n < 4 ? `hd${'abcd'[n]}` : `xvd${String.fromCharCode(97 + n)}`;
  }

  /** What host.compute_free_memory answers: the host's memory less dom0 and what its domains use
   *  (xapi's Memory_check: the VMs' dynamic_max plus overheads; overheads are 0 here). */
  freeMemory(hostRef: string): number {
    const h = this.get(hostRef, 'host');
    const used = (h.resident_VMs as string[]).reduce((a, v) => a + Number(this.objects.get(v)?.rec.memory_dynamic_max ?? 0), 0);
    return Math.max(0, Number(h.memory_total) - 4 * 2 ** 30 - used);
  }

  /** Builds the domain; a paused one boots (and reports metrics) only when unpaused. */
  startDomain(vmRef: string, host?: string, paused = false) {
    const vm = this.get(vmRef, 'VM');
    const resident = host ?? this.hostRefs[0]!;
    const domid = this.nextDomid++;
    const metrics = this.add('VM_metrics', { VCPUs_number: vm.VCPUs_at_startup, memory_actual: vm.memory_dynamic_max, start_time: '20261124T06:00:00Z', other_config: {} });
    if (vm.metrics !== NULL) this.remove(vm.metrics as string);
    // Devices are attached as the domain is built, before XAPI reports it Running.
    for (const vbd of vm.VBDs as string[]) this.set(vbd, { currently_attached: true, device: this.deviceName(this.get(vbd).userdevice as string) });
    for (const vif of vm.VIFs as string[]) this.set(vif, { currently_attached: true });
    this.set(vmRef, { power_state: paused ? 'Paused' : 'Running', domid, resident_on: resident, metrics });
    this.push(resident, 'resident_VMs', vmRef);
    if (!paused) this.bootGuest(vmRef, domid);
  }

  /** After the guest has "booted": its emulated NIC takes a DHCP lease (the test network knows its
   *  address from the first boot on) and, a moment later, sends traffic dom0 sees. xapi creates the
   *  guest metrics from what the guest writes under its attr/, data/ and control/ in xenstore
   *  (ocaml/xapi/xapi_guest_agent.ml, all / create_and_set_guest_metrics): a driverless guest
   *  writes nothing there (guest_metrics NULL); xenbus alone writes control/feature-* (gm.other);
   *  only the guest agent writes attr/vif/<devid>/ipv4/<n> (networks: the agents of
   *  xe-guest-utilities and xen-guest-agent publish there), attr/PVAddons (PV_drivers_version) and
   *  data/updated (squeezed's squeeze_xen.ml: "written by guest agent"), and xenopsd's
   *  PV_drivers_detected stays false (VmExtra, false at domain build) until it runs. */
  bootGuest(vmRef: string, domid: number) {
    const vm0 = this.get(vmRef, 'VM');
    if (vm0.guest_metrics !== NULL) {
      this.remove(vm0.guest_metrics as string);
      this.set(vmRef, { guest_metrics: NULL });
    }
    this.later(this.opts.bootDelayMs ?? 30, () => {
      const o = this.objects.get(vmRef);
      if (!o || o.rec.power_state !== 'Running' || o.rec.domid !== domid) return;
      const g = this.opts.guest?.(vmRef, o.rec) ?? { ip: '192.0.2.100' };
      this.guests.set(vmRef, g);
      const first = (o.rec.VIFs as string[]).map((v) => this.objects.get(v)?.rec).find((v) => v && String(v.device) === '0');
      if (first) {
        const mac = String(first.MAC).toLowerCase();
        this.leases.set(mac, g.ip);
        this.leasedAt.set(mac, Date.now());
        this.later(this.opts.trafficDelayMs ?? 40, () => {
          const now = this.objects.get(vmRef)?.rec;
          if (now?.power_state === 'Running' && now.domid === domid) this.neighbours.set(mac, { ip: g.ip, up: true, since: Date.now() });
        });
      }
      const pv = g.pvVersion;
      if (!pv) return;
      const agent = g.agent === true;
      const gm = this.add('VM_guest_metrics', {
        os_version: agent ? { name: 'Microsoft Windows Server 2022 Datacenter|C:\\Windows|\\Device\\Harddisk0\\Partition2', distro: 'windows', major: '10', minor: '0' } : {},
        PV_drivers_version: agent ? { major: String(pv.major), minor: String(pv.minor), micro: String(pv.micro), build: String(pv.build) } : {},
        PV_drivers_detected: agent,
        PV_drivers_up_to_date: agent,
        networks: agent ? { '0/ip': g.ip, '0/ipv4/0': g.ip } : {},
        other: { 'feature-suspend': '1', 'feature-shutdown': '1' },
        live: agent,
        last_updated: '20261124T06:00:00Z',
        can_use_hotplug_vbd: 'yes',
        can_use_hotplug_vif: 'yes',
      });
      this.set(vmRef, { guest_metrics: gm });
    });
  }

  haltDomain(vmRef: string) {
    const vm = this.get(vmRef, 'VM');
    // the guest stops answering: dom0's entries for its MACs are no longer confirmed
    for (const v of vm.VIFs as string[]) {
      const n = this.neighbours.get(String(this.objects.get(v)?.rec.MAC ?? '').toLowerCase());
      if (n?.up) Object.assign(n, { up: false, since: Date.now() });
    }
    if (vm.resident_on !== NULL) this.pull(vm.resident_on as string, 'resident_VMs', vmRef);
    if (vm.guest_metrics !== NULL) this.remove(vm.guest_metrics as string);
    this.guests.delete(vmRef);
    this.set(vmRef, { power_state: 'Halted', domid: -1, resident_on: NULL, guest_metrics: NULL });
    for (const vbd of vm.VBDs as string[]) this.set(vbd, { currently_attached: false });
    for (const vif of vm.VIFs as string[]) this.set(vif, { currently_attached: false });
  }

  /** Test hook: the guest crashes; XAPI applies actions_after_crash. */
  crash(vmRef: string) {
    const vm = this.get(vmRef, 'VM');
    const action = vm.actions_after_crash as string;
    if (action === 'restart' || action === 'rename_restart') {
      const host = vm.resident_on as string;
      this.haltDomain(vmRef);
      this.startDomain(vmRef, host);
    } else if (action === 'preserve' || action === 'coredump_and_restart') {
      this.set(vmRef, { power_state: 'Paused' });
    } else {
      this.haltDomain(vmRef);
    }
  }

  /** Test hook: the guest restarts itself (Windows Update, a bugcheck with automatic restart). */
  guestReboot(vmRef: string) {
    const host = this.get(vmRef, 'VM').resident_on as string;
    this.haltDomain(vmRef);
    this.startDomain(vmRef, host);
  }

  /** Test hook: the guest shuts itself down (or its power fails). */
  guestHalt(vmRef: string) {
    this.haltDomain(vmRef);
  }
}
