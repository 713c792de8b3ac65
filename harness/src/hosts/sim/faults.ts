// Fault injection on the simulated host. Every fault of FAULTS (model/catalog.ts) is implemented
// here by flipping a switch in the real component that would misbehave, so the symptom appears in
// the trace the way it would on real Xen. `FAULT_SYMPTOMS` documents what each one leaves in the
// trace and which check sees it.
import { FAULTS, type FaultName } from '../../model/catalog';
import type { GuestRef } from '../../model/host';
import type { DeviceRef, FaultConfig } from '../../model/scenario';
import { XenbusState } from '../../model/xenbus';
import { hostError, inputError } from '../../model/errors';
import type { XenbusBackend } from '../../sim/backend/xenbus-backend';
import { Xenvbd } from '../../sim/frontend/xenvbd';
import type { FrontendFaults, GuestFaults } from '../../sim/faults';
import type { FaultTarget, SimGuest } from './sim-guest';

/** What each fault does on the simulator and the trace symptom the check named in FAULTS catches. */
export const FAULT_SYMPTOMS: Record<FaultName, string> = {
  'missed-notify': 'backends push responses without notifying: rsp_prod moves, rsp_cons stays behind and the ring stops (ring-progress STUCK) until the frontend\'s 30 s timeout polls the ring',
  'lost-wakeup': 'backends skip RING_FINAL_CHECK_FOR_REQUESTS: req_event is not re-armed, the frontend stops notifying, req_prod runs ahead of req_cons and nothing moves (ring-progress STUCK)',
  'backend-stall': 'backends stop consuming: requests stay outstanding and no index moves (ring-progress STUCK)',
  'unknown-response-id': 'the next response (params.count, default 1) carries an id + 2^30 that was never requested, and the real request is never answered (ring.io rsp with an unknown id: ring-responses)',
  'duplicate-response': 'a response is written twice, its copy taking the slot of the next response, which is never sent (ring.io: one id answered twice, another never: ring-responses)',
  'ring-overrun': 'the frontend pushes params.extra (default 4) flush requests past a full ring: req_prod - rsp_prod > nr_ents in the ring samples (ring-invariants); blkback then stops serving the ring as Linux does',
  'grant-leak': 'frontends do not end their grants when the device closes: the device-closed grants audit lists active refs (grants)',
  'connect-unwind-leak': 'a frontend whose device is removed while it (re)negotiates (rings granted, backend not yet Connected) keeps those grants: the device-closed grants audit lists them (grants); a device removed while Connected or Closed is cleaned up as usual',
  'grant-revoke-mapped': 'frontends end their ring grants before the backend unmapped them: the audit lists them in revokedWhileMapped (grants)',
  'skip-state': 'the frontend writes Connected straight after Initialising, skipping the Initialised its spec requires (xenbus-transitions)',
  'early-connect': 'the frontend writes its keys and next state without waiting for the backend\'s InitWait (xenbus-transitions)',
  'close-no-wait': 'the frontend writes Closing, Closed (and Initialising when it reconnects) back to back: against a backend slower than xenstore (the lab\'s 234 ms, <timings backend-reaction>) it is Closed while the backend is still Connected (xenbus-transitions), and a backend left Closing ignores the Initialising that follows',
  'missing-key': 'the frontend omits params.key (default every *ring-ref* key) when connecting (xenstore-keys); the backend refuses to connect',
  'malformed-key': 'the frontend writes params.key (default ring-page-order) = params.value (default 9), outside the spec\'s range (xenstore-keys)',
  'wrong-protocol': 'the frontend writes protocol=x86_32-abi (xenstore-keys)',
  'eagain-storm': 'xenstored answers EAGAIN to every transaction commit of the guest while on; a frontend gives up after 16 retries and stays in Initialising (devices-connected)',
  'watch-drop': 'xenstored drops the guest\'s watch events for backend state nodes: the frontend never sees InitWait/Connected and never connects (devices-connected)',
  'watch-delay': 'xenstored holds those events for params.delayMs (default 60000) before delivering them, beyond the connect limit (devices-connected)',
  'backend-closing': 'the backend of params/device is forced to Closing during I/O: the frontend closes, in-flight and later I/O fails (workload errors)',
  'surprise-unplug': 'the device is removed with no Closing handshake: requests in flight are never answered (ring-responses)',
  'suspend-inflight': 'the guest is suspended at once without draining its rings and resumed: requests in flight are lost (ring-responses) and fail after 30 s',
  'slow-backend': 'every params.every-th (default 8) request gets params.latencyMs (default 200) extra latency: high percentiles exceed maxP99Ms (workload)',
  'guest-crash': 'the guest crashes: a `guest` crashed event, power state crashed (guest-alive)',
  'revision-mismatch': 'child drivers are taken as built for REV_0900FFFF, which xenbus does not advertise: at the next boot they stay unbound (drivers-bound)',
  'no-unplug': 'at the next boot xen.sys skips the unplug handshake: DriverStatus.unplugged is false (drivers-bound)',
  'vif-rescan-lost': 'after the guest\'s last VIF is unplugged its xenvif stops watching device/vif until the next boot: a VIF plugged later keeps its frontend in Initialising (devices-connected: never reached Connected)',
  'feature-suspend-lost': 'after a resume, restore or migration xenbus does not write control/feature-suspend again (guest-keys)',
  'balloon-initial-target-ignored': 'xenbus\'s balloon drops the event its memory/target watch fires at registration and acts only on later changes: a guest booted with its target below static-max keeps its whole memory (balloon: never reached its memory target)',
  'xeniface-no-length-check': 'xeniface\'s store IOCTLs pass a request over XENSTORE_PAYLOAD_MAX on to xenstore, which drops the guest\'s connection: a `guest` xenstore-lost event (guest-alive)',
  'dump-flush-unadvertised': 'the crash-dump path of a bugchecked guest sends its SYNCHRONIZE_CACHE as BLKIF_OP_FLUSH_DISKCACHE to a backend that advertises neither feature-barrier nor feature-flush-cache: a ring.io request with op 3 on the dump ring between the `bugcheck` event and the dump\'s artifact (crash-dump)',
  'flush-unadvertised': 'xenvbd sends its cache flushes as BLKIF_OP_FLUSH_DISKCACHE whatever the backend advertised: a tapdisk3 (vbd3) disk, which offers feature-barrier and no feature-flush-cache, answers each with BLKIF_RSP_EOPNOTSUPP (td-req.c) and the flush fails (workload: I/O errors); against blkback, which offers flushes, nothing shows',
  'agent-resume-lost': 'xeniface does not signal the resume to xenagent and the XenServer guest agent: after a migration or restore their control/feature-*, data/* and attr/os keys are not written into the new domain (guest-metrics names the missing keys)',
  'uninstall-leaves-filter': 'uninstalling xenbus leaves XENFILT in the System/HDC classes\' UpperFilters: the next boot stops with INACCESSIBLE_BOOT_DEVICE, a `guest` crashed event (guest-alive)',
  'reboot-request-lost': 'a staged xenvif or xenvbd that refuses to start until its unplug writes no xenbus_monitor Request key: its state is reboot-required with no reboot requested (drivers-bound)',
  'nic-settings-not-copied': 'xenvif\'s SettingsRestore records the new interface but copies nothing: a PV NIC with a new GUID (another vendor\'s prefix) comes up without the static addresses, DNS servers and MTU (nic-settings)',
  'stale-backend-features': 'after a resume, restore or migration the frontends answer their backend-feature reads from what they negotiated before: on a destination with a lower max-ring-page-order or fewer queues they write ring-page-order / multi-queue-num-queues above the new backend\'s maximum (xenstore-keys: the spec\'s <= backend: constraint) and blkback refuses to connect; flushes and discards the new backend does not offer reach its ring',
};

