// What a driver package INF says: [Version], the manufacturer's models sections per platform,
// devices (description, install section, hardware IDs), services, the files copied and where
// they come from. Everything keeps its location; inconsistencies inside the INF (a models
// section that does not exist, a copied file with no SourceDisksFiles entry, a bad DriverVer)
// are collected as problems with the rule that found them.
import type { Problem, SourceLocation } from '../model/errors';
import { entriesWithKey, parseInf, valueOf, type InfDocument, type InfSection, type ParseOptions } from './document';
import { parseDriverVer, type DriverVer } from './driver-ver';

/** Build architectures as winpv names them, and the INF platform decorations they match. */
export type Arch = 'x64' | 'x86';
export const ARCH_DECORATION: Record<Arch, string> = { x64: 'amd64', x86: 'x86' };

export interface Located<T> {
  value: T;
  loc: SourceLocation;
}

export interface InfVersion {
  loc: SourceLocation;
  signature?: Located<string>;
  class?: Located<string>;
  classGuid?: Located<string>;
  provider?: Located<string>;
  driverVer?: Located<DriverVer>;
  /** CatalogFile and CatalogFile.<decoration> entries; `decoration` is lower-case (`ntamd64`) or absent. */
  catalogFiles: { name: string; decoration?: string; loc: SourceLocation }[];
}

export interface InfManufacturer {
  name: string;
  /** Undecorated models section name. */
  models: string;
  /** Platform decorations as written (`NTamd64`, `NTx86.10.0...17763`). */
  decorations: string[];
  loc: SourceLocation;
}

export interface InfDevice {
  description: string;
  installSection: string;
  hardwareId: string;
  compatibleIds: string[];
  /** The models section it is listed in, and that section's decoration (`NTamd64`), if any. */
  modelsSection: string;
  decoration?: string;
  loc: SourceLocation;
}

export interface InfService {
  name: string;
  flags: number;
  /** The install section whose .Services section adds it. */
  installSection: string;
  serviceSection: string;
  displayName?: string;
  serviceType?: number;
  startType?: number;
  errorControl?: number;
  serviceBinary?: string;
  loadOrderGroup?: string;
  loc: SourceLocation;
}

export interface InfCopyFile {
  /** Name on the target system. */
  destination: string;
  /** Name in the package (the source name, or the destination name when none is given). */
  source: string;
  /** The copy section (or `@file` directive's install section) it comes from. */
  section: string;
  loc: SourceLocation;
}

export interface InfSourceFile {
  name: string;
  diskId: string;
  subdir?: string;
  /** `amd64` for [SourceDisksFiles.amd64]; absent for the undecorated section. */
  platform?: string;
  loc: SourceLocation;
}

export interface InfSourceDisk {
  diskId: string;
  description: string;
  path?: string;
  platform?: string;
  loc: SourceLocation;
}

export interface InfDestinationDir {
  /** `DefaultDestDir` or a copy section name. */
  section: string;
  dirid: number;
  subdir?: string;
  loc: SourceLocation;
}

export interface DriverInf {
  file: string;
  doc: InfDocument;
  version: InfVersion;
  manufacturers: InfManufacturer[];
  devices: InfDevice[];
  services: InfService[];
  copyFiles: InfCopyFile[];
  sourceDisksFiles: InfSourceFile[];
  sourceDisksNames: InfSourceDisk[];
  destinationDirs: InfDestinationDir[];
  /** Syntax problems of the document plus consistency problems of the package description. */
  problems: Problem[];
}

const CLASS_GUID = /^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$/i;

/** Parses an INF number (`0x1`, `2`, `0x00000010`). */
export function infNumber(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t.slice(2), 16);
  if (/^\d+$/.test(t)) return parseInt(t, 10);
  return undefined;
}

/** The architecture part of a decoration: `NTamd64.10.0...17763` -> `amd64`, `NT` -> ''. */
export function decorationPlatform(decoration: string): string | undefined {
  const m = /^nt([a-z0-9]*)/i.exec(decoration);
  return m ? m[1].toLowerCase() : undefined;
}

/** Does a models section decoration apply to an architecture? Undecorated sections apply to all. */
export function decorationMatches(decoration: string | undefined, arch: Arch): boolean {
  if (decoration === undefined) return true;
  const p = decorationPlatform(decoration);
  return p === '' || p === ARCH_DECORATION[arch];
}

