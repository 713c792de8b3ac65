// What the parts of the XenAPI host share (host.ts composes them: lifecycle.ts, devices.ts,
// guest-transport.ts, dom0-access.ts): the configuration, the open session, the trace and the
// run's guests, with the few helpers every part uses on a guest.
import type { Secret } from '../../model/secret';
import type { XapiRecord } from 'xen-api';
import type { GuestRef, HostClock } from '../../model/host';
import type { DeviceRef, GuestShape } from '../../model/scenario';
import type { GuestLifecycle, TraceSink } from '../../model/trace';
import { hostError } from '../../model/errors';
import type { SshConnection } from '../../remote/ssh';
import type { WindowsAgent } from '../../guests/windows/agent';
import type { XapiHostConfig } from './config';
import { num, type XapiSession } from './session';
import type { AddressSource } from './guest-address';

export interface XGuest {
  ref: GuestRef;
  vm: string;
  inst: string;
  shape: GuestShape;
  owner: string;
  /** Lifecycle operations of ours in flight: power changes then are expected. */
  busy: number;
  last: { power: string; domid: number };
  agent?: WindowsAgent;
  ssh?: Promise<SshConnection>;
  /** The crash dump being collected (destroyGuest waits for it, so the report can hold it), and
   *  how to stop waiting for a guest that will not come back (it halted). */
  collecting?: Promise<void>;
  stopCollecting?: AbortController;
  /** Reusable guests: the snapshot taken before the driver install, and the shape it fits. */
  spare?: { preInstall: string; key: string };
  /** It crashed or halted on its own: never parked for reuse. */
  failed?: boolean;
  destroyed: boolean;
  /** Disks (VDI by userdevice) and VIF networks of devices unplugged, for a replug. */
  detachedDisks: Map<string, string>;
  detachedNetworks: Map<number, string>;
  /** Where the guest was found this boot, and how. */
  address?: { ip: string; source: AddressSource };
  /** The run's data disk for verifying workloads (made once, on first use). */
  dataDisk?: Promise<{ dev: DeviceRef; label: string }>;
}

/** A guest as registered when its VM exists (before its domain is built). */
export function newGuest(ref: GuestRef, vm: string, inst: string, shape: GuestShape, owner: string): XGuest {
  return { ref, vm, inst, shape, owner, busy: 0, last: { power: 'Halted', domid: -1 }, destroyed: false, detachedDisks: new Map(), detachedNetworks: new Map() };
}

export class XapiState {
  readonly guests = new Map<string, XGuest>();
  trace?: TraceSink;
  artifactsDir?: string;

  constructor(
    readonly cfg: XapiHostConfig,
    readonly runId: string,
    readonly clock: HostClock,
    private readonly session: () => XapiSession | undefined,
  ) {}

  get s(): XapiSession {
    const s = this.session();
    if (!s) throw hostError('XAPI_NOT_OPEN', 'the XenAPI host is not open');
    return s;
  }

  /** The run's passwords, masked in files copied from guests (a dump or a log can hold them). */
  secrets(): Secret[] {
    return [this.cfg.password, this.cfg.guest.password, this.cfg.dom0?.password].filter((x): x is Secret => x !== undefined);
  }

  get isOpen(): boolean {
    return this.session() !== undefined;
  }

  g(ref: GuestRef): XGuest {
    const g = this.guests.get(ref.handle);
    if (!g) throw hostError('XAPI_NO_GUEST', `unknown guest ${ref.name}`);
    return g;
  }

  vm(g: XGuest): XapiRecord | undefined {
    return this.s.get(g.vm);
  }

  emit(g: XGuest, what: GuestLifecycle, detail?: Record<string, string | number>): void {
    this.trace?.emit({ ev: 'guest', inst: g.inst, guest: g.ref.name, domid: g.ref.domid, what, ...(detail ? { detail } : {}) });
  }

  log(inst: string | undefined, level: 'info' | 'warn' | 'error', msg: string): void {
    this.trace?.emit({ ev: 'log', ...(inst !== undefined ? { inst } : {}), level, msg });
  }

  /** Runs a lifecycle operation of ours: power changes during it are expected, not crashes. */
  async ours<T>(g: XGuest, fn: () => Promise<T>): Promise<T> {
    g.busy++;
    try {
      return await fn();
    } finally {
      g.busy--;
      const vm = this.vm(g);
      if (vm) g.last = { power: vm.power_state as string, domid: num(vm.domid) };
    }
  }

  /** Waits (on events) until the VM is in `power` and takes its domid. */
  async waitPower(g: XGuest, power: 'Paused' | 'Running', what: string): Promise<void> {
    await this.s.waitFor(what, this.cfg.timeouts.bootMs, () => (this.vm(g)?.power_state === power ? true : undefined));
    g.ref.domid = num(this.vm(g)!.domid);
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(hostError('XAPI_TIMEOUT', `${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

/** A guest's xenstore home. */
export function homePath(ref: GuestRef): string {
  return `/local/domain/${ref.domid}`;
}
