// Step execution: each scenario step through the HostBackend and its capability objects, with
// step.start/step.end events, workload and drivers events, dotted step ids (`4.1.2` = step 4,
// branch or iteration 1, step 2) and block-scoped faults switched off when their block ends.
import type { Capability } from '../model/catalog';
import { BACKEND_RESTART_MEANS, type DestinationOptions, type GuestRef, type HostBackend } from '../model/host';
import type { DeviceRef, FaultConfig, GuestShape, LifecycleStep, Scenario, Step, WaitStep } from '../model/scenario';
import type { DriverName } from '../model/spec';
import type { DriversEvent, TraceSink } from '../model/trace';
import { vdevToDevid } from '../model/vdev';
import type { RingProbe } from '../probes/ring-probe';
import type { XenstoreProbe } from '../probes/xenstore-probe';
import { resolveBundle, type BundleOpener } from './bundle';
import { errorInfo, Interrupted, StepFailure } from './errors';
import { unsupportedError } from '../model/errors';
import { once, TeardownStack } from './teardown';
import { withDeadline } from './deadline';

export interface StepContext {
  host: HostBackend;
  sink: TraceSink;
  inst: string;
  scenario: Scenario;
  guests: Map<string, GuestRef>;
  xsProbe: XenstoreProbe;
  ringProbe: RingProbe;
  /** Faults switched on by steps, by name, with their off function. */
  faultsOn: Map<string, () => Promise<void>>;
  cancelled: () => boolean;
  signal?: AbortSignal;
  openBundle?: BundleOpener;
}

function need<T>(v: T | undefined, cap: Capability, what: string): T {
  if (!v) throw new StepFailure('CAPABILITY_MISSING', `${what} needs the host capability '${cap}'`);
  return v;
}

function guestOf(ctx: StepContext, name: string): GuestRef {
  const g = ctx.guests.get(name);
  if (!g) throw new StepFailure('NO_SUCH_GUEST', `no guest '${name}' in this scenario`);
  return g;
}

/** The host's name for a device of the scenario's (see HostBackend.resolveDevice). */
export function hostDevice(host: HostBackend, g: GuestRef, dev: DeviceRef): DeviceRef {
  return host.resolveDevice?.(g, dev) ?? dev;
}

/** A fault's device, as the host names it. */
export function hostFault(host: HostBackend, f: FaultConfig, g: GuestRef | undefined): FaultConfig {
  return g && f.device ? { ...f, device: hostDevice(host, g, f.device) } : f;
}

/** A wait path under the guest's home with its `device/<type>/<id>` part as the host names it. */
function hostPath(host: HostBackend, g: GuestRef, path: string): string {
  const m = /^device\/(vbd|vif)\/(\d+)(\/.*)?$/.exec(path);
  if (!m) return path;
  return `device/${hostDevice(host, g, `${m[1] as 'vbd' | 'vif'}/${Number(m[2])}`)}${m[3] ?? ''}`;
}

function shapeOf(ctx: StepContext, name: string): GuestShape {
  const s = ctx.scenario.guests.find((g) => g.name === name);
  if (!s) throw new StepFailure('NO_SUCH_GUEST', `no guest '${name}' in this scenario`);
  return s;
}

/** The guest got a new domid (migrate, restore): probes follow it. */
async function rebind(ctx: StepContext, ref: GuestRef): Promise<void> {
  ctx.guests.set(ref.name, ref);
  await ctx.xsProbe.attach(ref, ctx.host.homePath(ref));
  ctx.ringProbe.attach(ref);
}

