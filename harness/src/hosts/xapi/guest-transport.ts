// Reaching a XenAPI host's Windows guests: finding a guest once it runs (the host entry's
// `guestDiscovery` ways, guest-address.ts), seeing its PV drivers run, its SSH connection and the
// Windows agent over it (guests/windows/), which gets the devices and dom0 it needs from the host.
import { collectGuestFile } from './guest-files';
import type { XapiRecord } from 'xen-api';
import type { GuestRef } from '../../model/host';
import type { DeviceRef } from '../../model/scenario';
import { guestError, hostError, isWinpvError } from '../../model/errors';
import { SshConnection } from '../../remote/ssh';
import { WindowsAgent } from '../../guests/windows/agent';
import { sshTarget } from './config';
import { NULL_REF, num } from './session';
import { DISCOVERY_MEANS, leaseAddress, neighbourAddress, type AddressSource } from './guest-address';
import { homePath, type XapiState, type XGuest } from './host-state';
import type { Dom0Access } from './dom0-access';
import type { XapiDevices } from './devices';

export class GuestTransport {
  constructor(
    private readonly st: XapiState,
    private readonly dom0: Dom0Access,
    private readonly devices: XapiDevices,
  ) {}

  /** Waits (on events) until the guest runs, then finds its address (findGuest). */
  async waitBooted(g: XGuest, signal?: AbortSignal): Promise<void> {
    const t = this.st.cfg.timeouts.bootMs;
    await this.st.s.waitFor(`${g.ref.name} to run`, t, () => (this.st.vm(g)?.power_state === 'Running' ? true : undefined), signal);
    g.ref.domid = num(this.st.vm(g)!.domid);
    g.address = undefined;
    g.ssh = undefined;
    g.address = await this.findGuest(g, signal);
    const by = g.address.source === 'guest-metrics' ? DISCOVERY_MEANS[g.address.source] : `${DISCOVERY_MEANS[g.address.source]} (MAC ${this.macOf(g) ?? '?'})`;
    this.st.log(g.inst, 'info', `${g.ref.name} found at ${g.address.ip} by ${by}`);
  }

  /** Where and how the guest was found this boot, for its lifecycle event (the report shows it). */
  found(g: XGuest): Record<string, string> {
    return g.address ? { address: g.address.ip, foundBy: g.address.source } : {};
  }

  /** The guest's address, by the ways the host entry names, in its order (guest-address.ts says
   *  what each needs). Guest metrics are waited for on events, dom0 is asked again and again, all
   *  until the boot timeout; none answering is a host error naming every way tried. */
  private async findGuest(g: XGuest, signal?: AbortSignal): Promise<{ ip: string; source: AddressSource }> {
    const cfg = this.st.cfg;
    const deadline = Date.now() + cfg.timeouts.bootMs;
    const mac = this.macOf(g);
    const ways = cfg.discovery;
    // dom0 is asked after 0.25 s, then ever less often, up to every 2 s (DEFAULT_XAPI_PAUSES)
    const { discoveryFirstMs, discoveryMaxMs } = cfg.pauses;
    for (let pause = discoveryFirstMs; ; pause = Math.min(2 * pause, discoveryMaxMs)) {
      for (const way of ways) {
        const ip = await this.askWay(way, g, mac);
        if (ip) return { ip, source: way };
      }
      const left = deadline - Date.now();
      if (left <= 0) throw this.notFound(g, mac);
      if (ways.includes('guest-metrics')) {
        try {
          await this.st.s.waitFor(`${g.ref.name} to report its IP address (VM_guest_metrics.networks)`, Math.min(pause, left), () => this.ipOf(g), signal);
        } catch (e) {
          if (!isWinpvError(e) || e.code !== 'XAPI_TIMEOUT') throw e;
        }
      } else {
        if (signal?.aborted) throw signal.reason;
        await this.st.clock.sleep(Math.min(pause, left));
      }
    }
  }

