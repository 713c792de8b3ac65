// The XenAPI methods the test server answers, over the FakePool model. Names, argument orders,
// power-state rules and error codes follow the XenAPI reference; Async.* variants return a task.
import { randomUUID } from 'node:crypto';
import { FakePool, XapiFailure } from './pool';
import { formatValue, type XrValue } from './xmlrpc';

type Rec = Record<string, XrValue>;
const NULL = 'OpaqueRef:NULL';
const str = (v: XrValue | undefined) => String(v ?? '');
const num = (v: XrValue | undefined) => Number(v);

export class XapiApi {
  private currentSession?: string;
  constructor(readonly pool: FakePool) {}

  private session(s: XrValue | undefined) {
    if (typeof s !== 'string' || !this.pool.sessions.has(s)) throw new XapiFailure('SESSION_INVALID', [str(s)]);
  }

  private power(vmRef: string, ...allowed: string[]): Rec {
    const vm = this.pool.get(vmRef, 'VM');
    if (vm.is_a_template) throw new XapiFailure('VM_IS_TEMPLATE', [vmRef, 'start']);
    if (!allowed.includes(vm.power_state as string)) {
      throw new XapiFailure('VM_BAD_POWER_STATE', [vmRef, allowed[0]!.toLowerCase(), String(vm.power_state).toLowerCase()]);
    }
    return vm;
  }

  private needsPv(vmRef: string, vm: Rec) {
    if (vm.guest_metrics === NULL || !this.pool.get(vm.guest_metrics, 'VM_guest_metrics').PV_drivers_detected) {
      throw new XapiFailure('VM_MISSING_PV_DRIVERS', [vmRef]);
    }
  }

  /** Where xapi starts a VM it places itself (VM.start, VM.resume): message_forwarding.ml
   *  forward_to_suitable_host -> xapi_vm_helpers.ml choose_host_for_vm_no_wlb. A host qualifies only
   *  when enabled (vm_can_run_on_host: host_enabled; a disabled host is skipped, not named); with
   *  none left, choose_host / Xapi_vm_placement.select_host raise NO_HOSTS_AVAILABLE with no
   *  parameters. The memory check is tried first and then dropped (choose_host_for_vm_no_wlb's
   *  second pass), so a VM too big for every enabled host is placed anyway and refused at the
   *  start itself: HOST_NOT_ENOUGH_FREE_MEMORY(needed, available) (api_errors.ml). */
  private place(vm: Rec): string {
    const enabled = this.pool.hostRefs.filter((h) => this.pool.get(h, 'host').enabled !== false);
    if (!enabled.length) throw new XapiFailure('NO_HOSTS_AVAILABLE', []);
    const roomiest = enabled.reduce((a, h) => (this.pool.freeMemory(h) > this.pool.freeMemory(a) ? h : a));
    this.canBootHere(roomiest, vm);
    return roomiest;
  }

  /** xapi_vm_helpers.ml assert_can_boot_here for a VM that is not the control domain: the host
   *  must be enabled (assert_host_is_enabled: HOST_DISABLED [host]), then have the memory. */
  private canBootHere(host: string, vm: Rec): void {
    if (this.pool.get(host, 'host').enabled === false) throw new XapiFailure('HOST_DISABLED', [host]);
    const free = this.pool.freeMemory(host);
    if (num(vm.memory_static_max) > free) throw new XapiFailure('HOST_NOT_ENOUGH_FREE_MEMORY', [str(vm.memory_static_max), String(free)]);
  }

  listMethods(): string[] {
    const classes = ['pool', 'host', 'SR', 'VDI', 'VBD', 'VIF', 'network', 'VM', 'VM_metrics', 'VM_guest_metrics', 'task'];
    return [
      'session.login_with_password', 'session.logout', 'system.listMethods', 'event.from', 'event.inject',
      ...classes.map((c) => `${c}.get_all_records`),
      ...Object.keys(this.specific).map((m) => m),
    ];
  }