function label(step: Step): string {
  if (step.label) return step.label;
  switch (step.kind) {
    case 'uninstall-drivers':
      return `uninstall ${step.vendor ? `${step.vendor} ` : ''}drivers${step.method === 'installer' ? ' (vendor installer)' : ''}${step.reboot ? ' + reboot' : ''}`;
    case 'set-nic':
      return `set-nic ${step.device} ${[...step.ipv4, ...step.ipv6].join(' ')}${step.dns.length ? ` dns ${step.dns.join(' ')}` : ''}${step.mtu ? ` mtu ${step.mtu}` : ''}`;
    case 'install-drivers':
      return `install ${step.bundle}${step.method === 'installer' ? ' (vendor installer)' : step.method === 'staged' ? ' (staged)' : ''}${step.expectExit ? ` expecting exit ${step.expectExit}` : ''}${step.verifier ? ' + Driver Verifier' : ''}${step.reboot ? ' + reboot' : ''}`;
    case 'wait':
      return `wait ${step.path}${step.equals !== undefined ? ` = ${step.equals}` : step.exists === false ? ' absent' : ''}`;
    case 'block':
      return `block ${step.device} ${step.blockSize / 1024}K qd${step.queueDepth} ${step.writePercent}%w ${step.pattern} ${step.durationMs} ms`;
    case 'net':
      return `net ${step.device} ${step.direction} x${step.threads} ${step.durationMs} ms${step.peer ? ` with ${step.peer}` : ''}`;
    case 'hotplug':
      return `${step.surprise ? 'surprise-' : ''}${step.action} ${step.device}`;
    case 'backend-restart':
    case 'backend-close':
      return `${step.kind} ${step.device}`;
    case 'fault':
      return `fault ${step.fault.name} ${step.action ?? 'on'}${step.fault.durationMs ? ` for ${step.fault.durationMs} ms` : ''}`;
    case 'sleep':
      return `sleep ${step.durationMs} ms`;
    case 'parallel':
      return `parallel x${step.branches.length}`;
    case 'repeat':
      return `repeat x${step.count}`;
    default:
      return `${step.kind} ${'guest' in step ? step.guest : ''}`.trim();
  }
}

/** Runs a block of steps in order; faults switched on in the block without a duration go off at its end. */
export async function runSteps(steps: readonly Step[], prefix: string, ctx: StepContext): Promise<void> {
  const block = new TeardownStack();
  let failure: unknown;
  try {
    for (let i = 0; i < steps.length; i++) {
      if (ctx.cancelled()) throw new Interrupted('cancelled');
      const id = prefix ? `${prefix}.${i + 1}` : String(i + 1);
      await runStep(steps[i], id, ctx, block);
    }
  } catch (e) {
    failure = e;
  }
  const undone = await block.unwind();
  for (const u of undone) ctx.sink.emit({ ev: 'log', inst: ctx.inst, level: 'error', msg: `switching off ${u.label} failed: ${u.error.message}` });
  if (failure !== undefined) throw failure;
}

async function runStep(step: Step, id: string, ctx: StepContext, block: TeardownStack): Promise<void> {
  const l = label(step);
  ctx.sink.emit({ ev: 'step.start', inst: ctx.inst, step: id, kind: step.kind, label: l });
  try {
    await execute(step, id, ctx, block);
  } catch (e) {
    ctx.sink.emit({ ev: 'step.end', inst: ctx.inst, step: id, kind: step.kind, label: l, ok: false, error: errorInfo(e) });
    throw e;
  }
  ctx.sink.emit({ ev: 'step.end', inst: ctx.inst, step: id, kind: step.kind, label: l, ok: true });
}

