// The guest agents of a Windows guest, as far as xenstore sees them, and what they do after a resume.
// - xenagent (win-xeniface src/xenagent, installed as a service by xeniface.inf): when it finds the
//   xeniface device (xenifacedevice.cpp CXenIfaceDeviceList::OnDeviceAdded) it registers for xeniface's
//   suspend event and StartShutdownWatch writes control/feature-poweroff, feature-reboot, feature-s3 and
//   feature-s4 = 1. After a resume, CheckSuspend sees IOCTL_XENIFACE_SUSPEND_GET_COUNT change and, "as
//   suspending deactivated the watch", runs StopShutdownWatch (the four keys written empty) then
//   StartShutdownWatch again (written 1).
// - The XenServer guest agent (win-xenguestagent, a separate install: scenario `agent="true"`): its
//   features (src/xenguestlib PVInstallation.cs, MemoryInfo.cs, Features.cs) write attr/os/*,
//   data/os_distro, data/os_majorver, data/os_minorver, data/os_name, data/host_name, data/host_name_dns,
//   data/domain, attr/PVAddons/*, data/meminfo_free/total and their control/feature-* advertisements;
//   on xeniface's CitrixXenStoreUnsuspendedEvent (src/xenguestagent/XenService.cs handleUnsuspended) it
//   calls Refresher.RefreshAll(true), rewriting every one of them. A migration lands the guest in a new
//   domain whose home is empty, so this rewrite is what puts them back for xapi's guest metrics.
// Timings are the model's: the services start AGENT_START_MS after the drivers bound, and react to the
// resume event within AGENT_RESUME_MS. The agent-resume-lost fault is xeniface never signalling the
// resume to them (neither the SUSPEND count nor the WMI event): nothing is written again.
import type { Domain } from '../hypervisor';
import { HOST_TIMINGS } from '../timings';

const AGENT_START_MS = HOST_TIMINGS.agentStartMs;
const AGENT_RESUME_MS = HOST_TIMINGS.agentResumeMs;

export interface AgentFaults {
  /** agent-resume-lost: xeniface does not tell the guest agents that the guest resumed. */
  agentResumeLost: boolean;
}

/** xenagent's StartShutdownWatch advertisements (xenifacedevice.cpp). */
const XENAGENT_FEATURES = ['control/feature-poweroff', 'control/feature-reboot', 'control/feature-s3', 'control/feature-s4'];

/** What the XenServer guest agent reports (PVInstallation.cs, MemoryInfo.cs, Features.cs), for a
 *  Windows Server 2022 guest named after its scenario guest. */
function managementAgentKeys(name: string, memoryKiB: number): [string, string][] {
  return [
    ['attr/os/class', 'Windows NT'], ['attr/os/major', '10'], ['attr/os/minor', '0'], ['attr/os/build', '20348'], ['attr/os/platform', '2'],
    ['attr/os/spmajor', '0'], ['attr/os/spminor', '0'],
    ['data/os_distro', 'windows'], ['data/os_majorver', '10'], ['data/os_minorver', '0'],
    ['data/os_name', 'Microsoft Windows Server 2022 Datacenter|C:\\Windows|\\Device\\Harddisk0\\Partition2'],
    ['data/host_name', name.toUpperCase()], ['data/host_name_dns', name], ['data/domain', 'WORKGROUP'],
    ['attr/PVAddons/MajorVersion', '9'], ['attr/PVAddons/MinorVersion', '1'], ['attr/PVAddons/MicroVersion', '0'], ['attr/PVAddons/BuildVersion', '0'], ['attr/PVAddons/Installed', '1'],
    ['data/meminfo_total', String(memoryKiB)], ['data/meminfo_free', String(Math.floor(memoryKiB * 0.6))],
    ['control/feature-setcomputername', '1'], ['control/feature-ts2', '1'], ['control/feature-xs-batcmd', '1'], ['control/feature-static-ip-setting', '1'],
  ];
}

export class GuestAgents {
  private running = false;
  private timers: { cancel(): void }[] = [];

  constructor(
    private dom: Domain,
    private readonly faults: AgentFaults,
    private readonly opts: { name: string; memoryKiB: number; managementAgent: boolean },
    private readonly log: (level: 'info' | 'warn', msg: string) => void,
  ) {}

  /** The services start with Windows (xeniface bound). */
  start(dom: Domain): void {
    this.dom = dom;
    this.running = true;
    this.later(AGENT_START_MS, async () => {
      await this.writeAll(XENAGENT_FEATURES.map((k) => [k, '1']));
      if (this.opts.managementAgent) await this.writeAll(managementAgentKeys(this.opts.name, this.opts.memoryKiB));
    });
  }

  /** xeniface's resume signal, in the domain the guest now runs in (a new one after a migration). */
  resumed(dom: Domain): void {
    this.dom = dom;
    if (!this.running) return;
    if (this.faults.agentResumeLost) {
      this.log('warn', 'guest agents: xeniface did not signal the resume; nothing reported again');
      return;
    }
    this.later(AGENT_RESUME_MS, async () => {
      // CheckSuspend: StopShutdownWatch then StartShutdownWatch
      await this.writeAll(XENAGENT_FEATURES.map((k) => [k, '']));
      await this.writeAll(XENAGENT_FEATURES.map((k) => [k, '1']));
      if (this.opts.managementAgent) await this.writeAll(managementAgentKeys(this.opts.name, this.opts.memoryKiB));
    });
  }

  /** Windows stops (shutdown, reboot, crash): the services are gone with it. */
  stop(): void {
    this.running = false;
    for (const t of this.timers.splice(0)) t.cancel();
  }

  private later(ms: number, fn: () => Promise<void>): void {
    const dom = this.dom;
    const t = dom.hv.sched.after(ms * 1000, () => {
      this.timers = this.timers.filter((x) => x !== t);
      if (!this.running || this.dom !== dom || dom.state !== 'running') return;
      void fn().catch((e) => this.log('warn', `guest agents: ${(e as Error).message}`));
    });
    this.timers.push(t);
  }

  private async writeAll(kv: [string, string][]): Promise<void> {
    for (const [k, v] of kv) await this.dom.xs.write(`${this.dom.home}/${k}`, v);
  }
}
