// Turning a validated scenario element into the model's Scenario, with the checks XSD cannot make:
// guest, peer and device references, fault names, check parameters, matrix variables (known, and
// only in integer, boolean or text attributes), and the capabilities the steps need.
import { isFaultName, type Capability, type CheckName, CHECKS } from '../model/catalog';
import { checkParamInfo } from '../model/check-params';
import type { Problem, SourceLocation } from '../model/errors';
import type { BackendRestartKind } from '../model/host';
import type {
  CheckConfig, DeviceRef, FaultConfig, GuestShape, MatrixAxis, RegistrySetting, Scenario, Step, VbdShape, VifShape,
} from '../model/scenario';
import type { DriverName } from '../model/spec';
import { vdevToDevid } from '../model/vdev';
import { boolValue, splitList, type XmlElement } from '../xml';
import { Reader, type Path } from './reader';

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

const loc = (el: XmlElement, file: string): SourceLocation => ({ ...el.loc, file });

export function buildScenario(root: XmlElement, file: string, firstCombo: Record<string, string>, axes: MatrixAxis[]): { scenario?: Scenario; problems: Problem[] } {
  const r = new Reader(firstCombo, new Set(axes.map((a) => a.name)));
  const text = (name: string) => root.child(name)?.trimmedText ?? '';
  const guests: GuestShape[] = root.childrenNamed('guest').map((g, gi) => buildGuest(g, gi, r));
  const guestNames = new Set<string>();
  for (const [i, g] of guests.entries()) {
    if (guestNames.has(g.name)) r.problem(root.childrenNamed('guest')[i].attrLoc('name'), `guest '${g.name}' is defined twice`, 'unique-guest');
    guestNames.add(g.name);
  }
  const needs = new Set<Capability>(splitList(text('needs')) as Capability[]);
  for (const g of guests) {
    needs.add(g.os === 'windows' ? 'windows-guest' : 'linux-guest');
    if ([...g.vbds, ...g.vifs].some((d) => Object.keys(d.backend).length > 0)) needs.add('backend-keys');
    if (g.memoryTargetMiB !== undefined) needs.add('balloon');
    if (g.agent) needs.add('guest-agent');
    if (g.platformDevice !== undefined) needs.add('platform-device');
  }
  const ctx: StepCtx = { r, guests, needs, file };

  const faults: FaultConfig[] = (root.child('faults')?.childrenNamed('fault') ?? []).map((f) => buildFault(f, ctx));
  if (faults.length) needs.add('fault-injection');
  const stepsEl = root.child('steps');
  const steps = stepsEl ? buildSteps(stepsEl, ['steps'], ctx) : [];

  const configured = new Map<CheckName, CheckConfig>();
  for (const c of root.child('checks')?.childrenNamed('check') ?? []) {
    const name = c.attr('name') as CheckName;
    if (!Object.hasOwn(CHECKS, name)) continue; // the shape validator reported it
    if (configured.has(name)) r.problem(c.attrLoc('name'), `check '${name}' is configured twice`, 'unique-check');
    const params: Record<string, string> = {};
    for (const p of c.childrenNamed('param')) {
      const pn = p.attr('name') ?? '';
      const pv = r.fixed(p, 'value') ?? '';
      if (!checkParamInfo(name, pn)) {
        r.problem(p.attrLoc('name'), `check '${name}' has no parameter '${pn}'`, 'check-param');
      } else if (!Number.isFinite(Number(pv)) || pv.trim() === '') {
        r.problem(p.attrLoc('value'), `parameter '${pn}' of '${name}' must be a number, not '${pv}'`, 'check-param');
      }
      params[pn] = pv;
    }
    configured.set(name, { name, params, source: loc(c, file) });
  }
  // Every check judges every scenario and <check> elements only set thresholds, unless
  // <checks only="true"> selects the listed ones (a Linux reference guest is not held to the
  // Windows drivers' key and state specs); the evaluation reports the others as skipped. An opt-in
  // check (regression) judges only the scenarios that name it.
  const checksEl = root.child('checks');
  const only = checksEl ? boolValue(checksEl.attr('only') ?? 'false') : false;
  const checks: CheckConfig[] = (Object.keys(CHECKS) as CheckName[])
    .filter((n) => (!only && !('optIn' in CHECKS[n])) || configured.has(n))
    .map((n) => configured.get(n) ?? { name: n, params: {} });

  const scenario: Scenario = {
    source: { ...root.loc, file },
    name: root.attr('name') ?? '',
    title: text('title'),
    description: (root.child('description')?.trimmedText ?? '').replace(/\s+/g, ' '),
    tags: splitList(text('tags')),
    drivers: splitList(text('drivers')) as DriverName[],
    needs: [...needs].sort(),
    ...(root.child('labels') ? { labels: splitList(text('labels')).sort() } : {}),
    guests,
    steps,
    checks,
    faults,
    matrix: axes,
    timeoutMs: r.duration(root, 'timeout', 600_000),
    ...(r.templated.length ? { templated: r.templated } : {}),
  };
  return { scenario, problems: r.problems };
}