async function execute(step: Step, id: string, ctx: StepContext, block: TeardownStack): Promise<void> {
  const { host } = ctx;
  switch (step.kind) {
    case 'install-drivers': {
      const g = guestOf(ctx, step.guest);
      const drivers = (step.drivers ?? ctx.scenario.drivers) as DriverName[];
      const { bundle, cleanup } = await resolveBundle(step.bundle, drivers, ctx.scenario.source.file, ctx.openBundle);
      block.defer(`bundle ${step.bundle}`, cleanup);
      const install = host.agent(g).installDrivers({
        ...bundle, ...(step.verifier ? { verifier: true } : {}), ...(step.method === 'installer' ? { installer: true } : {}), ...(step.method === 'staged' ? { staged: true } : {}),
        onCleanup: (label, undo) => block.defer(label, undo),
      });
      if (step.expectExit !== undefined) return expectInstallerExit(ctx, step.guest, install, step.expectExit);
      const installed = await install;
      if (step.reboot) await reboot(ctx, step.guest);
      return reportDrivers(ctx, step.guest, {
        version: (installed && installed.version) || bundle.version, drivers, ...(step.verifier ? { verifier: true } : {}), ...(step.method === 'staged' ? { staged: true } : {}),
      });
    }
    case 'uninstall-drivers': {
      const g = guestOf(ctx, step.guest);
      const agent = host.agent(g);
      if (!agent.uninstallDrivers) throw unsupportedError(`host ${host.kind} cannot uninstall the PV drivers (no 'driver-uninstall' capability)`);
      await agent.uninstallDrivers({ ...(step.vendor ? { vendor: step.vendor } : {}), ...(step.method === 'installer' ? { installer: true } : {}) });
      if (step.reboot) await reboot(ctx, step.guest);
      return reportDrivers(ctx, step.guest, { version: '', drivers: [], removed: true });
    }
    case 'set-nic': {
      const g = guestOf(ctx, step.guest);
      const agent = host.agent(g);
      if (!agent.setNic) throw unsupportedError(`host ${host.kind} cannot configure a guest NIC (no 'nic-settings' capability)`);
      const dev = hostDevice(host, g, step.device);
      const devid = Number(dev.split('/')[1]);
      // the MAC the frontend was given (a pool gives each VIF a MAC of the run's, not the scenario's);
      // the scenario's where the host's xenstore cannot say
      const given = await host.xenstore.read(`${host.homePath(g)}/device/${dev}/mac`).catch(() => undefined);
      const mac = given ?? shapeOf(ctx, step.guest).vifs.find((v) => v.devid === devid)?.mac;
      if (!mac) throw new StepFailure('NO_MAC', `${step.guest} ${dev}: no MAC address to find its NIC by (give the <vif> a mac)`);
      const nic = { mac: mac.toLowerCase(), ipv4: step.ipv4, ipv6: step.ipv6, dns: step.dns, ...(step.mtu !== undefined ? { mtu: step.mtu } : {}) };
      await agent.setNic(nic);
      ctx.sink.emit({ ev: 'nic.set', inst: ctx.inst, guest: step.guest, dev, ...nic });
      return;
    }
    case 'reboot':
      return reboot(ctx, step.guest);
    case 'wait':
      return waitFor(step, ctx);
    case 'block': {
      const g = guestOf(ctx, step.guest);
      const dev = hostDevice(host, g, step.device);
      const { result, raw } = await host.agent(g).blockWorkload({ ...step, device: dev });
      ctx.sink.emit({ ev: 'workload', inst: ctx.inst, guest: step.guest, step: id, dev, result, ...(raw !== undefined ? { raw } : {}) });
      return;
    }
    case 'net': {
      const g = guestOf(ctx, step.guest);
      const dev = hostDevice(host, g, step.device);
      const peer = step.peer ? host.agent(guestOf(ctx, step.peer)) : undefined;
      const { result, raw } = await host.agent(g).netWorkload({ ...step, device: dev }, peer);
      ctx.sink.emit({ ev: 'workload', inst: ctx.inst, guest: step.guest, step: id, dev, result, ...(raw !== undefined ? { raw } : {}) });
      return;
    }
    case 'hotplug': {
      const hp = need(host.hotplug, 'hotplug', 'hotplug');
      const g = guestOf(ctx, step.guest);
      if (step.action === 'unplug') return hp.detach(g, hostDevice(host, g, step.device), { surprise: step.surprise });
      const dev = await plug(ctx, g, step.device);
      const want = hostDevice(host, g, step.device);
      if (dev !== want) ctx.sink.emit({ ev: 'log', inst: ctx.inst, level: 'info', msg: `plugged ${want} came back as ${dev}` });
      return;
    }
    case 'suspend':
      return need(host.suspend, 'suspend', 'suspend').suspend(guestOf(ctx, step.guest));
    case 'resume':
      return resume(ctx, step.guest, destinationOf(ctx, step));
    case 'suspend-resume':
      await need(host.suspend, 'suspend', 'suspend-resume').suspend(guestOf(ctx, step.guest));
      return resume(ctx, step.guest, destinationOf(ctx, step));
    case 'migrate': {
      await ctx.xsProbe.watchNewDomains();
      const ref = await need(host.migrate, 'migrate', 'migrate').migrate(guestOf(ctx, step.guest), undefined, destinationOf(ctx, step));
      return rebind(ctx, ref);
    }
    case 'save-restore': {
      const sr = need(host.saveRestore, 'save-restore', 'save-restore');
      await ctx.xsProbe.watchNewDomains();
      const image = await sr.save(guestOf(ctx, step.guest));
      return rebind(ctx, await sr.restore(guestOf(ctx, step.guest), image, destinationOf(ctx, step)));
    }
    case 'shutdown':
      return host.shutdownGuest(guestOf(ctx, step.guest), 'clean');
    case 'start':
      return host.startGuest(guestOf(ctx, step.guest));
    case 'xeniface-store': {
      const g = guestOf(ctx, step.guest);
      const path = padPath(step.path, step.pathBytes);
      const value = step.valueBytes !== undefined ? 'v'.repeat(step.valueBytes) : undefined;
      const out = await need(host.xenifaceStore, 'xeniface-store', 'xeniface-store').request(g, { op: step.op, path, ...(value !== undefined ? { value } : {}) });
      const what = `xeniface ${step.op} of a ${path.length}-byte path${value !== undefined ? ` and a ${value.length}-byte value` : ''}`;
      ctx.sink.emit({ ev: 'log', inst: ctx.inst, level: 'info', msg: `${step.guest}: ${what}: ${out.status}` });
      // STATUS_PENDING: no reply ever came (the request was lost with the guest's xenstore connection)
      if (out.status === 'STATUS_PENDING') throw new StepFailure('XENIFACE_PENDING', `${what} never completed: xenstore did not answer`);
      const refused = out.status !== 'STATUS_SUCCESS';
      if (refused !== (step.expect === 'refused')) {
        throw new StepFailure('XENIFACE_OUTCOME', `${what} completed with ${out.status}, expected ${step.expect === 'refused' ? 'a refusal' : 'STATUS_SUCCESS'}`);
      }
      return;
    }
    case 'bugcheck':
      return need(host.bugcheck, 'guest-bugcheck', 'bugcheck').bugcheck(guestOf(ctx, step.guest), { code: step.code });
    case 'backend-restart': {
      const g = guestOf(ctx, step.guest);
      const bc = need(host.backendControl, 'backend-control', 'backend-restart');
      const dev = hostDevice(host, g, step.device);
      // a scenario about one kind of restart means nothing where the host does another: skipped, said why
      if (step.restartKind && step.restartKind !== bc.restartKind) {
        throw unsupportedError(`backend-restart kind="${step.restartKind}" (${BACKEND_RESTART_MEANS[step.restartKind]}): ${host.kind}'s backend-restart is ${bc.restartKind} (${BACKEND_RESTART_MEANS[bc.restartKind]})`);
      }
      // the kinds test different things: every restart says which one this host did
      ctx.sink.emit({ ev: 'log', inst: ctx.inst, level: 'info', msg: `backend-restart of ${step.guest} ${dev} on ${host.kind}: ${bc.restartKind} (${BACKEND_RESTART_MEANS[bc.restartKind]})` });
      return bc.restartBackend(g, dev);
    }
    case 'backend-close': {
      const g = guestOf(ctx, step.guest);
      return need(host.backendControl, 'backend-control', 'backend-close').forceBackendState(g, hostDevice(host, g, step.device), 5);
    }
    case 'fault': {
      const name = step.fault.name;
      if (step.action === 'off') {
        const off = ctx.faultsOn.get(name);
        if (!off) throw new StepFailure('FAULT_NOT_ON', `fault '${name}' is not on`);
        ctx.faultsOn.delete(name);
        return off();
      }
      const faults = need(host.faults, 'fault-injection', `fault ${name}`);
      const g = step.fault.guest ? guestOf(ctx, step.fault.guest) : undefined;
      const off = once(await faults.inject(hostFault(host, step.fault, g), g));
      if (step.fault.durationMs !== undefined) {
        // on record while it lasts: if the scenario is cut short during the sleep, the instance's
        // teardown switches it off (the sleep itself may end only after the next scenario started)
        ctx.faultsOn.set(name, off);
        try {
          await host.clock.sleep(step.fault.durationMs);
        } finally {
          if (ctx.faultsOn.get(name) === off) ctx.faultsOn.delete(name);
        }
        return off();
      }
      ctx.faultsOn.set(name, off);
      block.defer(`fault ${name}`, async () => {
        if (ctx.faultsOn.get(name) === off) {
          ctx.faultsOn.delete(name);
          await off();
        }
      });
      return;
    }
    case 'sleep':
      return host.clock.sleep(step.durationMs);
    case 'parallel': {
      const settled = await Promise.allSettled(step.branches.map((b, i) => runSteps(b, `${id}.${i + 1}`, ctx)));
      const bad = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (bad) throw bad.reason;
      return;
    }
    case 'repeat':
      for (let i = 0; i < step.count; i++) await runSteps(step.steps, `${id}.${i + 1}`, ctx);
      return;
  }
}

