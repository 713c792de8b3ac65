// `winpv spec show`: the resolved contract of one driver, for people (text) or programs (JSON).
import type { BuildSpec, DeviceProtocol, DriverSpec, KeySpec, RingSpec, SpecSet, StateTransition, UnplugSpec } from '../model/spec';
import { expandHardwareIds } from '../model/spec-eval';
import { xenbusStateName } from '../model/xenbus';

const hex = (n: number, digits = 4) => n.toString(16).toUpperCase().padStart(digits, '0');
const state = (n: number) => `${n} ${xenbusStateName(n)}`;

/** The spec as JSON-ready data, with the hardware IDs expanded per vendor prefix, device and revision. */
export function specJson(spec: DriverSpec): object {
  return { ...spec, hardwareIdsExpanded: expandHardwareIds(spec) };
}

function keyLine(k: KeySpec): string {
  const parts = [k.name.padEnd(28), k.type];
  if (k.type === 'enum' && k.enumValues) parts.push(`{${k.enumValues.join('|')}}`);
  if (k.min !== undefined || k.max !== undefined) parts.push(`${k.min ?? ''}..${k.max ?? ''}`);
  if (k.value !== undefined) parts.push(`= ${k.value}`);
  if (k.unlessRegistry !== undefined) parts.push(`(0 when ${k.unlessRegistry} is set)`);
  if (k.pattern !== undefined) parts.push(`~ /${k.pattern}/`);
  if (k.default !== undefined) parts.push(`default ${k.default}`);
  if (k.perQueue) parts.push('per queue');
  if (k.alternativeGroup) parts.push(`[alt ${k.alternativeGroup}]`);
  if (k.when) parts.push(`when ${k.when}`);
  if (k.constraint) parts.push(`constraint ${k.constraint}`);
  if (k.writtenIn !== undefined) parts.push(`written in ${state(k.writtenIn)}`);
  if (k.requiredFrom !== undefined) parts.push(k.side === 'guest' ? 'required' : `required in ${k.requiredStates?.join(',')}`);
  if (k.cites !== undefined) parts.push(`(${k.cites})`);
  return parts.join('  ');
}

function transitionLines(ts: StateTransition[], peer: string): string[] {
  const byPhase = new Map<string, StateTransition[]>();
  for (const t of ts) byPhase.set(t.phase, [...(byPhase.get(t.phase) ?? []), t]);
  return [...byPhase].map(
    ([phase, list]) =>
      `    ${phase.padEnd(17)} ${list.map((t) => `${t.from}->${t.to}${t.peerStates ? ` (${peer} ${t.peerStates.join('/')})` : ''}`).join(', ')}`,
  );
}

/** A readable rendering of one resolved spec: one section after the other. */
export function renderSpec(spec: DriverSpec, specs?: SpecSet): string {
  const out = [
    ...identityLines(spec),
    ...revisionLines(spec, specs),
    ...(spec.device ? deviceLines(spec.device) : []),
    ...guestKeyLines(spec),
    ...(spec.ring ? ringLines(spec.ring) : []),
    ...(spec.unplug ? unplugLines(spec.unplug) : []),
    ...registryLines(spec),
    ...buildLines(spec.build),
  ];
  return out.join('\n') + '\n';
}

/** What the driver is: source, parent, INF, services, files, vendors, PCI devices, hardware IDs. */
function identityLines(spec: DriverSpec): string[] {
  const out: string[] = [];
  const id = spec.identity;
  out.push(`${spec.name}: ${spec.description}`);
  out.push(`  source     ${spec.source.file}`);
  if (spec.parent) out.push(`  parent     ${spec.parent}`);
  out.push(`  inf        ${id.inf}   class ${id.deviceClass}${id.classGuid ? ` ${id.classGuid}` : ''}`);
  out.push(`  services   ${id.services.join(', ')}`);
  out.push(`  files      ${id.files.map((f) => `${f.name}${f.optional ? '?' : ''}`).join(', ')}`);
  out.push(`  vendors    ${id.vendorPrefixes.map((v) => `${v.prefix} ${v.vendor}${v.deviceRange ? ` (${hex(v.deviceRange[0])}-${hex(v.deviceRange[1])}${v.deviceId !== undefined ? `, builds ${hex(v.deviceId)}` : ''})` : ''}`).join('; ')}`);
  if (id.pci) out.push(`  pci        ${id.pci.map((p) => `${hex(p.vendorId)}:${p.deviceIds.length > 2 ? `${hex(p.deviceIds[0])}-${hex(p.deviceIds[p.deviceIds.length - 1])}` : p.deviceIds.map((d) => hex(d)).join(',')} ${p.description}`).join('; ')}`);
  const ids = expandHardwareIds(spec);
  out.push('', `hardware IDs (${id.hardwareIds.join('  ')}), expanded: ${ids.length}`);
  for (const h of ids) out.push(`  ${h}`);
  return out;
}

