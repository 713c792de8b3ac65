// drivers-bound: after each driver install, every expected driver bound at the expected version,
// no device was left without its driver, the emulated disks/NICs were unplugged, and every child
// driver bound a revision its parent bus driver advertises (as the specs list them).
import type { CheckResult } from '../model/result';
import type { DriverName, SpecSet } from '../model/spec';
import type { DriversEvent, StepEvent } from '../model/trace';
import type { DriverState } from '../model/host';
import type { GuestShape } from '../model/scenario';
import { Findings, skip } from './findings';
import { afterCrash, type InstanceView } from './view';
import { sameVersion } from '../model/version';

const REV = /REV_([0-9A-Fa-f]{8})/;

/** The driver a device is meant for: the one whose hardware-ID templates have the device's shape,
 *  whatever its vendor, device id or revision (those are for the binding itself to judge). */
function intendedDriver(specs: SpecSet, hardwareId: string): DriverName | undefined {
  const esc = (p: string) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const [name, spec] of specs) {
    for (const t of spec.identity.hardwareIds) {
      const body = t.split(/(<prefix>|<device>|<rev>)/).map((p) => (/^<(prefix|device|rev)>$/.test(p) ? '[0-9A-Za-z]+' : esc(p))).join('');
      if (new RegExp(`^${body}$`, 'i').test(hardwareId)) return name;
    }
  }
  return undefined;
}

/** Windows driver versions have four parts; 9.1.0 and 9.1.0.0 are the same version. */
export { sameVersion };

export function driversBound(v: InstanceView, _params: Record<string, string>, specs: SpecSet): CheckResult {
  const f = new Findings('drivers-bound');
  const reports: DriversEvent[] = [];
  for (const e of v.events) if (e.ev === 'drivers' && !afterCrash(v, e.guest, e)) reports.push(e);
  if (reports.length === 0) {
    const install = v.events.find((e): e is StepEvent => e.ev === 'step.end' && e.kind === 'install-drivers' && e.ok === true);
    if (!install) return skip('drivers-bound', 'the scenario installs no drivers');
    f.fail(`driver install step ${install.step} reported no driver status`, { at: install.t, seq: install.seq, expected: 'a drivers event after the install', observed: 'none' });
    return f.result('');
  }
  const shapes = new Map((v.start?.guests ?? []).map((g) => [g.name, g]));
  for (const e of reports) {
    const diag = { at: e.t, seq: e.seq, guest: e.guest, ...(e.states ? { states: e.states.map(stateText) } : {}) };
    if (e.expected?.removed) {
      judgeRemoved(f, e, diag);
      continue;
    }
    if (e.expected?.staged && judgeStaged(f, e, diag)) continue;
    judgeVersions(f, e, diag);
    judgeUnbound(f, e, diag, specs);
    if (e.expected?.verifier) judgeVerifier(f, e, e.expected.drivers, diag);
    judgeUnplugged(f, e, shapes.get(e.guest), diag);
    judgeRevisions(f, e, specs, diag);
  }
  const last = reports[reports.length - 1];
  return f.result(`${reports.length} driver report${reports.length === 1 ? '' : 's'}; last: ${last.states ? last.states.map(stateText).join(', ') : last.bound.map((b) => `${b.driver} ${b.version}`).join(', ') || 'none bound'}`);
}

/** Every expected driver bound, at the expected version. */
function judgeVersions(f: Findings, e: DriversEvent, diag: Record<string, unknown>): void {
  const bound = new Map(e.bound.map((b) => [b.driver.toLowerCase(), b]));
  const expected = e.expected;
  for (const d of expected?.drivers ?? []) {
    const b = bound.get(d.toLowerCase());
    if (!b) f.fail(`${e.guest}: ${d} is not bound`, { ...diag, expected: `${d} ${expected!.version}`, observed: e.bound.map((x) => `${x.driver} ${x.version}`) });
    // a bundle that says no version (a tools ISO without a manifest) is judged on binding alone
    else if (expected!.version && !sameVersion(b.version, expected!.version)) {
      f.fail(`${e.guest}: ${d} bound at version ${b.version}, expected ${expected!.version}`, { ...diag, expected: expected!.version, observed: b.version, hardwareId: b.hardwareId });
    }
  }
}