  /** No way found the guest in time: the error names every way tried and what it lacked. */
  private notFound(g: XGuest, mac: string | undefined): Error {
    const cfg = this.st.cfg;
    const tried = cfg.discovery.map((w) => (w === 'guest-metrics' ? `${DISCOVERY_MEANS[w]}: no address (no PV drivers or guest agent yet?)` : `${DISCOVERY_MEANS[w]}: no entry for MAC ${mac ?? 'none (the VM has no VIF 0)'}${w === 'dhcp-leases' ? ` in ${cfg.dhcpLeaseFile}` : ''}`));
    return hostError('XAPI_GUEST_NOT_FOUND', `${g.ref.name} did not show up on the network within ${Math.round(cfg.timeouts.bootMs / 1000)} s; tried, in order: ${tried.join('; ')}. The template must take a DHCP address on its emulated NIC and talk to dom0 (docs/real-pool.md, "Finding a guest")`);
  }

  /** One way's answer, or undefined (a dom0 that does not answer now is asked again next round). */
  private async askWay(way: AddressSource, g: XGuest, mac: string | undefined): Promise<string | undefined> {
    if (way === 'guest-metrics') return this.ipOf(g);
    if (!mac || !this.st.cfg.dom0) return undefined;
    const dom0 = await this.dom0.connection().catch(() => undefined);
    if (!dom0) return undefined;
    if (way === 'dom0-neighbour') return neighbourAddress(dom0, mac).catch(() => undefined);
    return this.st.cfg.dhcpLeaseFile ? leaseAddress(dom0, this.st.cfg.dhcpLeaseFile, mac).catch(() => undefined) : undefined;
  }

  private macOf(g: XGuest): string | undefined {
    const vifs = ((this.st.vm(g)?.VIFs as string[]) ?? []).map((v) => this.st.s.get(v)).filter((v) => v !== undefined);
    const first = vifs.find((v) => String(v.device) === '0') ?? vifs[0];
    return first ? String(first.MAC) : undefined;
  }

  private ipOf(g: XGuest): string | undefined {
    const nets = (this.metricsOf(g)?.networks ?? {}) as Record<string, string>;
    return nets['0/ip'] ?? nets['0/ipv4/0'] ?? Object.entries(nets).find(([k]) => /\/ip(v4\/0)?$/.test(k))?.[1];
  }

  /** The address to reach the guest at: where it was found this boot (its agent's report wins once it has one). */
  private addressOf(g: XGuest): string | undefined {
    return this.ipOf(g) ?? g.address?.ip;
  }

  private metricsOf(g: XGuest): XapiRecord | undefined {
    const vm = this.st.vm(g);
    return vm && vm.guest_metrics !== NULL_REF ? this.st.s.get(vm.guest_metrics as string) : undefined;
  }

