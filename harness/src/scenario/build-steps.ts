// Building the steps of a scenario (and its faults) from their validated elements, with the checks
// XSD cannot make: guest, peer and device references, fault names, and the capabilities each step
// needs (added to the scenario's needs). One builder per step element, by name, in STEP_BUILDERS.
import { isFaultName, type Capability } from '../model/catalog';
import type { SourceLocation } from '../model/errors';
import type { BackendRestartKind } from '../model/host';
import type { DeviceRef, FaultConfig, GuestShape, Step } from '../model/scenario';
import type { DriverName } from '../model/spec';
import { vdevToDevid } from '../model/vdev';
import { splitList, type XmlElement } from '../xml';
import type { Path, Reader } from './reader';

const STEP_NEEDS: Partial<Record<Step['kind'], Capability>> = {
  hotplug: 'hotplug',
  suspend: 'suspend',
  resume: 'suspend',
  'suspend-resume': 'suspend',
  migrate: 'migrate',
  'save-restore': 'save-restore',
  'backend-restart': 'backend-control',
  'backend-close': 'backend-control',
  'xeniface-store': 'xeniface-store',
  bugcheck: 'guest-bugcheck',
  fault: 'fault-injection',
  'uninstall-drivers': 'driver-uninstall',
  'set-nic': 'nic-settings',
};

export const loc = (el: XmlElement, file: string): SourceLocation => ({ ...el.loc, file });

/** The `<backend key value>` children of a device: the keys a scenario sets on its backend. */
export function backendKeys(el: XmlElement, r: Reader): Record<string, string> {
  const out: Record<string, string> = {};
  for (const b of el.childrenNamed('backend')) {
    const k = b.attr('key') ?? '';
    if (Object.hasOwn(out, k)) r.problem(b.attrLoc('key'), `backend key '${k}' is set twice`, 'unique-key');
    out[k] = r.fixed(b, 'value') ?? '';
  }
  return out;
}

export interface StepCtx {
  r: Reader;
  guests: GuestShape[];
  needs: Set<Capability>;
  file: string;
}

function guestRef(el: XmlElement, attr: string, ctx: StepCtx): string {
  const name = el.attr(attr) ?? '';
  if (el.attr(attr) !== undefined && !ctx.guests.some((g) => g.name === name)) {
    ctx.r.problem(el.attrLoc(attr), `no guest '${name}' (have: ${ctx.guests.map((g) => g.name).join(', ') || 'none'})`, 'guest-ref');
  }
  return name;
}

/** `xvda` / `51712` / `vbd/51712` / `vif/0` -> DeviceRef, checked against the guest's shape. */
function deviceRef(el: XmlElement, guest: string | undefined, ctx: StepCtx): DeviceRef {
  const raw = ctx.r.fixed(el, 'device') ?? '';
  let ref: DeviceRef | undefined;
  const m = /^(vbd|vif)\/(\d+)$/.exec(raw);
  if (m) ref = `${m[1] as 'vbd' | 'vif'}/${Number(m[2])}`;
  else {
    const id = vdevToDevid(raw);
    if (id !== undefined) ref = `vbd/${id}`;
  }
  if (!ref) {
    ctx.r.problem(el.attrLoc('device'), `'${raw}' is not a device (xvda, vbd/51712, vif/0)`, 'device-ref');
    return 'vbd/0';
  }
  const shape = ctx.guests.find((g) => g.name === guest);
  if (shape) {
    const [type, n] = ref.split('/');
    const known = type === 'vbd' ? shape.vbds.some((v) => vdevToDevid(v.vdev) === Number(n)) : shape.vifs.some((v) => v.devid === Number(n));
    if (!known) {
      const have = [...shape.vbds.map((v) => `${v.vdev} (vbd/${vdevToDevid(v.vdev)})`), ...shape.vifs.map((v) => `vif/${v.devid}`)];
      ctx.r.problem(el.attrLoc('device'), `guest '${guest}' has no device ${raw} (has: ${have.join(', ') || 'none'})`, 'device-ref');
    }
  }
  return ref;
}