  /** Dispatch one call; returns the value or throws XapiFailure. */
  async call(method: string, params: XrValue[]): Promise<XrValue> {
    this.pool.calls.push({ method, params: method === 'session.login_with_password' ? ['(user)', '(password)'] : params });
    const planned = this.pool.failNext.get(method.replace(/^Async\./, ''));
    if (planned) {
      this.pool.failNext.delete(method.replace(/^Async\./, ''));
      if (!method.startsWith('Async.')) throw planned;
    }
    if (method === 'system.listMethods') return this.listMethods();
    if (method === 'session.login_with_password') {
      const [user, password] = params;
      if (user !== this.pool.opts.user || password !== this.pool.opts.password) {
        throw new XapiFailure('SESSION_AUTHENTICATION_FAILED', [str(user), 'Authentication failure']);
      }
      const ref = `OpaqueRef:${randomUUID()}`;
      this.pool.sessions.set(ref, { user: str(user) });
      return ref;
    }
    if (method === 'session.logout') {
      this.session(params[0]);
      this.pool.sessions.delete(params[0] as string);
      this.pool.wakeAll();
      return '';
    }
    this.session(params[0]);
    this.currentSession = params[0] as string;
    const args = params.slice(1);
    if (method.startsWith('Async.')) return this.async(method.slice(6), args, planned);
    return this.sync(method, args);
  }

  private async sync(method: string, args: XrValue[]): Promise<XrValue> {
    if (method === 'event.from') {
      const session = str(this.currentSession);
      return this.pool.eventFrom(args[0] as string[], str(args[1]), num(args[2]), () => this.pool.sessions.has(session));
    }
    if (method === 'event.inject') {
      const [cls, ref] = args;
      const rec = this.pool.get(ref, str(cls) === 'pool' ? 'pool' : undefined);
      this.pool.set(str(ref), { ...rec });
      return this.pool.token();
    }
    const fn = this.specific[method];
    if (fn) return fn(args);
    return this.generic(method, args);
  }

  private async(method: string, args: XrValue[], planned?: XapiFailure): string {
    const task = this.pool.add('task', { name_label: `Async.${method}`, name_description: '', status: 'pending', progress: 0, result: '', error_info: [], created: '20261124T06:00:00Z', finished: '19700101T00:00:00Z', other_config: {}, resident_on: this.pool.hostRefs[0]! });
    // xapi runs an Async call on its own thread: the task is "pending" (progress moving) until the
    // operation ends; a client must wait on the task (event.from on task), never read it at once.
    const ms = this.pool.opts.taskMs ?? 25;
    this.pool.later(Math.max(1, ms >> 1), () => this.pool.objects.has(task) && this.pool.set(task, { progress: 0.5 }));
    this.pool.later(ms, () => {
      const run = planned ? Promise.reject(planned) : this.sync(method, args);
      run.then(
        (value) => this.pool.objects.has(task) && this.pool.set(task, { status: 'success', progress: 1, result: value === '' || value === null ? '' : formatValue(value), finished: '20261124T06:00:01Z' }),
        (e: unknown) => {
          const f = e instanceof XapiFailure ? e : new XapiFailure('INTERNAL_ERROR', [String(e)]);
          if (this.pool.objects.has(task)) this.pool.set(task, { status: 'failure', progress: 1, error_info: [f.code, ...f.params], finished: '20261124T06:00:01Z' });
        },
      );
    });
    return task;
  }

  /** VDI.create in an ISO SR, as sm's ISOSR does it: a file named by sm_config.path (an .iso or .img
   *  name of [a-z0-9.-], any case) of virtual_size bytes in the SR's directory, writable until scanned. */
  private createIsoVdi(r: Rec): string {
    const sm = (r.sm_config as Rec | undefined) ?? {};
    const path = sm.path === undefined ? `${randomUUID()}.img` : str(sm.path);
    if (!/^[a-z0-9.-]+\.(iso|img)$/i.test(path)) throw new XapiFailure('SR_BACKEND_FAILURE_78', ['', `VDI Creation failed [opterr=Invalid path "${path}"]`, '']);
    if (this.pool.all('VDI').some(([, v]) => v.SR === r.SR && v.location === path)) throw new XapiFailure('SR_BACKEND_FAILURE_79', ['', 'VDI already exists', '']);
    return this.pool.add('VDI', this.pool.vdiRecord(str(r.SR), str(r.name_label), num(r.virtual_size), {
      name_description: str(r.name_description), type: 'user', read_only: false, location: path, other_config: (r.other_config as Rec) ?? {}, sm_config: { ...sm, path, created: '20261124T06:00:00Z' },
    }));
  }

