// The guest agent of a simulated Windows guest: driver installs (pnputil, the vendor MSI, staging),
// uninstall, NIC settings, driver status and the workloads (workloads.ts). It reaches the modelled
// Windows directly, where the XenAPI host goes over OpenSSH (guests/windows/).
import { writeFile } from 'node:fs/promises';
import type { DriverBundle, DriverStatus, GuestAgent, GuestRef } from '../../model/host';
import type { DriverName } from '../../model/spec';
import { guestError } from '../../model/errors';
import type { WindowsGuest } from '../../sim/windows/guest';
import { BUILTIN_PREFIX, builtinPackages, bundlePackages } from '../../sim/windows/packages';
import { InstallerFailure } from '../../sim/windows/installer';
import { msiExitMeaning } from '../../guests/windows/installer';
import { storeArtifact } from '../../util/artifacts';
import type { SimState } from './host-state';
import type { SimGuest } from './sim-guest';
import { SimWorkloads } from './workloads';

export class SimGuestTransport {
  /** The driver build version each guest installed last (for `builds`). */
  private installedBuild = new Map<string, string>();
  /** Which guest an agent belongs to (a net workload may name its peer by agent). */
  private agentGuest = new WeakMap<GuestAgent, string>();
  private readonly workloads: SimWorkloads;

  constructor(private readonly st: SimState) {
    this.workloads = new SimWorkloads(st);
  }

  agent(ref: GuestRef): GuestAgent {
    const name = ref.name;
    const guest = () => this.st.guest({ ...ref, name });
    const agent: GuestAgent = {
      installDrivers: (bundle) => this.installDrivers(guest(), bundle),
      uninstallDrivers: async (opts: { vendor?: string; installer?: boolean }) => {
        guest().win.uninstall(opts.vendor);
      },
      setNic: async (nic) => {
        if (!guest().win.configureNic(nic)) throw guestError('SIM_NO_NIC', `${name}: no network interface with MAC ${nic.mac} is up`);
      },
      driverStatus: async (): Promise<DriverStatus> => guest().win.driverStatus(),
      blockWorkload: (w) => {
        const g = guest();
        return this.workloads.block(g, w, this.installedBuild.get(g.ref.name) ?? '');
      },
      netWorkload: (w, peer) => this.workloads.net(guest(), w, w.peer ?? (peer ? this.agentGuest.get(peer) : undefined)),
    };
    this.agentGuest.set(agent, name);
    return agent;
  }

  private async installDrivers(g: SimGuest, bundle: DriverBundle): Promise<void> {
    const specs = this.st.opts.specs;
    const drivers = bundle.drivers as DriverName[];
    // builtin:<version>[@<vendor prefix>]: the reference packages built with another vendor's prefix (XS, XN)
    const [builtinVersion, vendorPrefix] = bundle.location.slice(BUILTIN_PREFIX.length).split('@');
    const pkgs = bundle.location.startsWith(BUILTIN_PREFIX)
      ? builtinPackages(specs, drivers, builtinVersion || bundle.version, vendorPrefix ? { vendorPrefix } : {})
      : await this.st.hv.sched.holding(() => bundlePackages(bundle.location, specs, drivers));
    if (bundle.staged) g.win.stage(pkgs);
    else if (bundle.installer) await this.runInstaller(g, pkgs, `winpv-${builtinVersion || bundle.version}${vendorPrefix ? `-${vendorPrefix}` : ''}.msi`);
    else g.win.install(pkgs);
    this.installedBuild.set(g.ref.name, bundle.version);
  }

  /** msiexec /i <product> /qn /norestart /l*v <log>: the verbose log is collected as an `installer-log`
   *  artifact, and a failure is reported as the Windows agent reports it (guests/windows/installer.ts). */
  private async runInstaller(g: SimGuest, pkgs: Parameters<WindowsGuest['msiInstall']>[0], product: string): Promise<void> {
    let log: string;
    let failure: InstallerFailure | undefined;
    try {
      log = g.win.msiInstall(pkgs, product);
    } catch (e) {
      if (!(e instanceof InstallerFailure)) throw e;
      failure = e;
      log = e.log;
    }
    const where = await this.keepInstallerLog(g, product, log);
    if (failure) {
      throw guestError('GUEST_DRIVER_INSTALL', `${g.ref.name}: the vendor installer ${product} failed (${failure.exitCode}: ${msiExitMeaning(failure.exitCode)}); its log is ${where}`);
    }
  }

  /** The installer's log as an artifact of the run (or an event saying it stays in the guest); where it is. */
  private async keepInstallerLog(g: SimGuest, product: string, log: string): Promise<string> {
    const st = this.st;
    const source = `C:\\Windows\\Temp\\${product}.log`;
    if (!st.artifactsDir) {
      st.emit({ ev: 'artifact', inst: g.inst, guest: g.ref.name, kind: 'installer-log', source, bytes: Buffer.byteLength(log), missing: 'this run keeps no artifacts (no report directory); the log stays in the guest' });
      return source;
    }
    const dir = st.artifactsDir;
    const stored = await st.hv.sched.holding(() => storeArtifact(dir, g.inst, `${g.ref.name}-${product}.log`, (tmp) => writeFile(tmp, log)));
    st.emit({ ev: 'artifact', inst: g.inst, guest: g.ref.name, kind: 'installer-log', ...stored, source });
    return stored.path;
  }
}