export function buildFault(f: XmlElement, ctx: StepCtx): FaultConfig {
  const name = f.attr('name') ?? '';
  if (!isFaultName(name)) ctx.r.problem(f.attrLoc('name'), `'${name}' is not a fault the hosts know (see FAULTS)`, 'fault-name');
  const guest = f.attr('guest') !== undefined ? guestRef(f, 'guest', ctx) : undefined;
  if (f.attr('device') !== undefined && guest === undefined) ctx.r.problem(f.attrLoc('device'), 'a fault on a device also names its guest', 'fault-device');
  const params: Record<string, string> = {};
  for (const p of f.childrenNamed('param')) params[p.attr('name') ?? ''] = ctx.r.fixed(p, 'value') ?? '';
  return {
    name: name as FaultConfig['name'],
    ...(guest !== undefined ? { guest } : {}),
    ...(f.attr('device') !== undefined ? { device: deviceRef(f, guest, ctx) } : {}),
    ...(f.attr('duration') !== undefined ? { durationMs: ctx.r.duration(f, 'duration') } : {}),
    params,
  };
}

export function buildSteps(parent: XmlElement, at: Path, ctx: StepCtx): Step[] {
  const steps: Step[] = [];
  if (parent.children.length === 0) ctx.r.problem(parent.at(), `<${parent.name}> needs at least one step`, 'child-count');
  parent.children.forEach((el, i) => {
    const s = buildStep(el, [...at, i], ctx);
    if (s) {
      const need = STEP_NEEDS[s.kind];
      if (need) ctx.needs.add(need);
      // the install options only a real Windows guest has (the simulator's is a model of pnputil)
      if (s.kind === 'install-drivers' && s.method === 'installer') ctx.needs.add('vendor-installer');
      if (s.kind === 'install-drivers' && s.verifier) ctx.needs.add('driver-verifier');
      if (s.kind === 'install-drivers' && s.method === 'staged') ctx.needs.add('driver-staging');
      if (s.kind === 'uninstall-drivers' && s.method === 'installer') ctx.needs.add('vendor-installer');
      // another vendor's packages exist only as the simulator's models (a pool has no such ISO)
      if ((s.kind === 'install-drivers' && /^builtin:[^@]*@/.test(s.bundle)) || (s.kind === 'uninstall-drivers' && s.vendor)) ctx.needs.add('vendor-packages');
      steps.push(s);
    }
  });
  return steps;
}

type StepBuilder = (el: XmlElement, at: Path, ctx: StepCtx, base: { source: SourceLocation; label?: string }) => Step;

const guestOf = (el: XmlElement, ctx: StepCtx) => guestRef(el, 'guest', ctx);

function installDrivers(el: XmlElement, at: Path, ctx: StepCtx, base: { source: SourceLocation; label?: string }): Step {
  const { r } = ctx;
  const drivers = el.attr('drivers');
  const method = el.attr('method');
  const verifier = r.bool(el, 'verifier', [...at, 'verifier'], false);
  const expectExit = r.int(el, 'expect-exit', [...at, 'expectExit']);
  if (expectExit !== undefined && method !== 'installer') r.problem(el.attrLoc('expect-exit'), 'expect-exit is for method="installer" (an exit code of the vendor installer)', 'install-method');
  return {
    ...base, kind: 'install-drivers', guest: guestOf(el, ctx), bundle: r.str(el, 'bundle') ?? '', ...(drivers ? { drivers: splitList(drivers) as DriverName[] } : {}), reboot: r.bool(el, 'reboot', [...at, 'reboot'], true),
    ...(method === 'installer' || method === 'staged' ? { method: method as 'installer' | 'staged' } : {}), ...(verifier ? { verifier: true } : {}),
    ...(expectExit !== undefined ? { expectExit } : {}),
  };
}

function setNic(el: XmlElement, at: Path, ctx: StepCtx, base: { source: SourceLocation; label?: string }): Step {
  const { r } = ctx;
  const g = guestOf(el, ctx);
  const device = deviceRef(el, g, ctx);
  if (device.startsWith('vbd/')) r.problem(el.attrLoc('device'), 'set-nic configures the NIC of a VIF', 'device-ref');
  const list = (a: string) => splitList(r.fixed(el, a) ?? '');
  const mtu = r.int(el, 'mtu', [...at, 'mtu']);
  const bad = [...list('ipv4').filter((x) => !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(x)), ...list('ipv6').filter((x) => !/^[0-9a-fA-F:]+\/\d{1,3}$/.test(x))];
  if (bad.length) r.problem(el.at(), `set-nic: ${bad.join(', ')} is not an address with its prefix length (192.0.2.10/24, 2001:db8::10/64)`, 'set-nic');
  return { ...base, kind: 'set-nic', guest: g, device, ipv4: list('ipv4'), ipv6: list('ipv6'), dns: list('dns'), ...(mtu !== undefined ? { mtu } : {}) };
}