  /** get_all_records, get_record, get_by_uuid, get_by_name_label, get_<field>, set_<field>, add_to_/remove_from_<map>. */
  private generic(method: string, args: XrValue[]): XrValue {
    const dot = method.indexOf('.');
    const cls = method.slice(0, dot);
    const op = method.slice(dot + 1);
    const known = ['pool', 'host', 'SR', 'VDI', 'VBD', 'VIF', 'network', 'VM', 'VM_metrics', 'VM_guest_metrics', 'task'];
    if (!known.includes(cls)) throw new XapiFailure('MESSAGE_METHOD_UNKNOWN', [method]);
    if (op === 'get_all_records') return Object.fromEntries(this.pool.all(cls));
    if (op === 'get_all') return this.pool.all(cls).map(([r]) => r);
    if (op === 'get_record') return this.pool.get(args[0], cls);
    if (op === 'get_by_uuid') {
      const hit = this.pool.all(cls).find(([, r]) => r.uuid === args[0]);
      if (!hit) throw new XapiFailure('UUID_INVALID', [cls, str(args[0])]);
      return hit[0];
    }
    if (op === 'get_by_name_label') return this.pool.all(cls).filter(([, r]) => r.name_label === args[0]).map(([r]) => r);
    const ref = str(args[0]);
    if (op.startsWith('get_')) {
      const rec = this.pool.get(ref, cls);
      const f = op.slice(4);
      if (!(f in rec)) throw new XapiFailure('MESSAGE_METHOD_UNKNOWN', [method]);
      return rec[f]!;
    }
    if (op.startsWith('add_to_') || op.startsWith('remove_from_')) {
      const adding = op.startsWith('add_to_');
      const f = op.slice(adding ? 7 : 12);
      const rec = this.pool.get(ref, cls);
      const map = { ...(rec[f] as Rec) };
      if (adding) {
        if (str(args[1]) in map) throw new XapiFailure('MAP_DUPLICATE_KEY', [cls, f, ref, str(args[1])]);
        map[str(args[1])] = str(args[2]);
      } else delete map[str(args[1])];
      this.pool.set(ref, { [f]: map });
      return '';
    }
    if (op.startsWith('set_')) {
      const f = op.slice(4);
      const rec = this.pool.get(ref, cls);
      if (!(f in rec)) throw new XapiFailure('MESSAGE_METHOD_UNKNOWN', [method]);
      this.pool.set(ref, { [f]: typeof rec[f] === 'number' ? num(args[1]) : args[1]! });
      return '';
    }
    if (op === 'destroy' && cls === 'task') {
      this.pool.remove(ref);
      return '';
    }
    throw new XapiFailure('MESSAGE_METHOD_UNKNOWN', [method]);
  }