type Off = () => Promise<void>;

interface WatchRule {
  /** The guest whose domain's watch events are dropped or held: its current domain, so the fault
   *  follows the guest into the new domain a reboot, restore or migration gives it. */
  guest: SimGuest;
  action: 'drop' | 'hold';
  delayMs: number;
}

/** Planted driver-side bugs of the simulated Windows guest: each a flag of its GuestFaults, on while the fault is. */
const GUEST_FAULT_FLAGS: Partial<Record<FaultName, keyof GuestFaults>> = {
  'revision-mismatch': 'revisionMismatch',
  'no-unplug': 'noUnplug',
  'vif-rescan-lost': 'vifRescanLost',
  'balloon-initial-target-ignored': 'ignoreInitialTarget',
  'xeniface-no-length-check': 'noLengthCheck',
  'dump-flush-unadvertised': 'dumpFlushUnadvertised',
  'agent-resume-lost': 'agentResumeLost',
  'uninstall-leaves-filter': 'uninstallLeavesFilter',
  'reboot-request-lost': 'rebootRequestLost',
  'nic-settings-not-copied': 'nicSettingsNotCopied',
  'feature-suspend-lost': 'featureSuspendLost',
};

type BackendFlag = 'stall' | 'missedNotify' | 'lostWakeup';

/** Planted backend bugs: each a switch of the device's backends (every device's without one). */
const BACKEND_FAULT_FLAGS: Partial<Record<FaultName, BackendFlag>> = {
  'missed-notify': 'missedNotify',
  'lost-wakeup': 'lostWakeup',
  'backend-stall': 'stall',
};