export function readDriverInf(input: string | Uint8Array, file: string, opts: ParseOptions = {}): DriverInf {
  return interpretInf(parseInf(input, file, opts));
}

export function interpretInf(doc: InfDocument): DriverInf {
  const problems: Problem[] = [...doc.problems];
  const file = doc.file;
  const problem: ProblemSink = (loc, message, rule) => problems.push({ location: loc, message, rule });

  const version = readVersion(doc, problem);
  const { manufacturers, devices } = readModels(doc, problem);
  const { services, copyFiles } = readInstallSections(doc, devices, problem);
  const { sourceDisksFiles, sourceDisksNames } = readSourceDisks(doc, problem);
  checkSourceReferences(sourceDisksFiles, sourceDisksNames, copyFiles, problem);
  const destinationDirs = readDestinationDirs(doc, problem);
  return { file, doc, version, manufacturers, devices, services, copyFiles, sourceDisksFiles, sourceDisksNames, destinationDirs, problems };
}

/** [Manufacturer] and the models sections it names (one per decoration): the devices. */
function readModels(doc: InfDocument, problem: ProblemSink): { manufacturers: InfManufacturer[]; devices: InfDevice[] } {
  const manufacturers: InfManufacturer[] = [];
  const devices: InfDevice[] = [];
  const manufacturerSection = doc.section('Manufacturer');
  if (!manufacturerSection) problem({ file: doc.file, path: '[Manufacturer]' }, 'no [Manufacturer] section', 'inf-structure');
  for (const e of manufacturerSection?.entries ?? []) {
    const [models, ...decorations] = e.values;
    if (!e.key || !models) {
      problem(e.loc, `manufacturer entry must be 'name = models-section[, decorations]': ${e.raw}`, 'inf-structure');
      continue;
    }
    const decs = decorations.filter((d) => d !== '');
    manufacturers.push({ name: e.key, models, decorations: decs, loc: e.loc });
    const sectionNames = decs.length > 0 ? decs.map((d) => ({ name: `${models}.${d}`, decoration: d })) : [{ name: models, decoration: undefined }];
    for (const { name, decoration } of sectionNames) {
      const section = doc.section(name);
      if (!section) {
        problem(e.loc, `models section [${name}] named by the manufacturer does not exist`, 'inf-structure');
        continue;
      }
      for (const d of section.entries) {
        const [installSection, hardwareId, ...compatibleIds] = d.values;
        if (!d.key || !installSection || !hardwareId) {
          problem(d.loc, `device entry must be 'description = install-section, hardware-id[, compatible-ids]': ${d.raw}`, 'inf-structure');
          continue;
        }
        devices.push({
          description: d.key,
          installSection,
          hardwareId,
          compatibleIds: compatibleIds.filter((c) => c !== ''),
          modelsSection: section.name,
          ...(decoration !== undefined ? { decoration } : {}),
          loc: d.loc,
        });
      }
    }
  }
  return { manufacturers, devices };
}

/** Each device's install section (once each): the files it copies and the services it adds. */
function readInstallSections(doc: InfDocument, devices: readonly InfDevice[], problem: ProblemSink): { services: InfService[]; copyFiles: InfCopyFile[] } {
  const services: InfService[] = [];
  const copyFiles: InfCopyFile[] = [];
  const seenInstall = new Set<string>();
  for (const dev of devices) {
    // SetupAPI picks <section>.NT<arch>, then <section>.NT, then <section>; a device listed in an
    // undecorated models section may use any of them, so each existing one is read.
    const platform = dev.decoration !== undefined ? decorationPlatform(dev.decoration) : undefined;
    const candidates = platform ? [`${dev.installSection}.NT${platform}`, `${dev.installSection}.NT`, dev.installSection] : [dev.installSection];
    const install = candidates.map((c) => doc.section(c)).find((s) => s !== undefined);
    if (!install) {
      problem(dev.loc, `install section [${candidates.join('] or [')}] does not exist`, 'inf-structure');
      continue;
    }
    const key = install.name.toLowerCase();
    if (seenInstall.has(key)) continue;
    seenInstall.add(key);
    for (const s of [install, doc.section(`${install.name}.CoInstallers`)]) {
      if (s) copyFiles.push(...readCopyFiles(doc, s, problem));
    }
    services.push(...readServices(doc, install, problem));
  }
  return { services, copyFiles };
}