function backendKeys(el: XmlElement, r: Reader): Record<string, string> {
  const out: Record<string, string> = {};
  for (const b of el.childrenNamed('backend')) {
    const k = b.attr('key') ?? '';
    if (Object.hasOwn(out, k)) r.problem(b.attrLoc('key'), `backend key '${k}' is set twice`, 'unique-key');
    out[k] = r.fixed(b, 'value') ?? '';
  }
  return out;
}

function buildGuest(g: XmlElement, gi: number, r: Reader): GuestShape {
  const at = ['guests', gi];
  const vbds: VbdShape[] = g.childrenNamed('vbd').map((v, i) => {
    const p = [...at, 'vbds', i];
    const order = r.int(v, 'ring-page-order', [...p, 'ringPageOrder']);
    const queues = r.int(v, 'queues', [...p, 'queues']);
    return {
      vdev: r.fixed(v, 'vdev') ?? '',
      sizeMiB: Math.max(1, Math.round(r.size(v, 'size', 0) / 1024 ** 2)),
      mode: (v.attr('mode') ?? 'w') as 'w' | 'r',
      ...(order !== undefined ? { ringPageOrder: order } : {}),
      ...(queues !== undefined ? { queues } : {}),
      backend: backendKeys(v, r),
    };
  });
  const vifs: VifShape[] = g.childrenNamed('vif').map((v, i) => {
    const p = [...at, 'vifs', i];
    const queues = r.int(v, 'queues', [...p, 'queues']);
    const mac = r.fixed(v, 'mac');
    const bridge = r.str(v, 'bridge');
    return {
      devid: r.int(v, 'devid', [...p, 'devid'], 0),
      ...(mac ? { mac } : {}),
      ...(queues !== undefined ? { queues } : {}),
      ...(bridge ? { bridge } : {}),
      backend: backendKeys(v, r),
    };
  });
  const seen = new Set<string>();
  for (const [i, v] of vbds.entries()) {
    if (seen.has(v.vdev)) r.problem(g.childrenNamed('vbd')[i].attrLoc('vdev'), `VBD ${v.vdev} is defined twice`, 'unique-device');
    seen.add(v.vdev);
  }
  for (const [i, v] of vifs.entries()) {
    if (seen.has(`vif${v.devid}`)) r.problem(g.childrenNamed('vif')[i].attrLoc('devid'), `VIF ${v.devid} is defined twice`, 'unique-device');
    seen.add(`vif${v.devid}`);
  }
  const image = r.str(g, 'image');
  const registry: RegistrySetting[] = g.childrenNamed('registry').map((e, i) => ({
    driver: (e.attr('driver') ?? '') as DriverName,
    value: r.fixed(e, 'value') ?? '',
    data: r.int(e, 'data', [...at, 'registry', i, 'data'], 0),
  }));
  const regSeen = new Set<string>();
  for (const [i, s] of registry.entries()) {
    const id = `${s.driver}\\${s.value}`;
    if (regSeen.has(id)) r.problem(g.childrenNamed('registry')[i].attrLoc('value'), `registry value ${s.driver} ${s.value} is set twice`, 'unique-key');
    regSeen.add(id);
  }
  const memoryMiB = Math.max(1, Math.round(r.size(g, 'memory', 2 * 1024 ** 3) / 1024 ** 2));
  const target = g.attr('memory-target') !== undefined ? Math.max(1, Math.round(r.size(g, 'memory-target', 0) / 1024 ** 2)) : undefined;
  if (target !== undefined && target > memoryMiB) r.problem(g.attrLoc('memory-target'), `memory-target ${target} MiB is above memory ${memoryMiB} MiB (the static maximum)`, 'memory-target');
  return {
    name: g.attr('name') ?? '',
    os: (g.attr('os') ?? 'windows') as 'windows' | 'linux',
    vcpus: r.int(g, 'vcpus', [...at, 'vcpus'], 2),
    memoryMiB,
    ...(target !== undefined ? { memoryTargetMiB: target } : {}),
    vbds,
    vifs,
    ...(image ? { image } : {}),
    ...(registry.length ? { registry } : {}),
    ...(r.bool(g, 'agent', [...at, 'agent'], false) ? { agent: true } : {}),
    ...(g.attr('platform-device') !== undefined ? { platformDevice: r.str(g, 'platform-device') ?? '' } : {}),
  };
}