  private readonly specific: Record<string, (a: XrValue[]) => XrValue | Promise<XrValue>> = {
    'task.cancel': () => '',
    'host.compute_free_memory': ([h]) => this.pool.freeMemory(str(h)),
    // xapi_host.ml disable / enable: enabled false or true, doing nothing when it already is (the
    // auto_enable argument of newer xapi is only about the next boot of the host)
    'host.disable': ([h]) => {
      this.pool.set(str(this.pool.get(h, 'host') && h), { enabled: false });
      return '';
    },
    'host.enable': ([h]) => {
      this.pool.set(str(this.pool.get(h, 'host') && h), { enabled: true });
      return '';
    },
    'VM.clone': ([vm, name]) => this.copyVm(str(vm), str(name), false),
    'VM.copy': ([vm, name]) => this.copyVm(str(vm), str(name), false),
    'VM.snapshot': ([vm, name]) => this.copyVm(str(vm), str(name), true),
    // xapi's VM.provision (ocaml/xapi/xapi_templates_install.ml, xapi_templates.ml): only on a
    // template (PROVISION_ONLY_ALLOWED_ON_TEMPLATE); creates the disks other_config:disks
    // describes (<provision><disk device= size= sr= bootable= type=/></provision>) in the SR named
    // there or the pool's default SR (PROVISION_FAILED_OUT_OF_SPACE when it has not the room), then
    // removes the key so that a later clone does not provision them again.
    'VM.provision': ([vm]) => {
      const r = this.pool.get(vm, 'VM');
      if (!r.is_a_template) throw new XapiFailure('PROVISION_ONLY_ALLOWED_ON_TEMPLATE', []);
      const spec = str((r.other_config as Rec).disks);
      if (!spec) return '';
      for (const m of spec.matchAll(/<disk\s([^>]*)\/?>/g)) {
        const attr = (k: string) => new RegExp(`${k}="([^"]*)"`).exec(m[1]!)?.[1] ?? '';
        const srUuid = attr('sr');
        const sr = (srUuid && this.pool.all('SR').find(([, x]) => x.uuid === srUuid)?.[0]) || this.pool.defaultSr;
        const size = Number(attr('size'));
        const s = this.pool.get(sr, 'SR');
        if (num(s.physical_utilisation) + size > num(s.physical_size)) throw new XapiFailure('PROVISION_FAILED_OUT_OF_SPACE', []);
        const vdi = this.pool.add('VDI', this.pool.vdiRecord(sr, `${str(r.name_label)} ${attr('device')}`, size, { name_description: 'Created by template provisioner', type: attr('type') === 'system' ? 'system' : 'user' }));
        this.pool.set(sr, { physical_utilisation: num(s.physical_utilisation) + size });
        this.pool.createVbd(str(vm), vdi, attr('device'), 'Disk', false);
      }
      const oc = { ...(r.other_config as Rec) };
      delete oc.disks;
      this.pool.set(str(vm), { other_config: oc });
      return '';
    },
    'VM.set_VCPUs_max': ([vm, n]) => {
      const r = this.power(str(vm), 'Halted');
      if (num(n) < num(r.VCPUs_at_startup)) throw new XapiFailure('VALUE_NOT_SUPPORTED', ['VCPUs_max', str(n), 'must not be less than VCPUs_at_startup']);
      this.pool.set(str(vm), { VCPUs_max: num(n) });
      return '';
    },
    'VM.set_VCPUs_at_startup': ([vm, n]) => {
      const r = this.pool.get(vm, 'VM');
      if (num(n) > num(r.VCPUs_max) || num(n) < 1) throw new XapiFailure('VALUE_NOT_SUPPORTED', ['VCPUs_at_startup', str(n), 'must be between 1 and VCPUs_max']);
      this.pool.set(str(vm), { VCPUs_at_startup: num(n) });
      return '';
    },
    'VM.set_memory_limits': ([vm, smin, smax, dmin, dmax]) => {
      this.power(str(vm), 'Halted');
      const [a, b, c, d] = [smin, smax, dmin, dmax].map(num) as [number, number, number, number];
      if (!(a <= c && c <= d && d <= b)) throw new XapiFailure('MEMORY_CONSTRAINT_VIOLATION', ['memory limits must satisfy: static_min <= dynamic_min <= dynamic_max <= static_max']);
      this.pool.set(str(vm), { memory_static_min: a, memory_static_max: b, memory_dynamic_min: c, memory_dynamic_max: d });
      return '';
    },
    // xapi_vm.ml set_has_vendor_device: assert_initial_power_state_is Halted, else VM_BAD_POWER_STATE
    // [vm, "halted", actual] (xapi_vm_lifecycle.ml assert_initial_power_state_in); xenopsd then gives
    // QEMU XenServer's vendor device 5853:C000 (xenopsd xc/device.ml: xen-pvdevice,device-id=0xc000)
    'VM.set_has_vendor_device': ([vm, value]) => {
      this.power(str(vm), 'Halted');
      this.pool.set(str(vm), { has_vendor_device: value === true });
      return '';
    },
    'VM.start': ([vm, paused]) => {
      const r = this.power(str(vm), 'Halted');
      this.pool.startDomain(str(vm), this.place(r), paused === true);
      return '';
    },
    // VM.start_on(vm, host, start_paused, force): message_forwarding.ml start_on runs
    // reserve_memory_for_vm, whose assert_can_boot_here (xapi_vm_helpers.ml) refuses a disabled
    // host with HOST_DISABLED [host] (assert_host_is_enabled) before the memory check.
    'VM.start_on': ([vm, host, paused]) => {
      const r = this.power(str(vm), 'Halted');
      this.canBootHere(str(host), r);
      this.pool.startDomain(str(vm), str(host), paused === true);
      return '';
    },
    'VM.pause': ([vm]) => {
      this.power(str(vm), 'Running');
      this.pool.set(str(vm), { power_state: 'Paused' });
      return '';
    },
    'VM.unpause': ([vm]) => {
      const r = this.power(str(vm), 'Paused');
      this.pool.set(str(vm), { power_state: 'Running' });
      if (r.guest_metrics === NULL) this.pool.bootGuest(str(vm), num(r.domid));
      return '';
    },
    'VM.clean_shutdown': ([vm]) => {
      const r = this.power(str(vm), 'Running');
      if (r.guest_metrics === NULL) throw new XapiFailure('VM_LACKS_FEATURE_SHUTDOWN', [str(vm)]);
      this.pool.haltDomain(str(vm));
      return '';
    },
    'VM.hard_shutdown': ([vm]) => {
      const r = this.power(str(vm), 'Running', 'Paused', 'Suspended');
      this.pool.haltDomain(str(vm));
      // a suspended VM's memory image is discarded
      if (r.suspend_VDI !== NULL) {
        this.pool.remove(str(r.suspend_VDI));
        this.pool.set(str(vm), { suspend_VDI: NULL });
      }
      return '';
    },
    'VM.clean_reboot': ([vm]) => {
      const r = this.power(str(vm), 'Running');
      if (r.guest_metrics === NULL) throw new XapiFailure('VM_LACKS_FEATURE_SHUTDOWN', [str(vm)]);
      const host = r.resident_on as string;
      this.pool.haltDomain(str(vm));
      this.pool.startDomain(str(vm), host);
      return '';
    },
    'VM.hard_reboot': ([vm]) => {
      const r = this.power(str(vm), 'Running', 'Paused');
      const host = r.resident_on as string;
      this.pool.haltDomain(str(vm));
      this.pool.startDomain(str(vm), host);
      return '';
    },
    // VM.suspend is xenopsd's VM_save into a new suspend VDI, then VM_shutdown: the domain (and its
    // xenstore tree) is gone before XAPI reports the VM Suspended and the task completes.
    'VM.suspend': async ([vm]) => {
      const r = this.power(str(vm), 'Running');
      this.needsPv(str(vm), r);
      // the guest's xenbus advertises control/feature-suspend (the guest agent reports it)
      const other = this.pool.get(r.guest_metrics, 'VM_guest_metrics').other as Rec;
      if (other['feature-suspend'] !== '1') throw new XapiFailure('VM_LACKS_FEATURE_SUSPEND', [str(vm)]);
      const host = r.resident_on as string;
      const image = this.pool.add('VDI', this.pool.vdiRecord(this.pool.defaultSr, 'Suspend image', num(r.memory_static_max) + 2 ** 20, { type: 'suspend', name_description: `memory image of ${str(r.name_label)}` }));
      this.pool.haltDomain(str(vm));
      await new Promise<void>((resolve) => this.pool.later(this.pool.opts.suspendMs ?? 40, resolve));
      this.pool.set(str(vm), { power_state: 'Suspended', last_host: host, suspend_VDI: image });
      return '';
    },
    // VM.resume(vm, start_paused, force) is VM_create (a new domain, a new domid) and VM_restore
    // from the suspend VDI, which is then destroyed.
    'VM.resume': ([vm, paused]) => {
      const r = this.power(str(vm), 'Suspended');
      if (r.suspend_VDI === NULL || !this.pool.objects.has(str(r.suspend_VDI))) throw new XapiFailure('VDI_MISSING', [this.pool.defaultSr, str(r.suspend_VDI)]);
      // resume is placed like start (message_forwarding.ml resume: forward_to_suitable_host)
      const host = this.place(r);
      this.pool.set(str(vm), { power_state: 'Halted' });
      this.pool.startDomain(str(vm), host, paused === true);
      this.pool.remove(str(r.suspend_VDI));
      this.pool.set(str(vm), { suspend_VDI: NULL });
      return '';
    },
    'VM.pool_migrate': ([vm, host]) => {
      const r = this.power(str(vm), 'Running');
      this.pool.get(host, 'host');
      this.needsPv(str(vm), r);
      // message_forwarding.ml pool_migrate: assert_can_boot_here on the destination (HOST_DISABLED)
      if (this.pool.get(host, 'host').enabled === false) throw new XapiFailure('HOST_DISABLED', [str(host)]);
      this.pool.pull(str(r.resident_on), 'resident_VMs', str(vm));
      this.pool.set(str(vm), { domid: 1000 + num(r.domid), resident_on: str(host) });
      this.pool.push(str(host), 'resident_VMs', str(vm));
      return '';
    },
    'VM.revert': ([snap]) => this.revert(str(snap)),
    'VM.destroy': ([vm]) => {
      const r = this.pool.get(vm, 'VM');
      if (r.is_control_domain) throw new XapiFailure('OPERATION_NOT_ALLOWED', ['cannot destroy the control domain']);
      if (!r.is_a_template && !r.is_a_snapshot && r.power_state !== 'Halted') {
        throw new XapiFailure('VM_BAD_POWER_STATE', [str(vm), 'halted', String(r.power_state).toLowerCase()]);
      }
      for (const x of [...(r.VBDs as string[]), ...(r.VIFs as string[])]) this.pool.remove(x);
      for (const x of [r.guest_metrics, r.metrics]) if (x !== NULL) this.pool.remove(str(x));
      if (r.snapshot_of !== NULL && this.pool.objects.has(str(r.snapshot_of))) {
        const parent = this.pool.get(r.snapshot_of);
        this.pool.set(str(r.snapshot_of), { snapshots: (parent.snapshots as string[]).filter((s) => s !== vm) });
      }
      this.pool.remove(str(vm));
      return '';
    },
    'task.create': ([label, description]) => this.pool.add('task', { name_label: str(label), name_description: str(description), status: 'pending', progress: 0, result: '', error_info: [], created: '20261124T06:00:00Z', finished: '19700101T00:00:00Z', other_config: {}, resident_on: this.pool.hostRefs[0]! }),
    'VDI.create': ([rec]) => {
      const r = rec as Rec;
      const sr = this.pool.get(r.SR, 'SR');
      if (sr.content_type === 'iso') return this.createIsoVdi(r);
      // sm's LVM/EXT SRs allocate the VDI's size at create and refuse one that does not fit with
      // SR_BACKEND_FAILURE_44 "There is insufficient space" (sm: XE_SR_ERRORCODES.xml, code 44)
      if (num(sr.physical_utilisation) + num(r.virtual_size) > num(sr.physical_size)) throw new XapiFailure('SR_BACKEND_FAILURE_44', ['', 'There is insufficient space', '']);
      this.pool.set(str(r.SR), { physical_utilisation: num(sr.physical_utilisation) + num(r.virtual_size) });
      return this.pool.add('VDI', this.pool.vdiRecord(str(r.SR), str(r.name_label), num(r.virtual_size), { name_description: str(r.name_description), type: str(r.type) || 'user', sharable: r.sharable === true, read_only: r.read_only === true, other_config: (r.other_config as Rec) ?? {} }));
    },
    'VDI.destroy': ([vdi]) => {
      const r = this.pool.get(vdi, 'VDI');
      for (const vbd of r.VBDs as string[]) {
        const b = this.pool.get(vbd);
        if (b.currently_attached) throw new XapiFailure('VDI_IN_USE', [str(vdi), 'destroy']);
      }
      for (const vbd of r.VBDs as string[]) this.pool.set(vbd, { VDI: NULL, empty: true });
      // an ISO SR's VDI is its file: deleting the VDI deletes the file
      const file = this.pool.content.get(str(vdi));
      const srRec = this.pool.objects.get(str(r.SR))?.rec;
      if (srRec && srRec.content_type !== 'iso') this.pool.set(str(r.SR), { physical_utilisation: Math.max(0, num(srRec.physical_utilisation) - num(r.virtual_size)) });
      if (file) {
        const sr = this.pool.get(r.SR, 'SR');
        this.pool.set(str(r.SR), { physical_utilisation: num(sr.physical_utilisation) - file.length });
        this.pool.content.delete(str(vdi));
      }
      this.pool.remove(str(vdi));
      return '';
    },
    'VBD.create': ([rec]) => {
      const r = rec as Rec;
      const vm = this.pool.get(r.VM, 'VM');
      if (r.VDI !== NULL && r.VDI !== '' && r.VDI !== undefined) this.pool.get(r.VDI, 'VDI');
      const ud = str(r.userdevice);
      if ((vm.VBDs as string[]).some((b) => this.pool.get(b).userdevice === ud)) throw new XapiFailure('DEVICE_ALREADY_EXISTS', [ud]);
      return this.pool.createVbd(str(r.VM), r.VDI ? str(r.VDI) : NULL, ud, str(r.type) || 'Disk', r.empty === true, (r.other_config as Rec) ?? {});
    },
    'VBD.destroy': ([vbd]) => {
      const r = this.pool.get(vbd, 'VBD');
      if (r.currently_attached) throw new XapiFailure('OPERATION_NOT_ALLOWED', ['VBD is currently attached']);
      this.pool.remove(str(vbd));
      return '';
    },
    'VBD.insert': ([vbd, vdi]) => {
      const r = this.pool.get(vbd, 'VBD');
      const d = this.pool.get(vdi, 'VDI');
      if (r.type !== 'CD') throw new XapiFailure('VBD_NOT_REMOVABLE_MEDIA', [str(vbd)]);
      // only ISO files of an ISO SR (or host CD drives) go into a CD drive
      const contentType = str(this.pool.get(d.SR, 'SR').content_type);
      if (contentType !== 'iso') throw new XapiFailure('VDI_IS_NOT_ISO', [str(vdi), contentType]);
      if (!r.empty) throw new XapiFailure('VBD_NOT_EMPTY', [str(vbd)]);
      this.pool.set(str(vbd), { VDI: str(vdi), empty: false });
      return '';
    },
    'VBD.eject': ([vbd]) => {
      const r = this.pool.get(vbd, 'VBD');
      if (r.empty) throw new XapiFailure('VBD_IS_EMPTY', [str(vbd)]);
      this.pool.set(str(vbd), { VDI: NULL, empty: true });
      return '';
    },
    'VBD.plug': ([vbd]) => this.plug(str(vbd), 'VBD', true),
    // A clean unplug asks the guest to give the disk up; Windows refuses for a disk it holds (C:,
    // the pagefile: xenvbd's PnP query-remove fails) and xenopsd reports the frontend's refusal as
    // Device_detach_rejected -> DEVICE_DETACH_REJECTED(type, ref, msg) (ocaml/xapi-consts/api_errors.ml;
    // ocaml/xapi/xapi_xenops.ml). unplug_force does not ask (a surprise removal).
    'VBD.unplug': ([vbd]) => {
      const b = this.pool.get(vbd, 'VBD');
      const held = this.pool.guests.get(str(b.VM))?.heldDisks ?? ['0'];
      if (b.currently_attached && b.type === 'Disk' && held.includes(str(b.userdevice))) {
        throw new XapiFailure('DEVICE_DETACH_REJECTED', ['VBD', str(vbd), 'Device in use by the guest']);
      }
      return this.plug(str(vbd), 'VBD', false);
    },
    'VBD.unplug_force': ([vbd]) => this.plug(str(vbd), 'VBD', false),
    'VIF.create': ([rec]) => {
      const r = rec as Rec;
      const vm = this.pool.get(r.VM, 'VM');
      this.pool.get(r.network, 'network');
      if ((vm.VIFs as string[]).some((v) => this.pool.get(v).device === str(r.device))) throw new XapiFailure('DEVICE_ALREADY_EXISTS', [str(r.device)]);
      return this.pool.createVif(str(r.VM), str(r.device), str(r.MAC), (r.other_config as Rec) ?? {});
    },
    'VIF.destroy': ([vif]) => {
      const r = this.pool.get(vif, 'VIF');
      if (r.currently_attached) throw new XapiFailure('OPERATION_NOT_ALLOWED', ['VIF is currently attached']);
      this.pool.remove(str(vif));
      return '';
    },
    'VIF.plug': ([vif]) => this.plug(str(vif), 'VIF', true),
    'VIF.unplug': ([vif]) => this.plug(str(vif), 'VIF', false),
    'VIF.unplug_force': ([vif]) => this.plug(str(vif), 'VIF', false),
  };