/** [SourceDisksFiles] and [SourceDisksNames], plain and per platform. */
function readSourceDisks(doc: InfDocument, problem: ProblemSink): { sourceDisksFiles: InfSourceFile[]; sourceDisksNames: InfSourceDisk[] } {
  const sourceDisksFiles: InfSourceFile[] = [];
  const sourceDisksNames: InfSourceDisk[] = [];
  for (const s of doc.sections) {
    const m = /^SourceDisks(Files|Names)(?:\.(.+))?$/i.exec(s.name);
    if (!m) continue;
    const platform = m[2]?.toLowerCase();
    for (const e of s.entries) {
      if (!e.key) {
        problem(e.loc, `entry without '=' in [${s.name}]: ${e.raw}`, 'inf-structure');
        continue;
      }
      if (m[1].toLowerCase() === 'files') {
        sourceDisksFiles.push({
          name: e.key,
          diskId: e.values[0] ?? '',
          ...(e.values[1] ? { subdir: e.values[1] } : {}),
          ...(platform ? { platform } : {}),
          loc: e.loc,
        });
      } else {
        sourceDisksNames.push({
          diskId: e.key,
          description: e.values[0] ?? '',
          ...(e.values[3] ? { path: e.values[3] } : {}),
          ...(platform ? { platform } : {}),
          loc: e.loc,
        });
      }
    }
  }
  return { sourceDisksFiles, sourceDisksNames };
}

/** Every source file on a named disk, every copied file among the source files. */
function checkSourceReferences(sourceDisksFiles: readonly InfSourceFile[], sourceDisksNames: readonly InfSourceDisk[], copyFiles: readonly InfCopyFile[], problem: ProblemSink): void {
  for (const f of sourceDisksFiles) {
    if (!sourceDisksNames.some((d) => d.diskId === f.diskId)) {
      problem(f.loc, `source disk '${f.diskId}' of ${f.name} is not in [SourceDisksNames]`, 'inf-structure');
    }
  }
  for (const c of copyFiles) {
    if (!sourceDisksFiles.some((f) => f.name.toLowerCase() === c.source.toLowerCase())) {
      problem(c.loc, `${c.source} is copied but not listed in [SourceDisksFiles]`, 'inf-structure');
    }
  }
}

function readDestinationDirs(doc: InfDocument, problem: ProblemSink): InfDestinationDir[] {
  const destinationDirs: InfDestinationDir[] = [];
  for (const e of doc.section('DestinationDirs')?.entries ?? []) {
    const dirid = infNumber(e.values[0]);
    if (!e.key || dirid === undefined) {
      problem(e.loc, `destination entry must be 'section = dirid[, subdir]': ${e.raw}`, 'inf-structure');
      continue;
    }
    destinationDirs.push({ section: e.key, dirid, ...(e.values[1] ? { subdir: e.values[1] } : {}), loc: e.loc });
  }
  return destinationDirs;
}

type ProblemSink = (loc: SourceLocation, message: string, rule: string) => void;