/** No device of an installed driver left without its driver. */
function judgeUnbound(f: Findings, e: DriversEvent, diag: Record<string, unknown>, specs: SpecSet): void {
  for (const u of e.unbound) {
    // A device for a driver the step did not install (a disk when only the network drivers are
    // installed) stays without a driver on real Windows too; that is not this install's failure.
    const meant = intendedDriver(specs, u.hardwareId);
    if (e.expected && meant && !e.expected.drivers.some((d) => d.toLowerCase() === meant)) continue;
    f.fail(`${e.guest}: ${u.hardwareId} has no driver: ${u.reason}`, { ...diag, expected: 'every PV device bound', observed: u });
  }
}

/** The install asked for Driver Verifier on its drivers: each .sys must be under it. */
function judgeVerifier(f: Findings, e: DriversEvent, drivers: readonly string[], diag: Record<string, unknown>): void {
  const on = new Set((e.verified ?? []).map((d) => d.toLowerCase()));
  for (const d of drivers) {
    if (e.verified === undefined) {
      f.fail(`${e.guest}: Driver Verifier was asked for but the guest reported no verifier settings`, { ...diag, expected: 'verifier /querysettings listing the installed drivers', observed: 'no report' });
      break;
    }
    if (!on.has(`${d.toLowerCase()}.sys`)) f.fail(`${e.guest}: ${d}.sys is not under Driver Verifier`, { ...diag, expected: drivers.map((x) => `${x}.sys`), observed: e.verified });
  }
}

/** The emulated disks and NICs the guest has unplugged once the PV drivers that replace them bind. */
function judgeUnplugged(f: Findings, e: DriversEvent, shape: GuestShape | undefined, diag: Record<string, unknown>): void {
  const want = new Set((e.expected?.drivers ?? []).map((d) => d.toLowerCase()));
  if (shape?.vbds.length && want.has('xenvbd') && !e.unplugged.disks) {
    f.fail(`${e.guest}: the emulated disks were not unplugged`, { ...diag, expected: 'emulated disks unplugged once xenvbd binds', observed: e.unplugged });
  }
  if (shape?.vifs.length && (want.has('xennet') || want.has('xenvif')) && !e.unplugged.nics) {
    f.fail(`${e.guest}: the emulated NICs were not unplugged`, { ...diag, expected: 'emulated NICs unplugged once xennet binds', observed: e.unplugged });
  }
}

/** Every child driver bound a revision its parent bus driver advertises and its own INF lists. */
function judgeRevisions(f: Findings, e: DriversEvent, specs: SpecSet, diag: Record<string, unknown>): void {
  for (const b of e.bound) {
    const spec = specs.get(b.driver.toLowerCase() as DriverName);
    const rev = REV.exec(b.hardwareId)?.[1]?.toUpperCase();
    if (!spec?.parent || !rev) continue;
    const parent = specs.get(spec.parent);
    const advertised = parent?.revisions.map((r) => r.id.toUpperCase()) ?? [];
    if (parent && advertised.length && !advertised.includes(rev)) {
      f.fail(`${e.guest}: ${b.driver} bound revision ${rev}, which ${parent.name} does not advertise`, { ...diag, expected: advertised, observed: b.hardwareId });
    } else if (spec.bindsRevisions.length && !spec.bindsRevisions.map((r) => r.toUpperCase()).includes(rev)) {
      f.fail(`${e.guest}: ${b.driver} bound revision ${rev}, not one its INF lists`, { ...diag, expected: spec.bindsRevisions, observed: b.hardwareId });
    }
  }
}

