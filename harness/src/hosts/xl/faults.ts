// The faults real Xen can have, injected on an xl host the way they happen: the guest kernel panics
// (sysrq `c` through its console), the backend is forced to Closing, the backend directory is
// removed under the frontend. The simulator-only faults (ring and xenstore misbehaviour) are refused.
import { guestError, hostError, WinpvError } from '../../model/errors';
import type { FaultName } from '../../model/catalog';
import type { FaultCapability, GuestRef } from '../../model/host';
import type { DeviceRef, FaultConfig } from '../../model/scenario';
import { requireDevid } from '../../model/vdev';
import { sleep, type GuestRecord, type XlState } from './host-state';
import type { XlDevices } from './devices';
import type { XlGuestTransport } from './guest-transport';
import type { CrashWatch } from './crash-watch';

/** The faults real Xen can have, injected for real (see `faults`); scenarios needing the simulator-only
 *  ones (ring and xenstore misbehaviour, frontend bugs) are skipped by the planner with the reason. */
export const XL_FAULTS: ReadonlySet<FaultName> = new Set<FaultName>(['guest-crash', 'backend-closing', 'surprise-unplug']);

/** How long a guest may take to be seen down after its kernel was told to panic (measured on the lab:
 *  0.5 s with the console free, 8 s with dd running). */
const CRASH_DETECT_MS = 60_000;

export class XlFaults implements FaultCapability {
  readonly supported = XL_FAULTS;

  constructor(
    private readonly st: XlState,
    private readonly devices: XlDevices,
    private readonly transport: XlGuestTransport,
    private readonly crashes: CrashWatch,
  ) {}

  readonly inject = async (fault: FaultConfig, guest?: GuestRef): Promise<() => Promise<void>> => {
    const off = async () => undefined;
    if (!guest) throw hostError('FAULT_NO_GUEST', `fault ${fault.name} needs a guest`);
    const rec = this.st.rec(guest);
    const dev = fault.device ?? (rec.shape.vbds[0] ? (`vbd/${requireDevid(rec.shape.vbds[0].vdev)}` as DeviceRef) : undefined);
    switch (fault.name) {
      case 'guest-crash':
        await this.crashGuest(rec, fault);
        return off;
      case 'backend-closing':
        if (!dev) throw hostError('FAULT_NO_DEVICE', `fault ${fault.name}: guest ${guest.name} has no device`);
        this.st.trace?.emit({ ev: 'fault', inst: rec.inst, name: fault.name, on: true, detail: { dev, how: 'xenstore-write state 5' } });
        await this.devices.backendControl.forceBackendState(rec.ref, dev, 5);
        return off;
      case 'surprise-unplug':
        if (!dev) throw hostError('FAULT_NO_DEVICE', `fault ${fault.name}: guest ${guest.name} has no device`);
        this.st.trace?.emit({ ev: 'fault', inst: rec.inst, name: fault.name, on: true, detail: { dev, how: 'xenstore-rm of the backend directory' } });
        await this.devices.hotplug.detach(rec.ref, dev, { surprise: true });
        return off;
      default:
        throw new WinpvError('host', 'NOT_SUPPORTED', `fault ${fault.name} cannot be injected on an xl host (it injects ${[...XL_FAULTS].join(', ')}); the simulated host injects every fault`);
    }
  };

  /** The guest-crash fault: the guest's own kernel panics and crash detection (the @releaseDomain
   *  sweep) reports it. With the console free the Linux agent writes `c` to /proc/sysrq-trigger;
   *  while a command runs (the console reads the next line only after it) `xl sysrq c` asks the guest
   *  kernel through xenstore's control/sysrq. Only a guest with no agent (a Windows image) is
   *  destroyed instead, and the trace says so. A running guest is waited for until it is seen down. */
  private async crashGuest(rec: GuestRecord, fault: FaultConfig): Promise<void> {
    const say = (how: string) => this.st.trace?.emit({ ev: 'fault', inst: rec.inst, name: fault.name, on: true, detail: { how } });
    const running = rec.expectRunning;
    if (rec.shape.os !== 'linux') {
      say('xl destroy: the guest has no agent to panic its kernel (fallback)');
      await this.st.dom0.run(['xl', 'destroy', rec.ref.handle]);
    } else if (await this.transport.linuxAgent(rec).panic()) {
      say('kernel panic: echo c > /proc/sysrq-trigger through the guest agent');
    } else {
      say('kernel panic: xl sysrq c (xenstore control/sysrq; the guest agent is busy or not up yet)');
      await this.st.dom0.run(['xl', 'sysrq', rec.ref.handle, 'c']);
    }
    if (!running) return; // not started yet: it panics as it boots, and the sweep sees it then
    await this.waitSeenDown(rec);
  }

  private async waitSeenDown(rec: GuestRecord): Promise<void> {
    const limit = this.st.opts.crashDetectMs ?? CRASH_DETECT_MS;
    const deadline = Date.now() + limit;
    while (!rec.reported) {
      await this.crashes.sweep();
      if (rec.reported) break;
      if (Date.now() > deadline) throw guestError('GUEST_NO_CRASH', `guest ${rec.ref.name} was told to panic but was still running ${limit / 1000} s later`);
      await sleep(500);
    }
  }
}