/** The guest's driver status as a `drivers` event, with what the step expected of it. */
async function reportDrivers(ctx: StepContext, guest: string, expected: DriversEvent['expected']): Promise<void> {
  const st = await ctx.host.agent(guestOf(ctx, guest)).driverStatus();
  ctx.sink.emit({
    ev: 'drivers', inst: ctx.inst, guest, bound: st.bound, unbound: st.unbound, unplugged: st.unplugged, ...(st.verified ? { verified: st.verified } : {}),
    ...(st.states ? { states: st.states } : {}), ...(st.nics ? { nics: st.nics } : {}), expected,
  });
}

/** An install whose vendor installer must fail with `code` (1603): the step passes when it does (the
 *  host has collected the installer's log as an `installer-log` artifact), and fails otherwise. The
 *  exit code is read from the agent's error, which says `failed (<code>: <meaning>)` as msiexec's is. */
async function expectInstallerExit(ctx: StepContext, guest: string, install: Promise<unknown>, code: number): Promise<void> {
  try {
    await install;
  } catch (e) {
    const got = /failed \((\d+): /.exec((e as Error).message)?.[1];
    if (got !== undefined && Number(got) === code) {
      ctx.sink.emit({ ev: 'log', inst: ctx.inst, level: 'info', msg: `${guest}: ${(e as Error).message} (exit ${code} expected)` });
      return;
    }
    throw e;
  }
  throw new StepFailure('INSTALLER_EXIT', `${guest}: the vendor installer succeeded, expected it to fail with exit code ${code}`);
}

/** Hosts where a reboot makes a new domain (xl, XenAPI) update the GuestRef in place; probes follow it.
 *  A host that builds the new domain paused calls beforeUnpause, so the probes are attached before
 *  the new frontends write their first state; others are rebound once the reboot returns. */
async function reboot(ctx: StepContext, name: string): Promise<void> {
  const g = guestOf(ctx, name);
  const before = g.domid;
  let rebound = false;
  if (ctx.host.rebootMakesNewDomain) await ctx.xsProbe.watchNewDomains();
  await ctx.host.rebootGuest(g, {
    beforeUnpause: async (fresh) => {
      rebound = true;
      await rebind(ctx, fresh);
    },
  });
  if (!rebound && g.domid !== before) await rebind(ctx, g);
}

/** A resume into a new domain (XenAPI) gives the guest a new domid: the probes follow it, attached
 *  before the new domain runs when the host offers that. A resume in place (the simulator) changes nothing. */
/** A path padded with a last component of 'x' to `bytes` bytes (the IOCTL's terminating NUL not counted). */
function padPath(path: string, bytes?: number): string {
  if (bytes === undefined || bytes <= path.length) return path;
  const base = path.endsWith('/') ? path : `${path}/`;
  return base + 'x'.repeat(Math.max(1, bytes - base.length));
}

/** The destination backends a moving step names, devices resolved the host's way; a host that cannot
 *  give them is refused here (the planner skips such scenarios, so this guards direct runs). */
function destinationOf(ctx: StepContext, step: LifecycleStep): DestinationOptions {
  if (!step.destination?.length) return {};
  if (!ctx.host.capabilities.has('destination-backend-keys')) throw unsupportedError(`host ${ctx.host.kind} cannot give a guest destination backends with other keys (no 'destination-backend-keys' capability)`);
  const g = guestOf(ctx, step.guest);
  return { destination: step.destination.map((d) => ({ device: hostDevice(ctx.host, g, d.device), backend: d.backend })) };
}

async function resume(ctx: StepContext, name: string, dest: DestinationOptions = {}): Promise<void> {
  const s = need(ctx.host.suspend, 'suspend', 'resume');
  const g = guestOf(ctx, name);
  const before = g.domid;
  let rebound = false;
  const ref = await s.resume(g, {
    ...dest,
    beforeUnpause: async (fresh) => {
      rebound = true;
      await rebind(ctx, fresh);
    },
  });
  const now = ref ?? g;
  if (!rebound && now.domid !== before) await rebind(ctx, now);
  else ctx.guests.set(name, now);
}

async function plug(ctx: StepContext, g: GuestRef, dev: DeviceRef): Promise<DeviceRef> {
  const hp = ctx.host.hotplug!;
  const shape = shapeOf(ctx, g.name);
  const [type, n] = dev.split('/');
  if (type === 'vbd') {
    const vbd = shape.vbds.find((v) => vdevToDevid(v.vdev) === Number(n));
    if (!vbd) throw new StepFailure('NO_SUCH_DEVICE', `${g.name} has no VBD ${dev} in its shape to plug`);
    return hp.attachVbd(g, vbd);
  }
  const vif = shape.vifs.find((v) => v.devid === Number(n));
  if (!vif) throw new StepFailure('NO_SUCH_DEVICE', `${g.name} has no VIF ${dev} in its shape to plug`);
  return hp.attachVif(g, vif);
}

function condition(step: WaitStep, value: string | null): boolean {
  if (step.equals !== undefined) return value === step.equals;
  return step.exists === false ? value === null : value !== null;
}

/** Waits for a xenstore condition through a watch, bounded by host time. */
async function waitFor(step: WaitStep, ctx: StepContext): Promise<void> {
  const g = guestOf(ctx, step.guest);
  const path = step.path.startsWith('/') ? step.path : `${ctx.host.homePath(g)}/${hostPath(ctx.host, g, step.path)}`;
  let resolveMet!: () => void;
  const met = new Promise<void>((r) => (resolveMet = r));
  const test = async (value?: string | null) => {
    const v = value !== undefined ? value : await ctx.host.xenstore.read(path);
    if (condition(step, v)) resolveMet();
  };
  const off = await ctx.host.xenstore.watch(path, (changed, value) => {
    if (changed === path) void test(value).catch(() => undefined);
    else void test().catch(() => undefined);
  });
  try {
    await test();
    const what = `wait for ${path}${step.equals !== undefined ? ` = ${step.equals}` : step.exists === false ? ' to vanish' : ' to exist'}`;
    await withDeadline(ctx.host.clock, step.timeoutMs, ctx.signal, what, () => met);
  } finally {
    await off().catch(() => undefined);
  }
}