/** The interface revisions it advertises, and (a child driver) those of its parent it binds. */
function revisionLines(spec: DriverSpec, specs?: SpecSet): string[] {
  const out: string[] = [];
  if (spec.revisions.length) {
    out.push('', 'advertised revisions');
    for (const r of spec.revisions) out.push(`  ${r.id}  ${r.interfaces.map((i) => `${i.provider ? `${i.provider}.` : ''}${i.name} ${i.version}`).join(', ')}`);
  }
  if (spec.parent) {
    out.push('', `binds ${spec.parent} revision ${spec.bindsRevisions.join(', ')}`);
    const parent = specs?.get(spec.parent);
    const children = [...(specs?.values() ?? [])].filter((s) => s.parent === spec.parent && s !== spec).map((s) => s.name);
    if (parent) out.push(`  ${spec.parent} advertises ${parent.revisions.map((r) => r.id).join(', ')}${children.length ? `; siblings ${children.join(', ')}` : ''}`);
    out.push(`  consumes ${spec.consumes.map((i) => `${i.provider ? `${i.provider}.` : ''}${i.name} ${i.version}`).join(', ')}`);
  }
  return out;
}

/** The PV device protocol: paths, keys each side writes or reads, the allowed state transitions. */
function deviceLines(dev: DeviceProtocol): string[] {
  const out: string[] = [];
  out.push('', `device ${dev.type}: frontend ${dev.frontendPath ?? '?'}, backend ${dev.backendPath ?? '?'}`);
  out.push(`  frontend leaves Initialising once the backend is ${state(dev.waitsForBackendState)}; connected state ${state(dev.connectedState ?? 4)}`);
  for (const [title, keys] of [
    ['frontend writes', dev.keys.filter((k) => k.side === 'frontend' && !k.read)],
    ['frontend reads (toolstack)', dev.keys.filter((k) => k.side === 'frontend' && k.read)],
    ['backend keys honoured', dev.keys.filter((k) => k.side === 'backend')],
  ] as const) {
    if (!keys.length) continue;
    out.push(`  ${title}:`);
    for (const k of keys) out.push(`    ${keyLine(k)}`);
  }
  out.push('  frontend transitions:', ...transitionLines(dev.frontendTransitions, 'backend'));
  out.push('  backend transitions:', ...transitionLines(dev.backendTransitions, 'frontend'));
  return out;
}

function guestKeyLines(spec: DriverSpec): string[] {
  if (!spec.guestKeys.length) return [];
  return ['', 'guest keys (under /local/domain/<domid>/)', ...spec.guestKeys.map((k) => `  ${k.read ? 'reads ' : 'writes'} ${keyLine(k)}`)];
}

function ringLines(r: RingSpec): string[] {
  const bits = [`${r.abi}`, `max ring-page-order ${r.maxRingPageOrder}`, r.multiQueue ? `multi-queue${r.maxQueues ? ` up to ${r.maxQueues}` : ''}` : 'single queue'];
  if (r.indirectSegments !== undefined) bits.push(`indirect segments ${r.indirectSegments}`);
  if (r.segmentsPerRequest !== undefined) bits.push(`${r.segmentsPerRequest} segments per request`);
  bits.push(r.persistentGrants ? 'persistent grants' : 'no persistent grants');
  if (r.splitEventChannels) bits.push('split event channels');
  if (r.controlRing) bits.push('control ring');
  return ['', `ring: ${bits.join(', ')}`];
}

function unplugLines(u: UnplugSpec): string[] {
  const out = ['', `unplug${u.requests ? ` (requests ${u.requests.join(', ')})` : ''}: ${u.maskBits.map((b) => `bit ${b.bit} ${b.name}`).join('; ')}`];
  if (u.protocol) out.push(`  port ${hex(u.protocol.port)}h magic ${hex(u.protocol.magic)}, blacklisted ${hex(u.protocol.blacklistedMagic)}, version port ${hex(u.protocol.versionPort)}h`);
  return out;
}

function registryLines(spec: DriverSpec): string[] {
  if (!spec.registry.length) return [];
  return ['', 'registry', ...spec.registry.map((p) => `  ${p.key}\\${p.value} (${p.type}${p.default !== undefined ? `, default ${p.default}` : ''}): ${p.effect}`)];
}

function buildLines(b: BuildSpec): string[] {
  const out = ['', `build: ${b.entry} -Type ${b.configurations.join('|')} -Arch ${b.platforms.join('|')} -SignMode ${b.signModes.join('|')}${b.dependsOn.length ? `; after ${b.dependsOn.join(', ')}` : ''}`];
  if (b.solutions) out.push(`  solutions ${b.solutions.join(', ')}`);
  return out;
}