/** The boolean switches of FrontendFaults. */
type FrontendFlag = { [K in keyof FrontendFaults]: FrontendFaults[K] extends boolean ? K : never }[keyof FrontendFaults];

/** Planted frontend bugs: each a switch of the device's frontend (every device's without one), live and future. */
const FRONTEND_FAULT_FLAGS: Partial<Record<FaultName, FrontendFlag>> = {
  'grant-leak': 'grantLeak',
  'connect-unwind-leak': 'connectUnwindLeak',
  'grant-revoke-mapped': 'revokeMapped',
  'skip-state': 'skipState',
  'early-connect': 'earlyConnect',
  'close-no-wait': 'closeNoWait',
  'wrong-protocol': 'wrongProtocol',
  'stale-backend-features': 'staleBackendFeatures',
  'flush-unadvertised': 'flushUnadvertised',
};

const nothing: Off = async () => undefined;

const escapeRegExp = (s: string) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&');

export class SimFaultInjector {
  /** Guests whose domain's transactions end in EAGAIN (the current domain: the fault follows the guest). */
  private eagainGuests = new Set<SimGuest>();
  private watchRules = new Set<WatchRule>();
  /** Host-wide faults injected with no guest: applied to guests created later too. */
  private pending: FaultConfig[] = [];

  constructor(private readonly host: FaultTarget) {}

  /** Installs the xenstored hooks (view interception, EAGAIN storms, watch faults). */
  installHooks(): void {
    const xsd = this.host.xenstored;
    xsd.hooks.beforeCommit = (domid) => {
      for (const g of this.eagainGuests) if (g.dom.domid === domid) return 'eagain';
      return 'ok';
    };
    xsd.hooks.onWatchEvent = (domid, path, token) => {
      const v = this.host.xenstore.intercept(domid, path, token);
      if (v) return v;
      if (!/\/backend\/(vbd3?|vif)\/\d+\/\d+\/state$/.test(path)) return 'deliver';
      for (const r of this.watchRules) {
        if (r.guest.dom.domid !== domid) continue;
        if (r.action === 'drop') return 'drop';
        this.host.hv.sched.after(r.delayMs * 1000, () => {
          for (const c of xsd.server.connections()) if (c.domid === domid && c.watches.some((w) => w.token === token)) c.deliverWatchEvent(path, token);
        });
        return 'hold';
      }
      return 'deliver';
    };
  }

  applyPending(g: SimGuest): void {
    for (const f of this.pending) void this.apply(f, g).catch(() => undefined);
  }