/** resume, suspend-resume, migrate, save-restore: the guest moves, onto destination backends when it names them. */
function move(el: XmlElement, _at: Path, ctx: StepCtx, base: { source: SourceLocation; label?: string }): Step {
  const g = guestOf(el, ctx);
  const destination = el.childrenNamed('destination').map((d) => ({ device: deviceRef(d, g, ctx), backend: backendKeys(d, ctx.r) }));
  if (destination.length) ctx.needs.add('destination-backend-keys');
  const seen = new Set<string>();
  for (const [i, d] of destination.entries()) {
    if (seen.has(d.device)) ctx.r.problem(el.childrenNamed('destination')[i].attrLoc('device'), `destination of ${d.device} is given twice`, 'unique-device');
    seen.add(d.device);
  }
  return { ...base, kind: el.name as 'resume' | 'suspend-resume' | 'migrate' | 'save-restore', guest: g, ...(destination.length ? { destination } : {}) };
}

/** reboot, suspend, shutdown, start: a guest and nothing else. */
const lifecycle: StepBuilder = (el, _at, ctx, base) => ({ ...base, kind: el.name as 'reboot' | 'suspend' | 'shutdown' | 'start', guest: guestOf(el, ctx) });

function xenifaceStore(el: XmlElement, at: Path, ctx: StepCtx, base: { source: SourceLocation; label?: string }): Step {
  const { r } = ctx;
  const pathBytes = r.int(el, 'path-bytes', [...at, 'pathBytes']);
  const valueBytes = r.int(el, 'value-bytes', [...at, 'valueBytes']);
  const op = (el.attr('op') ?? 'read') as 'read' | 'write' | 'directory' | 'remove';
  if (valueBytes !== undefined && op !== 'write') r.problem(el.attrLoc('value-bytes'), 'value-bytes is for op="write"', 'xeniface-store');
  return {
    ...base, kind: 'xeniface-store', guest: guestOf(el, ctx), op, path: r.str(el, 'path') ?? '',
    ...(pathBytes !== undefined ? { pathBytes } : {}), ...(valueBytes !== undefined ? { valueBytes } : {}),
    expect: (el.attr('expect') ?? 'ok') as 'ok' | 'refused',
  };
}

function wait(el: XmlElement, at: Path, ctx: StepCtx, base: { source: SourceLocation; label?: string }): Step {
  const { r } = ctx;
  const equals = r.str(el, 'equals');
  const exists = el.attr('exists') !== undefined ? r.bool(el, 'exists', [...at, 'exists'], true) : undefined;
  if (equals !== undefined && exists === false) r.problem(el.at(), '<wait> cannot both require a value and require absence', 'wait-condition');
  return { ...base, kind: 'wait', guest: guestOf(el, ctx), path: r.str(el, 'path') ?? '', ...(equals !== undefined ? { equals } : {}), ...(exists !== undefined ? { exists } : {}), timeoutMs: r.duration(el, 'timeout', 60_000) };
}

function blockWorkload(el: XmlElement, at: Path, ctx: StepCtx, base: { source: SourceLocation; label?: string }): Step {
  const { r } = ctx;
  const g = guestOf(el, ctx);
  const device = deviceRef(el, g, ctx);
  if (device.startsWith('vif/')) r.problem(el.attrLoc('device'), 'a block workload runs on a VBD', 'device-ref');
  return {
    ...base, kind: 'block', guest: g, device,
    blockSize: r.size(el, 'block-size', 4096),
    queueDepth: r.int(el, 'queue-depth', [...at, 'queueDepth'], 32),
    threads: r.int(el, 'threads', [...at, 'threads'], 1),
    writePercent: r.int(el, 'write-percent', [...at, 'writePercent'], 0),
    pattern: (el.attr('pattern') ?? 'random') as 'random' | 'sequential',
    durationMs: r.duration(el, 'duration'),
    verify: r.bool(el, 'verify', [...at, 'verify'], false),
    discard: r.bool(el, 'discard', [...at, 'discard'], false),
    flush: r.bool(el, 'flush', [...at, 'flush'], false),
  };
}