/** `xenvif: running 9.0.0, 9.1.0 staged (restart pending)`: a driver's state as the report says it. */
function stateText(s: DriverState): string {
  const v = s.vendor ? ` [${s.vendor}]` : '';
  const req = s.rebootRequested ? ', reboot requested' : '';
  switch (s.state) {
    case 'running':
      return `${s.driver}${v}: running ${s.running}`;
    case 'restart-pending':
      return `${s.driver}${v}: running ${s.running}, ${s.staged} staged (restart pending${req})`;
    case 'reboot-required':
      return `${s.driver}${v}: ${s.staged} installed, start refused until a reboot${req || ', no reboot requested'}`;
    case 'not-started':
      return `${s.driver}${v}: ${s.staged ? `${s.staged} in the driver store, ` : ''}not started (no device yet)${req}`;
    case 'removed':
      return `${s.driver}: removed`;
  }
}

/** After an uninstall: no PV driver bound, and the emulated devices are back (nothing unplugged them). */
function judgeRemoved(f: Findings, e: DriversEvent, diag: Record<string, unknown>): void {
  if (e.bound.length) f.fail(`${e.guest}: after the uninstall ${e.bound.map((b) => `${b.driver} ${b.version}`).join(', ')} still bound`, { ...diag, expected: 'no PV driver bound', observed: e.bound.map((b) => `${b.driver} ${b.version}`) });
  if (e.unplugged.disks || e.unplugged.nics) {
    f.fail(`${e.guest}: after the uninstall the emulated ${[e.unplugged.disks ? 'disks' : '', e.unplugged.nics ? 'NICs' : ''].filter(Boolean).join(' and ')} are still unplugged`, { ...diag, expected: 'the emulated devices back', observed: e.unplugged });
  }
}

/**
 * A staged install (an OS update) judged after its one reboot: every expected driver either runs the
 * staged version, or waits for a reboot that something will make: its own request to the xenbus
 * monitor, or its parent's (a child whose device its waiting parent has not yet enumerated). A driver
 * waiting with no request anywhere leaves the install unfinished for good. Returns false when the
 * report shows the install complete, so it is judged like any other.
 */
function judgeStaged(f: Findings, e: DriversEvent, diag: Record<string, unknown>): boolean {
  const states = new Map((e.states ?? []).map((s) => [s.driver.toLowerCase(), s]));
  const want = e.expected!;
  const done = want.drivers.every((d) => states.get(d.toLowerCase())?.state === 'running' && sameVersion(states.get(d.toLowerCase())!.running ?? '', want.version));
  if (done || !e.states) return false;
  const requested = [...states.values()].some((s) => s.rebootRequested);
  // half installed, the guest must still be reachable: some interface up (the emulated NIC until the unplug)
  if (e.nics && !e.nics.some((n) => n.up)) f.fail(`${e.guest}: no network interface is up after the staged install's reboot: the guest is unreachable`, { ...diag, expected: 'an interface up (the emulated NIC until its unplug)', observed: e.nics });
  for (const d of want.drivers) {
    const s = states.get(d.toLowerCase());
    if (!s) {
      f.fail(`${e.guest}: the staged install left no state for ${d}`, { ...diag, expected: `${d} ${want.version}`, observed: 'none' });
      continue;
    }
    if (s.state === 'running' && sameVersion(s.running ?? '', want.version)) continue;
    if (s.state === 'running') {
      f.fail(`${e.guest}: ${d} runs ${s.running} after the staged install of ${want.version}, with nothing staged`, { ...diag, expected: want.version, observed: stateText(s) });
    } else if (!s.rebootRequested && !(s.state === 'not-started' && requested) && s.state !== 'restart-pending') {
      f.fail(`${e.guest}: ${stateText(s)}: it waits for a reboot nothing asked for (no xenbus_monitor\\Request\\${d.toUpperCase()}\\Reboot), so the install never completes`, {
        ...diag, expected: 'each driver not yet running has a reboot requested (its own or its parent\'s)', observed: stateText(s),
      });
    }
  }
  return true;
}