  async inject(f: FaultConfig, ref?: GuestRef): Promise<Off> {
    if (!Object.hasOwn(FAULTS, f.name)) throw inputError('FAULT_UNKNOWN', `unknown fault '${f.name}'`);
    const guests = ref ? [this.host.guest(ref)] : f.guest ? [this.host.guest({ name: f.guest, domid: 0, handle: '' })] : [...this.host.guests.values()];
    if (!ref && !f.guest) this.pending.push(f);
    const offs: Off[] = [];
    for (const g of guests) offs.push(await this.apply(f, g));
    this.host.emit({ ev: 'fault', inst: guests[0]?.inst ?? '', name: f.name, on: true, detail: { ...(f.device ? { device: f.device } : {}), ...(guests.length ? { guest: guests.map((g) => g.ref.name).join(',') } : {}), ...f.params } });
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      this.pending = this.pending.filter((p) => p !== f);
      for (const off of offs) await off();
      this.host.emit({ ev: 'fault', inst: guests[0]?.inst ?? '', name: f.name, on: false });
    };
  }

  private backends(g: SimGuest, dev?: DeviceRef): XenbusBackend[] {
    return this.host.ts().devicesOf(g.dom.domid).filter((r) => !dev || r.dev === dev).map((r) => r.backend);
  }

  /** Frontend faults for one device or every device ('*'), for live and future frontends. */
  private frontend(g: SimGuest, dev: DeviceRef | undefined, set: (f: FrontendFaults) => void, reset: (f: FrontendFaults) => void): Off {
    const f = g.win.deviceFaults(dev ?? '*');
    set(f);
    g.win.refreshFaults();
    return async () => {
      reset(f);
      g.win.refreshFaults();
    };
  }

  private num(f: FaultConfig, k: string, d: number): number {
    const v = f.params[k];
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n)) throw inputError('FAULT_PARAM', `fault ${f.name}: parameter ${k}='${v}' is not a number`);
    return n;
  }

  private async apply(f: FaultConfig, g: SimGuest): Promise<Off> {
    const guestFlag = GUEST_FAULT_FLAGS[f.name];
    if (guestFlag) {
      g.win.faults[guestFlag] = true;
      return async () => void (g.win.faults[guestFlag] = false);
    }
    const frontendFlag = FRONTEND_FAULT_FLAGS[f.name];
    if (frontendFlag) return this.frontend(g, f.device, (x) => (x[frontendFlag] = true), (x) => (x[frontendFlag] = false));
    const backendFlag = BACKEND_FAULT_FLAGS[f.name];
    if (backendFlag) return this.backendFlag(g, f.device, backendFlag);
    const other = this.others[f.name];
    // anything else is a fault this host does not list
    if (!other) throw hostError('SIM_FAULT_UNKNOWN', `the simulator has no way to inject ${f.name}`);
    return other(f, g);
  }

  /** A backend switch on for the device's backends (every device's without one) while the fault is. */
  private backendFlag(g: SimGuest, dev: DeviceRef | undefined, flag: BackendFlag): Off {
    for (const b of this.backends(g, dev)) b.faults[flag] = true;
    return async () => {
      for (const b of this.backends(g, dev)) b.faults[flag] = false;
    };
  }

  /** The faults that are more than a switch, each switched on here, returning how to switch it off. */
  private readonly others: Partial<Record<FaultName, (f: FaultConfig, g: SimGuest) => Promise<Off>>> = {
    'unknown-response-id': async (f, g) => {
      for (const b of this.backends(g, f.device)) b.faults.unknownResponseIds += this.num(f, 'count', 1);
      return nothing;
    },
    'duplicate-response': async (f, g) => {
      for (const b of this.backends(g, f.device)) b.faults.duplicateResponses += this.num(f, 'count', 1);
      return nothing;
    },
    'slow-backend': async (f, g) => {
      const bes = this.backends(g, f.device);
      for (const b of bes) {
        b.faults.spikeUs = this.num(f, 'latencyMs', 200) * 1000;
        b.faults.spikeEvery = Math.max(1, this.num(f, 'every', 8));
      }
      return async () => bes.forEach((b) => ((b.faults.spikeUs = 0), (b.faults.spikeEvery = 0)));
    },
    'ring-overrun': async (f, g) => {
      const dev = f.device;
      const fe = [...g.win.frontends.values()].find((x) => x instanceof Xenvbd && (!dev || x.dev === dev));
      if (!(fe instanceof Xenvbd)) throw hostError('SIM_FAULT_TARGET', `ring-overrun needs a connected PV disk on ${g.ref.name}`);
      fe.overrunBurst(this.num(f, 'extra', 4));
      return nothing;
    },
    'missing-key': async (f, g) => {
      const re = f.params.key ? new RegExp(`(^|/)${escapeRegExp(f.params.key)}$`) : /ring-ref/;
      return this.frontend(g, f.device, (x) => (x.missingKeys = re), (x) => (x.missingKeys = null));
    },
    'malformed-key': async (f, g) => {
      const key = new RegExp(`^${escapeRegExp(f.params.key ?? 'ring-page-order')}$`);
      return this.frontend(g, f.device, (x) => (x.malformedKey = { key, value: f.params.value ?? '9' }), (x) => (x.malformedKey = null));
    },
    'eagain-storm': async (_f, g) => {
      this.eagainGuests.add(g);
      return async () => void this.eagainGuests.delete(g);
    },
    'watch-drop': async (f, g) => this.watchRule(f, g),
    'watch-delay': async (f, g) => this.watchRule(f, g),
    'backend-closing': async (f, g) => {
      for (const b of this.backends(g, f.device)) await b.force(XenbusState.Closing);
      return nothing;
    },
    'surprise-unplug': async (f, g) => {
      const target = f.device ?? this.host.ts().devicesOf(g.dom.domid)[0]?.dev;
      if (!target) throw hostError('SIM_FAULT_TARGET', `surprise-unplug: ${g.ref.name} has no device`);
      await this.host.detachDevice(g.ref, target, true);
      return nothing;
    },
    'suspend-inflight': async (f, g) => {
      const off = this.frontend(g, f.device, (x) => (x.suspendInflight = true), (x) => (x.suspendInflight = false));
      await this.host.suspend.suspend(g.ref);
      await this.host.suspend.resume(g.ref);
      return off;
    },
    'guest-crash': async (_f, g) => {
      this.host.crash(g);
      return nothing;
    },
  };

  /** watch-drop / watch-delay: xenstored drops or holds the guest's backend state watch events while on. */
  private watchRule(f: FaultConfig, g: SimGuest): Off {
    const rule: WatchRule = { guest: g, action: f.name === 'watch-drop' ? 'drop' : 'hold', delayMs: this.num(f, 'delayMs', 60_000) };
    this.watchRules.add(rule);
    return async () => void this.watchRules.delete(rule);
  }
}