interface StepCtx {
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

function buildFault(f: XmlElement, ctx: StepCtx): FaultConfig {
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

function buildSteps(parent: XmlElement, at: Path, ctx: StepCtx): Step[] {
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

function buildStep(el: XmlElement, at: Path, ctx: StepCtx): Step | undefined {
  const { r } = ctx;
  const source = loc(el, ctx.file);
  const label = r.str(el, 'label');
  const base = { source, ...(label ? { label } : {}) };
  const guest = () => guestRef(el, 'guest', ctx);
  switch (el.name) {
    case 'install-drivers': {
      const drivers = el.attr('drivers');
      const method = el.attr('method');
      const verifier = r.bool(el, 'verifier', [...at, 'verifier'], false);
      const expectExit = r.int(el, 'expect-exit', [...at, 'expectExit']);
      if (expectExit !== undefined && method !== 'installer') r.problem(el.attrLoc('expect-exit'), 'expect-exit is for method="installer" (an exit code of the vendor installer)', 'install-method');
      return {
        ...base, kind: 'install-drivers', guest: guest(), bundle: r.str(el, 'bundle') ?? '', ...(drivers ? { drivers: splitList(drivers) as DriverName[] } : {}), reboot: r.bool(el, 'reboot', [...at, 'reboot'], true),
        ...(method === 'installer' || method === 'staged' ? { method: method as 'installer' | 'staged' } : {}), ...(verifier ? { verifier: true } : {}),
        ...(expectExit !== undefined ? { expectExit } : {}),
      };
    }
    case 'uninstall-drivers': {
      const vendor = r.fixed(el, 'vendor');
      return {
        ...base, kind: 'uninstall-drivers', guest: guest(), ...(vendor ? { vendor } : {}),
        ...(el.attr('method') === 'installer' ? { method: 'installer' as const } : {}), reboot: r.bool(el, 'reboot', [...at, 'reboot'], true),
      };
    }
    case 'set-nic': {
      const g = guest();
      const device = deviceRef(el, g, ctx);
      if (device.startsWith('vbd/')) r.problem(el.attrLoc('device'), 'set-nic configures the NIC of a VIF', 'device-ref');
      const list = (a: string) => splitList(r.fixed(el, a) ?? '');
      const mtu = r.int(el, 'mtu', [...at, 'mtu']);
      const bad = [...list('ipv4').filter((x) => !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(x)), ...list('ipv6').filter((x) => !/^[0-9a-fA-F:]+\/\d{1,3}$/.test(x))];
      if (bad.length) r.problem(el.at(), `set-nic: ${bad.join(', ')} is not an address with its prefix length (192.0.2.10/24, 2001:db8::10/64)`, 'set-nic');
      return { ...base, kind: 'set-nic', guest: g, device, ipv4: list('ipv4'), ipv6: list('ipv6'), dns: list('dns'), ...(mtu !== undefined ? { mtu } : {}) };
    }
    case 'resume':
    case 'suspend-resume':
    case 'migrate':
    case 'save-restore': {
      const g = guest();
      const destination = el.childrenNamed('destination').map((d) => ({ device: deviceRef(d, g, ctx), backend: backendKeys(d, ctx.r) }));
      if (destination.length) ctx.needs.add('destination-backend-keys');
      const seen = new Set<string>();
      for (const [i, d] of destination.entries()) {
        if (seen.has(d.device)) r.problem(el.childrenNamed('destination')[i].attrLoc('device'), `destination of ${d.device} is given twice`, 'unique-device');
        seen.add(d.device);
      }
      return { ...base, kind: el.name, guest: g, ...(destination.length ? { destination } : {}) };
    }
    case 'reboot':
    case 'suspend':
    case 'shutdown':
    case 'start':
      return { ...base, kind: el.name, guest: guest() };
    case 'xeniface-store': {
      const pathBytes = r.int(el, 'path-bytes', [...at, 'pathBytes']);
      const valueBytes = r.int(el, 'value-bytes', [...at, 'valueBytes']);
      const op = (el.attr('op') ?? 'read') as 'read' | 'write' | 'directory' | 'remove';
      if (valueBytes !== undefined && op !== 'write') r.problem(el.attrLoc('value-bytes'), 'value-bytes is for op="write"', 'xeniface-store');
      return {
        ...base, kind: 'xeniface-store', guest: guest(), op, path: r.str(el, 'path') ?? '',
        ...(pathBytes !== undefined ? { pathBytes } : {}), ...(valueBytes !== undefined ? { valueBytes } : {}),
        expect: (el.attr('expect') ?? 'ok') as 'ok' | 'refused',
      };
    }
    case 'bugcheck':
      return { ...base, kind: 'bugcheck', guest: guest(), code: parseInt(el.attr('code') ?? '0xE2', 16) };
    case 'wait': {
      const equals = r.str(el, 'equals');
      const exists = el.attr('exists') !== undefined ? r.bool(el, 'exists', [...at, 'exists'], true) : undefined;
      if (equals !== undefined && exists === false) r.problem(el.at(), '<wait> cannot both require a value and require absence', 'wait-condition');
      return { ...base, kind: 'wait', guest: guest(), path: r.str(el, 'path') ?? '', ...(equals !== undefined ? { equals } : {}), ...(exists !== undefined ? { exists } : {}), timeoutMs: r.duration(el, 'timeout', 60_000) };
    }
    case 'block': {
      const g = guest();
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
    case 'net': {
      const g = guest();
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
    case 'unplug':
    case 'plug': {
      const g = guest();
      return { ...base, kind: 'hotplug', guest: g, action: el.name, device: deviceRef(el, g, ctx), surprise: el.name === 'unplug' && r.bool(el, 'surprise', [...at, 'surprise'], false) };
    }
    case 'backend-restart':
    case 'backend-close': {
      const g = guest();
      const restartKind = el.name === 'backend-restart' ? (el.attr('kind') as BackendRestartKind | undefined) : undefined;
      return { ...base, kind: el.name, guest: g, device: deviceRef(el, g, ctx), ...(restartKind ? { restartKind } : {}) };
    }
    case 'fault':
      return { ...base, kind: 'fault', fault: buildFault(el, ctx), action: (el.attr('action') ?? 'on') as 'on' | 'off' };
    case 'sleep':
      return { ...base, kind: 'sleep', durationMs: r.duration(el, 'duration') };
    case 'parallel':
      return { ...base, kind: 'parallel', branches: el.childrenNamed('branch').map((b, i) => buildSteps(b, [...at, 'branches', i], ctx)) };
    case 'repeat':
      return { ...base, kind: 'repeat', count: r.int(el, 'count', [...at, 'count'], 1), steps: buildSteps(el, [...at, 'steps'], ctx) };
    default:
      return undefined; // an unknown element: the shape validator reported it
  }
}