function readVersion(doc: InfDocument, problem: ProblemSink): InfVersion {
  const s = doc.section('Version');
  const loc = s?.loc ?? { file: doc.file, path: '[Version]' };
  if (!s) {
    problem(loc, 'no [Version] section', 'inf-structure');
    return { loc, catalogFiles: [] };
  }
  const v: InfVersion = { loc, catalogFiles: [] };
  const signature = valueOf(s, 'Signature');
  if (!signature) problem(loc, '[Version] has no Signature', 'inf-version');
  else {
    v.signature = signature;
    if (!/^\$(Windows NT|Chicago)\$$/i.test(signature.value)) problem(signature.loc, `Signature '${signature.value}' is not "$Windows NT$"`, 'inf-version');
  }
  const cls = valueOf(s, 'Class');
  if (cls) v.class = cls;
  const guid = valueOf(s, 'ClassGuid');
  if (guid) {
    v.classGuid = guid;
    if (!CLASS_GUID.test(guid.value)) problem(guid.loc, `ClassGuid '${guid.value}' is not a {GUID}`, 'inf-version');
  }
  const provider = valueOf(s, 'Provider');
  if (provider) v.provider = provider;
  const dv = valueOf(s, 'DriverVer');
  if (dv) {
    const parsed = parseDriverVer(dv.value);
    if (parsed.ok) v.driverVer = { value: parsed.value, loc: dv.loc };
    else problem(dv.loc, parsed.message, 'inf-driver-ver');
  }
  for (const e of s.entries) {
    const m = /^CatalogFile(?:\.(.+))?$/i.exec(e.key ?? '');
    if (!m) continue;
    const name = e.values.join(',');
    if (!/^[^\\/:*?"<>|]+\.cat$/i.test(name)) problem(e.loc, `CatalogFile '${name}' is not a .cat file name`, 'inf-version');
    v.catalogFiles.push({ name, ...(m[1] ? { decoration: m[1].toLowerCase() } : {}), loc: e.loc });
  }
  return v;
}

function readCopyFiles(doc: InfDocument, install: InfSection, problem: ProblemSink): InfCopyFile[] {
  const out: InfCopyFile[] = [];
  for (const e of entriesWithKey(install, 'CopyFiles')) {
    for (const ref of e.values.filter((v) => v !== '')) {
      if (ref.startsWith('@')) {
        const name = ref.slice(1);
        out.push({ destination: name, source: name, section: install.name, loc: e.loc });
        continue;
      }
      const section = doc.section(ref);
      if (!section) {
        problem(e.loc, `CopyFiles section [${ref}] does not exist`, 'inf-structure');
        continue;
      }
      for (const f of section.entries) {
        const [destination, source] = f.key !== undefined ? [f.key, f.values[0]] : [f.values[0], f.values[1]];
        if (!destination) {
          problem(f.loc, `copy entry without a file name: ${f.raw}`, 'inf-structure');
          continue;
        }
        out.push({ destination, source: source || destination, section: section.name, loc: f.loc });
      }
    }
  }
  return out;
}

function readServices(doc: InfDocument, install: InfSection, problem: ProblemSink): InfService[] {
  const servicesSection = doc.section(`${install.name}.Services`);
  const out: InfService[] = [];
  for (const e of entriesWithKey(servicesSection, 'AddService')) {
    const [name, flagsText, serviceSection] = e.values;
    if (!name || !serviceSection) {
      problem(e.loc, `AddService must be 'name, flags, service-install-section[, event-log-section]': ${e.raw}`, 'inf-structure');
      continue;
    }
    const flags = flagsText ? infNumber(flagsText) : 0;
    if (flags === undefined) problem(e.loc, `AddService flags '${flagsText}' is not a number`, 'inf-structure');
    const s = doc.section(serviceSection);
    if (!s) {
      problem(e.loc, `service install section [${serviceSection}] does not exist`, 'inf-structure');
      continue;
    }
    const num = (key: string) => {
      const v = valueOf(s, key);
      if (!v) return undefined;
      const n = infNumber(v.value);
      if (n === undefined) problem(v.loc, `${key} '${v.value}' is not a number`, 'inf-structure');
      return n;
    };
    const svc: InfService = { name, flags: flags ?? 0, installSection: install.name, serviceSection: s.name, loc: e.loc };
    const displayName = valueOf(s, 'DisplayName')?.value;
    if (displayName !== undefined) svc.displayName = displayName;
    const serviceType = num('ServiceType');
    if (serviceType !== undefined) svc.serviceType = serviceType;
    const startType = num('StartType');
    if (startType !== undefined) svc.startType = startType;
    const errorControl = num('ErrorControl');
    if (errorControl !== undefined) svc.errorControl = errorControl;
    const binary = valueOf(s, 'ServiceBinary');
    if (binary) svc.serviceBinary = binary.value;
    else problem(s.loc, `service ${name} has no ServiceBinary`, 'inf-structure');
    const group = valueOf(s, 'LoadOrderGroup')?.value;
    if (group !== undefined) svc.loadOrderGroup = group;
    out.push(svc);
  }
  return out;
}

/** Devices that a given architecture would install from (the models sections decorated for it). */
export function devicesFor(inf: DriverInf, arch: Arch): InfDevice[] {
  return inf.devices.filter((d) => decorationMatches(d.decoration, arch));
}

/** The catalog the INF names for an architecture (CatalogFile.NT<arch> wins over CatalogFile). */
export function catalogFor(inf: DriverInf, arch: Arch): { name: string; loc: SourceLocation } | undefined {
  const platform = ARCH_DECORATION[arch];
  const c = inf.version.catalogFiles;
  return c.find((x) => x.decoration === `nt${platform}`) ?? c.find((x) => x.decoration === 'nt') ?? c.find((x) => x.decoration === undefined);
}

/** The binary file name of a service (`%12%\xenbus.sys` -> `xenbus.sys`). */
export function serviceBinaryName(svc: InfService): string | undefined {
  return svc.serviceBinary?.split(/[\\/]/).pop();
}