  private plug(ref: string, cls: string, on: boolean): XrValue {
    const dev = this.pool.get(ref, cls);
    const vm = this.power(str(dev.VM), 'Running');
    this.needsPv(str(dev.VM), vm);
    if (dev.currently_attached === on) throw new XapiFailure(on ? 'DEVICE_ALREADY_ATTACHED' : 'DEVICE_ALREADY_DETACHED', [ref]);
    const name = cls === 'VBD' && on && !dev.device ? this.pool.deviceName(str(dev.userdevice)) : dev.device;
    this.pool.set(ref, cls === 'VBD' ? { currently_attached: on, device: name ?? '' } : { currently_attached: on });
    return '';
  }

  private copyVm(src: string, name: string, snapshot: boolean): string {
    const r = this.pool.get(src, 'VM');
    if (!snapshot && !r.is_a_template && r.power_state !== 'Halted') throw new XapiFailure('VM_BAD_POWER_STATE', [src, 'halted', String(r.power_state).toLowerCase()]);
    const rec: Rec = { ...structuredClone(r), name_label: name, VBDs: [], VIFs: [], snapshots: [], suspend_VDI: NULL, guest_metrics: NULL, metrics: NULL, power_state: snapshot ? 'Halted' : r.power_state, domid: -1, resident_on: NULL };
    delete rec.uuid;
    if (snapshot) Object.assign(rec, { is_a_snapshot: true, is_a_template: true, snapshot_of: src, snapshot_time: '20261124T06:00:00Z' });
    const ref = this.pool.add('VM', rec);
    for (const vbd of r.VBDs as string[]) {
      const b = this.pool.get(vbd);
      let vdi = NULL;
      if (b.type === 'Disk' && b.VDI !== NULL) {
        const d = this.pool.get(b.VDI);
        const copy: Rec = { ...structuredClone(d), VBDs: [], snapshots: [] };
        delete copy.uuid;
        if (snapshot) Object.assign(copy, { is_a_snapshot: true, snapshot_of: b.VDI });
        vdi = this.pool.add('VDI', copy);
      } else if (b.type === 'CD') vdi = b.VDI as string;
      this.pool.createVbd(ref, vdi, str(b.userdevice), str(b.type), vdi === NULL, structuredClone(b.other_config as Rec));
    }
    for (const vif of r.VIFs as string[]) {
      const v = this.pool.get(vif);
      this.pool.createVif(ref, str(v.device), snapshot ? str(v.MAC) : '', structuredClone(v.other_config as Rec));
    }
    if (snapshot) this.pool.set(src, { snapshots: [...(r.snapshots as string[]), ref] });
    return ref;
  }

