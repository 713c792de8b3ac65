// Turning a validated scenario element into the model's Scenario, with the checks XSD cannot make:
// guest, peer and device references, fault names, check parameters, matrix variables (known, and
// only in integer, boolean or text attributes), and the capabilities the steps need (the steps and
// faults are built in build-steps.ts).
import { type Capability, type CheckName, CHECKS } from '../model/catalog';
import { checkParamInfo } from '../model/check-params';
import type { Problem } from '../model/errors';
import type {
  CheckConfig, DiskBackendType, FaultConfig, GuestTimings, GuestShape, MatrixAxis, RegistrySetting, Scenario, VbdShape, VifShape,
} from '../model/scenario';
import type { DriverName } from '../model/spec';
import { boolValue, splitList, type XmlElement } from '../xml';
import { Reader, type Path } from './reader';
import { backendKeys, buildFault, buildSteps, loc, type StepCtx } from './build-steps';

export function buildScenario(root: XmlElement, file: string, firstCombo: Record<string, string>, axes: MatrixAxis[]): { scenario?: Scenario; problems: Problem[] } {
  const r = new Reader(firstCombo, new Set(axes.map((a) => a.name)));
  const text = (name: string) => root.child(name)?.trimmedText ?? '';
  const guests: GuestShape[] = root.childrenNamed('guest').map((g, gi) => buildGuest(g, gi, r));
  const guestNames = new Set<string>();
  for (const [i, g] of guests.entries()) {
    if (guestNames.has(g.name)) r.problem(root.childrenNamed('guest')[i].attrLoc('name'), `guest '${g.name}' is defined twice`, 'unique-guest');
    guestNames.add(g.name);
  }
  const needs = guestNeeds(guests, splitList(text('needs')) as Capability[]);
  const ctx: StepCtx = { r, guests, needs, file };

  const faults: FaultConfig[] = (root.child('faults')?.childrenNamed('fault') ?? []).map((f) => buildFault(f, ctx));
  if (faults.length) needs.add('fault-injection');
  const stepsEl = root.child('steps');
  const steps = stepsEl ? buildSteps(stepsEl, ['steps'], ctx) : [];

  const checks = buildChecks(root, r, file);

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

/** The checks that judge the scenario, with the thresholds its <check> elements set. */
function buildChecks(root: XmlElement, r: Reader, file: string): CheckConfig[] {
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
  return (Object.keys(CHECKS) as CheckName[])
    .filter((n) => (!only && !('optIn' in CHECKS[n])) || configured.has(n))
    .map((n) => configured.get(n) ?? { name: n, params: {} });

}

/** What a scenario's guests need of the host, beside what it names in <needs>. */
function guestNeeds(guests: GuestShape[], named: Capability[]): Set<Capability> {
  const needs = new Set<Capability>(named);
  for (const g of guests) {
    needs.add(g.os === 'windows' ? 'windows-guest' : 'linux-guest');
    if ([...g.vbds, ...g.vifs].some((d) => Object.keys(d.backend).length > 0)) needs.add('backend-keys');
    if (g.memoryTargetMiB !== undefined) needs.add('balloon');
    if (g.agent) needs.add('guest-agent');
    if (g.platformDevice !== undefined) needs.add('platform-device');
    if (g.vbds.some((v) => v.backendType !== undefined)) needs.add('disk-backend');
  }
  return needs;
}

/** A guest's disks and VIFs, each defined once. */
function buildDevices(g: XmlElement, at: Path, r: Reader): { vbds: VbdShape[]; vifs: VifShape[] } {
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
      ...(v.attr('backend-type') !== undefined ? { backendType: v.attr('backend-type') as DiskBackendType } : {}),
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
  return { vbds, vifs };
}

/** The registry values a guest's administrator set, each once. */
function buildRegistry(g: XmlElement, at: Path, r: Reader): RegistrySetting[] {
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
  return registry;
}

function buildGuest(g: XmlElement, gi: number, r: Reader): GuestShape {
  const at = ['guests', gi];
  const { vbds, vifs } = buildDevices(g, at, r);
  const image = r.str(g, 'image');
  const registry = buildRegistry(g, at, r);
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
    ...buildTimings(g, r),
  };
}

/** The guest's <timings>: the simulator's durations for it (sim/timings.ts has the defaults). */
function buildTimings(g: XmlElement, r: Reader): { timings?: GuestTimings } {
  const el = g.child('timings');
  if (!el) return {};
  const timings: GuestTimings = {};
  const set = (attr: string, key: keyof GuestTimings) => {
    if (el.attr(attr) !== undefined) timings[key] = r.duration(el, attr);
  };
  set('backend-reaction', 'backendReactionMs');
  set('boot-to-frontend', 'bootToFrontendMs');
  set('restore-downtime', 'restoreDowntimeMs');
  return { timings };
}