  /** Waits until the guest's PV drivers run: xapi says so (VM_guest_metrics.PV_drivers_detected)
   *  only once the guest agent runs too, which a driver set without xeniface, or a template without
   *  the agent, never has; so a frontend of the guest Connected in dom0's xenstore counts as well
   *  (xenbus and a child driver bound and talking to their backend). Returns how it was seen. */
  async waitPvDrivers(ref: GuestRef): Promise<string> {
    const g = this.st.g(ref);
    const cfg = this.st.cfg;
    const deadline = Date.now() + cfg.timeouts.bootMs;
    for (;;) {
      const gm = this.metricsOf(g);
      if (gm?.PV_drivers_detected === true) {
        const v = gm.PV_drivers_version as Record<string, string>;
        return `PV drivers ${v.major}.${v.minor}.${v.micro}.${v.build} reported by the guest agent`;
      }
      const connected = cfg.dom0 ? await this.connectedFrontend(g) : undefined;
      if (connected) return `frontend ${connected} Connected (dom0's xenstore)`;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw hostError('XAPI_TIMEOUT', `${ref.name}: no sign of PV drivers within ${Math.round(cfg.timeouts.bootMs / 1000)} s after the driver install (${cfg.dom0 ? 'no frontend Connected in dom0\'s xenstore, and ' : ''}VM_guest_metrics.PV_drivers_detected false: no guest agent reporting)`);
      }
      try {
        await this.st.s.waitFor(`${ref.name} to report PV drivers`, Math.min(cfg.pauses.pvDriversMs, left), () => (this.metricsOf(g)?.PV_drivers_detected === true ? true : undefined));
      } catch (e) {
        if (!isWinpvError(e) || e.code !== 'XAPI_TIMEOUT') throw e;
      }
    }
  }

  /** A guest whose scenario runs the XenServer guest agent (`agent="true"`, capability guest-agent)
   *  must have it reporting before its keys are judged across a move: xapi fills VM_guest_metrics'
   *  os_version and PV_drivers_detected only from what the agent writes (xen-api
   *  ocaml/xapi/xapi_guest_agent.ml), so their absence is an agent that does not run. */
  assertAgentReports(g: XGuest): void {
    if (!g.shape.agent) return;
    const gm = this.metricsOf(g);
    const os = (gm?.os_version ?? {}) as Record<string, string>;
    if (gm?.PV_drivers_detected === true && Object.keys(os).length) return;
    throw guestError('GUEST_AGENT_SILENT', `${g.ref.name}: the scenario runs the XenServer guest agent (agent="true"), but VM_guest_metrics has ${gm ? 'no os_version' : 'no record'}: the agent is not reporting (it must be installed in the template and reaches xenstore through xeniface, docs/real-pool.md)`);
  }

  /** The first of the guest's frontends Connected in dom0's xenstore (`vbd/51712`), if any. */
  private async connectedFrontend(g: XGuest): Promise<string | undefined> {
    const xs = this.dom0.xs;
    const home = `${homePath(g.ref)}/device`;
    for (const type of await xs.directory(home).catch(() => [] as string[])) {
      for (const id of await xs.directory(`${home}/${type}`).catch(() => [] as string[])) {
        if ((await xs.read(`${home}/${type}/${id}/state`).catch(() => null)) === '4') return `${type}/${id}`;
      }
    }
    return undefined;
  }

  agentOf(g: XGuest): WindowsAgent {
    g.agent ??= new WindowsAgent({
      name: g.ref.name,
      connect: () => this.guestSsh(g),
      address: async () => this.addressOf(g) ?? (await this.findGuest(g)).ip,
      vbdTarget: (dev: DeviceRef) => this.devices.vbdTarget(g, dev),
      dataDisk: () => this.devices.dataDisk(g),
      insertIso: (name) => this.devices.insertIso(g.ref, name),
      deliverIso: (iso, version) => this.devices.deliverDisc(g, iso, version),
      dom0Ntttcp: this.st.cfg.dom0 ? { address: async () => this.dom0.address(), run: (role, o) => this.dom0.ntttcp(role, o) } : undefined,
      log: (level, msg) => this.st.trace?.emit({ ev: 'log', inst: g.inst, level, msg }),
      // xapi sees the PV drivers (PV_drivers_detected, which suspend, migrate and hot-plug need)
      // and the guest's addresses only through the guest agent, which reaches xenstore through xeniface
      companions: ['xeniface'],
      // the harness reaches the guest over SSH at the address of VIF 0's MAC (findGuest)
      transportMac: async () => this.macOf(g),
      keepFile: (path, kind) => collectGuestFile({ name: g.ref.name, inst: g.inst, agent: () => this.agentOf(g) }, path, kind, this.st.trace, this.st.artifactsDir, this.st.secrets()),
    });
    return g.agent;
  }

  /** The guest's SSH connection (made on first use, again after a reboot). */
  ssh(g: XGuest): Promise<SshConnection> {
    return this.guestSsh(g);
  }

  private async guestSsh(g: XGuest): Promise<SshConnection> {
    g.ssh ??= this.connectGuest(g);
    try {
      return await g.ssh;
    } catch (e) {
      g.ssh = undefined;
      throw e;
    }
  }

  private async connectGuest(g: XGuest): Promise<SshConnection> {
    const ip = this.addressOf(g) ?? (await this.findGuest(g)).ip;
    const deadline = Date.now() + this.st.cfg.timeouts.bootMs;
    // sshd starts a little after the guest agent reports the IP.
    for (;;) {
      try {
        const c = await SshConnection.connect(sshTarget(this.st.cfg.guest, ip), { timeoutMs: 20_000 });
        c.onClose(() => {
          if (g.ssh) g.ssh = undefined;
        });
        return c;
      } catch (e) {
        const retry = isWinpvError(e) && (e.code === 'SSH_CONNECT' || e.code === 'SSH_TIMEOUT');
        if (!retry || Date.now() > deadline) throw e;
        await this.st.clock.sleep(this.st.cfg.pauses.sshRetryMs);
      }
    }
  }

  async dropGuestSsh(g: XGuest): Promise<void> {
    const c = g.ssh;
    g.ssh = undefined;
    if (c) await c.then((x) => x.close()).catch(() => undefined);
  }
}