  private revert(snap: string): XrValue {
    const s = this.pool.get(snap, 'VM');
    if (!s.is_a_snapshot) throw new XapiFailure('OPERATION_NOT_ALLOWED', ['VM.revert needs a snapshot']);
    const vmRef = str(s.snapshot_of);
    const vm = this.pool.get(vmRef, 'VM');
    if (vm.power_state !== 'Halted') this.pool.haltDomain(vmRef);
    if (vm.suspend_VDI !== NULL) {
      this.pool.remove(str(vm.suspend_VDI));
      this.pool.set(vmRef, { suspend_VDI: NULL });
    }
    // As xapi_vm_snapshot's revert: every VBD of the VM goes; the disks the snapshot has a copy of
    // are destroyed, others (hot-plugged later) are left unattached; the snapshot's disks are cloned
    // in, its CD drives and VIFs (MACs kept) copied.
    const snapDisks = new Set((s.VBDs as string[]).map((b) => this.pool.get(b)).filter((b) => b.type === 'Disk' && b.VDI !== NULL).map((b) => str(this.pool.get(b.VDI).snapshot_of)));
    for (const vbd of vm.VBDs as string[]) {
      const b = this.pool.get(vbd);
      this.pool.remove(vbd);
      if (b.type === 'Disk' && b.VDI !== NULL && snapDisks.has(str(b.VDI))) this.pool.remove(str(b.VDI));
    }
    for (const vbd of s.VBDs as string[]) {
      const b = this.pool.get(vbd);
      if (b.type !== 'Disk' || b.VDI === NULL) {
        this.pool.createVbd(vmRef, str(b.VDI), str(b.userdevice), str(b.type), b.VDI === NULL, structuredClone(b.other_config as Rec));
        continue;
      }
      const d = this.pool.get(b.VDI);
      const copy: Rec = { ...structuredClone(d), VBDs: [], snapshots: [], is_a_snapshot: false, snapshot_of: NULL };
      delete copy.uuid;
      const vdi = this.pool.add('VDI', copy);
      // later snapshots of the original disk now count as snapshots of its clone
      for (const [ref, r] of this.pool.all('VDI')) if (r.snapshot_of === d.snapshot_of && r.is_a_snapshot) this.pool.set(ref, { snapshot_of: vdi });
      this.pool.createVbd(vmRef, vdi, str(b.userdevice), 'Disk', false, structuredClone(b.other_config as Rec));
    }
    for (const vif of vm.VIFs as string[]) this.pool.remove(vif);
    for (const vif of s.VIFs as string[]) {
      const v = this.pool.get(vif);
      this.pool.createVif(vmRef, str(v.device), str(v.MAC), structuredClone(v.other_config as Rec));
    }
    this.pool.set(vmRef, { VCPUs_max: s.VCPUs_max!, VCPUs_at_startup: s.VCPUs_at_startup!, other_config: structuredClone(s.other_config as Rec) });
    this.pool.opts.onRevert?.(vmRef, snap);
    return '';
  }
}
