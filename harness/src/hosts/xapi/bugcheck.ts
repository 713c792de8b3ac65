// A BSOD on purpose in a pool's Windows guest (capability guest-bugcheck), the way a person with a
// pool does it, and the dump it leaves collected into the report.
//  - Stop code 0x80 (NMI_HARDWARE_FAILURE) is a non-maskable interrupt sent from dom0 with
//    `xl trigger <domid> nmi` (xl(1): "trigger domain-id nmi|reset|init|power|sleep|s3resume"). XenAPI
//    has no way: VM.send_trigger is in the datamodel but xapi answers NOT_IMPLEMENTED
//    (xen-api ocaml/xapi/xapi_vm.ml send_trigger). Windows bugchecks on it only with
//    CrashControl\NMICrashDump = 1.
//  - Any other stop code is Sysinternals NotMyFault's `/bugcheck <code>` run in the guest over its
//    SSH connection (guests/windows/bugcheck.ts).
// Before either, the guest's CrashControl must promise a dump and a restart (guests/windows/bugcheck.ts
// crashControlRefusal): otherwise the step is refused, nothing is crashed. Then the guest restarts
// by itself (AutoReboot; XAPI builds a new domain), or XAPI keeps its domain paused when the guest
// reported a crash (actions_after_crash=preserve) and we restart it; Windows moves the dump out of
// the page file as it boots, and crash-dump.ts copies it with the stop code its header records.
import type { BugcheckCapability, GuestRef } from '../../model/host';
import { stopCode } from '../../model/trace';
import { guestError, hostError, unsupportedError } from '../../model/errors';
import { STOP_NAMES } from '../../sim/windows/crashdump';
import { crashControlRefusal, readCrashControl, startBugcheck } from '../../guests/windows/bugcheck';
import { num } from './session';
import type { XapiState, XGuest } from './host-state';
import type { GuestTransport } from './guest-transport';
import type { Dom0Access } from './dom0-access';
import type { XapiLifecycle } from './lifecycle';

const NMI_STOP_CODE = 0x80;

export class XapiBugcheck implements BugcheckCapability {
  constructor(
    private readonly st: XapiState,
    private readonly transport: GuestTransport,
    private readonly dom0: Dom0Access,
    private readonly lifecycle: XapiLifecycle,
  ) {}

  async bugcheck(ref: GuestRef, o: { code: number }): Promise<void> {
    const g = this.st.g(ref);
    const nmi = o.code === NMI_STOP_CODE;
    if (nmi && !this.st.cfg.dom0) throw unsupportedError(`a bugcheck with ${stopCode(o.code)} is an NMI sent from dom0 (xl trigger), and dom0 SSH is off for this host`);
    const vm = this.st.vm(g);
    if (vm?.power_state !== 'Running') throw hostError('XAPI_NOT_RUNNING', `${ref.name} is ${String(vm?.power_state ?? 'gone')}: only a running guest can bugcheck`);
    const ssh = await this.transport.ssh(g);
    const refusal = crashControlRefusal(ref.name, await readCrashControl(ssh), nmi ? 'nmi' : 'notmyfault');
    if (refusal) throw guestError('GUEST_CRASH_CONTROL', refusal);
    const before = num(vm.domid);
    this.st.emit(g, 'bugcheck', { code: stopCode(o.code), ...(STOP_NAMES[o.code] ? { name: STOP_NAMES[o.code] } : {}), how: nmi ? 'nmi (xl trigger in dom0)' : 'notmyfault /bugcheck' });
    await this.st.ours(g, async () => {
      const down = this.downAndBack(g, before);
      down.catch(() => undefined); // awaited below; a refused command ends the step first
      if (nmi) await this.nmi(g, before);
      else await Promise.race([startBugcheck(ssh, ref.name, o.code).then(() => down), down]);
      await down;
    });
    this.st.emit(g, 'rebooted', { reason: `bugcheck ${stopCode(o.code)}` });
    await this.lifecycle.collectCrashDump(g, { restart: false });
  }

  /** dom0's `xl trigger <domid> nmi` on the host the guest runs on. */
  private async nmi(g: XGuest, domid: number): Promise<void> {
    const r = await (await this.dom0.connection()).exec(['xl', 'trigger', String(domid), 'nmi'], { timeoutMs: 60_000 });
    if (r.code !== 0) throw hostError('XAPI_NMI_FAILED', `xl trigger ${domid} nmi in dom0 failed (exit ${r.code}): ${r.stderr.trim().split('\n')[0] ?? ''}`);
  }

  /** Until the guest is back in a new domain: restarted by Windows, or (a domain XAPI preserved
   *  paused after the guest reported its crash) restarted by us. */
  private async downAndBack(g: XGuest, before: number): Promise<void> {
    const t = this.st.cfg.timeouts.bootMs;
    const state = await this.st.s.waitFor(`${g.ref.name} to go down after the bugcheck`, t, () => {
      const v = this.st.vm(g);
      if (!v) return 'gone';
      if (v.power_state === 'Paused') return 'paused';
      if (v.power_state === 'Halted') return 'halted';
      return v.power_state === 'Running' && num(v.domid) !== before ? 'restarted' : undefined;
    });
    if (state === 'gone' || state === 'halted') throw guestError('GUEST_HALTED', `${g.ref.name} ${state === 'gone' ? 'was destroyed' : 'halted'} after the bugcheck instead of restarting`);
    if (state === 'paused') await this.st.s.callAsync('VM.hard_reboot', g.vm);
    await this.transport.waitBooted(g);
  }
}