function netWorkload(el: XmlElement, at: Path, ctx: StepCtx, base: { source: SourceLocation; label?: string }): Step {
  const { r } = ctx;
  const g = guestOf(el, ctx);
  const device = deviceRef(el, g, ctx);
  if (device.startsWith('vbd/')) r.problem(el.attrLoc('device'), 'a network workload runs on a VIF', 'device-ref');
  const peer = el.attr('peer') !== undefined ? guestRef(el, 'peer', ctx) : undefined;
  if (peer !== undefined && peer === g) r.problem(el.attrLoc('peer'), 'a guest cannot be its own peer', 'guest-ref');
  return {
    ...base, kind: 'net', guest: g, device, ...(peer !== undefined ? { peer } : {}),
    threads: r.int(el, 'threads', [...at, 'threads'], 1),
    direction: (el.attr('direction') ?? 'send') as 'send' | 'receive' | 'both',
    durationMs: r.duration(el, 'duration'),
  };
}

/** plug, unplug: a device of the guest's shape, pulled without the handshake when surprise. */
const hotplug: StepBuilder = (el, at, ctx, base) => {
  const g = guestOf(el, ctx);
  return { ...base, kind: 'hotplug', guest: g, action: el.name as 'plug' | 'unplug', device: deviceRef(el, g, ctx), surprise: el.name === 'unplug' && ctx.r.bool(el, 'surprise', [...at, 'surprise'], false) };
};

/** backend-restart (of the kind a scenario may require), backend-close. */
const backend: StepBuilder = (el, _at, ctx, base) => {
  const g = guestOf(el, ctx);
  const restartKind = el.name === 'backend-restart' ? (el.attr('kind') as BackendRestartKind | undefined) : undefined;
  return { ...base, kind: el.name as 'backend-restart' | 'backend-close', guest: g, device: deviceRef(el, g, ctx), ...(restartKind ? { restartKind } : {}) };
};

/** Each step element's builder, by element name. */
const STEP_BUILDERS: Record<string, StepBuilder> = {
  'install-drivers': installDrivers,
  'uninstall-drivers': (el, at, ctx, base) => {
    const vendor = ctx.r.fixed(el, 'vendor');
    return {
      ...base, kind: 'uninstall-drivers', guest: guestOf(el, ctx), ...(vendor ? { vendor } : {}),
      ...(el.attr('method') === 'installer' ? { method: 'installer' as const } : {}), reboot: ctx.r.bool(el, 'reboot', [...at, 'reboot'], true),
    };
  },
  'set-nic': setNic,
  resume: move,
  'suspend-resume': move,
  migrate: move,
  'save-restore': move,
  reboot: lifecycle,
  suspend: lifecycle,
  shutdown: lifecycle,
  start: lifecycle,
  'xeniface-store': xenifaceStore,
  bugcheck: (el, _at, ctx, base) => ({ ...base, kind: 'bugcheck', guest: guestOf(el, ctx), code: parseInt(el.attr('code') ?? '0xE2', 16) }),
  wait,
  block: blockWorkload,
  net: netWorkload,
  unplug: hotplug,
  plug: hotplug,
  'backend-restart': backend,
  'backend-close': backend,
  fault: (el, _at, ctx, base) => ({ ...base, kind: 'fault', fault: buildFault(el, ctx), action: (el.attr('action') ?? 'on') as 'on' | 'off' }),
  sleep: (el, _at, ctx, base) => ({ ...base, kind: 'sleep', durationMs: ctx.r.duration(el, 'duration') }),
  parallel: (el, at, ctx, base) => ({ ...base, kind: 'parallel', branches: el.childrenNamed('branch').map((b, i) => buildSteps(b, [...at, 'branches', i], ctx)) }),
  repeat: (el, at, ctx, base) => ({ ...base, kind: 'repeat', count: ctx.r.int(el, 'count', [...at, 'count'], 1), steps: buildSteps(el, [...at, 'steps'], ctx) }),
};

function buildStep(el: XmlElement, at: Path, ctx: StepCtx): Step | undefined {
  const source = loc(el, ctx.file);
  const label = ctx.r.str(el, 'label');
  const build = Object.hasOwn(STEP_BUILDERS, el.name) ? STEP_BUILDERS[el.name] : undefined;
  // an unknown element: the shape validator reported it
  return build?.(el, at, ctx, { source, ...(label ? { label } : {}) });
}
