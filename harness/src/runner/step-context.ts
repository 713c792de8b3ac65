// What a step runs with (the host, the trace, the scenario's guests and the probes) and the helpers
// the steps share: guests and devices as the host names them, probes following a guest into a new
// domain (reboot, resume, migrate, restore), hot-plug from the guest's shape, xenstore waits and the
// drivers event.
import type { Capability } from '../model/catalog';
import type { DestinationOptions, GuestRef, HostBackend } from '../model/host';
import type { DeviceRef, FaultConfig, GuestShape, LifecycleStep, Scenario, WaitStep } from '../model/scenario';
import type { DriversEvent, TraceSink } from '../model/trace';
import { vdevToDevid } from '../model/vdev';
import type { RingProbe } from '../probes/ring-probe';
import type { XenstoreProbe } from '../probes/xenstore-probe';
import type { BundleOpener } from './bundle';
import { StepFailure } from './errors';
import { unsupportedError } from '../model/errors';
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

export function need<T>(v: T | undefined, cap: Capability, what: string): T {
  if (!v) throw new StepFailure('CAPABILITY_MISSING', `${what} needs the host capability '${cap}'`);
  return v;
}

export function guestOf(ctx: StepContext, name: string): GuestRef {
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

export function shapeOf(ctx: StepContext, name: string): GuestShape {
  const s = ctx.scenario.guests.find((g) => g.name === name);
  if (!s) throw new StepFailure('NO_SUCH_GUEST', `no guest '${name}' in this scenario`);
  return s;
}

/** The guest got a new domid (migrate, restore): probes follow it. */
export async function rebind(ctx: StepContext, ref: GuestRef): Promise<void> {
  ctx.guests.set(ref.name, ref);
  await ctx.xsProbe.attach(ref, ctx.host.homePath(ref));
  ctx.ringProbe.attach(ref);
}

/** The guest's driver status as a `drivers` event, with what the step expected of it. */
export async function reportDrivers(ctx: StepContext, guest: string, expected: DriversEvent['expected']): Promise<void> {
  const st = await ctx.host.agent(guestOf(ctx, guest)).driverStatus();
  ctx.sink.emit({
    ev: 'drivers', inst: ctx.inst, guest, bound: st.bound, unbound: st.unbound, unplugged: st.unplugged, ...(st.verified ? { verified: st.verified } : {}),
    ...(st.states ? { states: st.states } : {}), ...(st.nics ? { nics: st.nics } : {}), expected,
  });
}

/** An install whose vendor installer must fail with `code` (1603): the step passes when it does (the
 *  host has collected the installer's log as an `installer-log` artifact), and fails otherwise. The
 *  exit code is read from the agent's error, which says `failed (<code>: <meaning>)` as msiexec's is. */
export async function expectInstallerExit(ctx: StepContext, guest: string, install: Promise<unknown>, code: number): Promise<void> {
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
export async function reboot(ctx: StepContext, name: string): Promise<void> {
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

/** A path padded with a last component of 'x' to `bytes` bytes (the IOCTL's terminating NUL not counted). */
export function padPath(path: string, bytes?: number): string {
  if (bytes === undefined || bytes <= path.length) return path;
  const base = path.endsWith('/') ? path : `${path}/`;
  return base + 'x'.repeat(Math.max(1, bytes - base.length));
}

/** The destination backends a moving step names, devices resolved the host's way; a host that cannot
 *  give them is refused here (the planner skips such scenarios, so this guards direct runs). */
export function destinationOf(ctx: StepContext, step: LifecycleStep): DestinationOptions {
  if (!step.destination?.length) return {};
  if (!ctx.host.capabilities.has('destination-backend-keys')) throw unsupportedError(`host ${ctx.host.kind} cannot give a guest destination backends with other keys (no 'destination-backend-keys' capability)`);
  const g = guestOf(ctx, step.guest);
  return { destination: step.destination.map((d) => ({ device: hostDevice(ctx.host, g, d.device), backend: d.backend })) };
}

/** A resume into a new domain (XenAPI) gives the guest a new domid: the probes follow it, attached
 *  before the new domain runs when the host offers that. A resume in place (the simulator) changes nothing. */
export async function resume(ctx: StepContext, name: string, dest: DestinationOptions = {}): Promise<void> {
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

export async function plug(ctx: StepContext, g: GuestRef, dev: DeviceRef): Promise<DeviceRef> {
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
export async function waitFor(step: WaitStep, ctx: StepContext): Promise<void> {
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
