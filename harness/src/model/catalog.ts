// The fixed vocabulary shared by scenarios, the simulator, the checks and the tests:
// host capabilities, injectable faults and checks. Each fault names the check that must catch it;
// harness/test proves every pair.

/** Optional powers of a host backend; a scenario that needs one the host lacks is skipped with the reason. */
export const CAPABILITIES = {
  hotplug: 'attach and detach VBDs and VIFs on a running guest',
  suspend: 'suspend a guest and resume it (in the same domain on the simulator; on XenAPI VM.resume builds a new domain from the suspend image)',
  'save-restore': 'save a guest to a file and restore it',
  migrate: 'move a running guest (to another host, or to a new domid on the same one)',
  snapshot: 'snapshot a guest and revert to the snapshot',
  'backend-control': 'restart a backend or force its XenbusState',
  'backend-keys': "set a device's backend keys from the scenario before the frontend connects (a backend offering fewer features)",
  'destination-backend-keys': "give a migrated, restored or resumed guest backends whose keys the scenario names (a destination offering fewer features)",
  'fault-injection': 'inject named faults of FAULTS (the simulator all of them, real hosts those they can have: FaultCapability.supported)',
  'ring-ids': 'observe request and response ids on the shared rings',
  'grant-audit': 'observe the grant table (who granted and mapped what)',
  'windows-guest': 'boot Windows guests and install the PV driver packages',
  'vendor-installer': "install the drivers with the bundle's vendor installer (.msi) on Windows guests",
  'driver-verifier': 'switch Driver Verifier on for the installed drivers of Windows guests and read back what it checks',
  'linux-guest': 'boot Linux guests as reference frontends',
  'xeniface-store': "send xenstore requests from inside a Windows guest through xeniface's store IOCTLs (the interface guest agents use)",
  balloon: "start a guest with its memory target below its static maximum and report the memory the domain holds (memory trace events)",
  'guest-bugcheck': 'bugcheck a Windows guest on purpose (a BSOD with a given stop code), let it write its crash dump through its PV disk driver, restart, and collect the dump into the report',
  'guest-agent': "run the XenServer guest agent in Windows guests (the management agent service that reports data/*, attr/os and control/feature-* keys through xeniface)",
  'driver-uninstall': "uninstall the PV driver packages from a Windows guest (pnputil /delete-driver /uninstall, or the vendor installer's uninstall)",
  'driver-staging': 'stage driver packages the way an OS update does (driver store + PnP install onto the devices, no reboot of its own) and report each driver\'s state',
  'nic-settings': "give a guest NIC static IPv4/IPv6 addresses, DNS servers and an MTU (netsh/NetTCPIP), and report every interface's settings with the driver status",
  'platform-device': "choose the Xen platform PCI device a guest gets (device_id 0001 or 0002, XenServer's vendor device C000)",
  'disk-backend': "serve each disk with the backend the scenario names: Linux blkback (`backend/vbd`) or tapdisk3 behind tapback (`backend/vbd3`, XenServer's)",
  'vendor-packages': "install another vendor's driver packages (`builtin:<version>@<vendor>`: the simulator's models of other vendors' Xen tools; on a pool the real tools its config names, HostEntry.bundles) and remove one vendor's packages alone",
} as const;
export type Capability = keyof typeof CAPABILITIES;

export interface CheckInfo {
  summary: string;
  /** Capability a host needs for this check to be meaningful; without it the check is skipped. */
  needs?: Capability;
  /** Judged only where a scenario names it in <checks> (it needs more than the trace of one run). */
  optIn?: boolean;
}

/** The checks. They read only the trace and the driver specs. */
export const CHECKS = {
  'xenbus-transitions': { summary: 'every XenbusState transition of frontends and backends is one the spec allows, in the right order relative to the other end' },
  'xenstore-keys': { summary: 'required keys are present with valid values before each state, as the spec says' },
  'devices-connected': { summary: 'every device reaches Connected on both ends (initially and after each reconnect) within the limit' },
  'ring-invariants': { summary: 'at every ring sample rsp_prod <= req_prod and at most nr_ents requests outstanding' },
  'ring-progress': { summary: 'no ring is STUCK: outstanding work with no index moving over an interval (xen-ringwatch BUSY/IDLE/STUCK)' },
  'ring-responses': { summary: 'every request is answered exactly once, with an id that was requested', needs: 'ring-ids' },
  grants: { summary: 'no grant left after close, none ended while still mapped', needs: 'grant-audit' },
  workload: { summary: 'zero I/O errors, data verified, throughput at least baseline minus tolerance, latency percentiles under limits' },
  'guest-alive': { summary: 'no guest crashed, rebooted or halted unexpectedly' },
  'drivers-bound': { summary: 'the expected drivers bound at the expected versions and the emulated devices were unplugged' },
  'guest-keys': { summary: 'guest-level keys (drivers/<N>, control/feature-suspend, ...) present, and present again after each resume' },
  regression: { summary: "each workload figure and lifecycle timing is no significantly worse than the same scenario's history (results store) beyond the tolerance", optIn: true },
  'nic-settings': { summary: "a NIC given static addresses, DNS servers and an MTU keeps them on the interface of its MAC across every later driver change while a PV network driver runs it", needs: 'nic-settings' },
  balloon: { summary: "a guest whose memory target is below its static maximum balloons down to the target within the limit once xenbus is bound, and stays there (under I/O too) while the target holds", needs: 'balloon' },
  'crash-dump': { summary: 'every bugcheck a scenario causes leaves a crash dump the host collected (size, stop code matching the bugcheck), and the dump path sent the backend no cache flush or barrier it did not advertise (blkif.h)', needs: 'guest-bugcheck' },
  'guest-metrics': { summary: "the keys the guest reports to the toolstack (xapi's guest metrics: data/*, attr/os, attr/PVAddons, attr/vif, control/feature-*) are reported again within the limit after every migration, restore and resume" },
} as const satisfies Record<string, CheckInfo>;
export type CheckName = keyof typeof CHECKS;

export interface FaultInfo {
  summary: string;
  /** The check that must report `not ok` when this fault is injected. */
  caughtBy: CheckName;
}

/** Faults the simulated host can inject; each is switched on by name from a scenario. */
export const FAULTS = {
  'missed-notify': { summary: 'the backend pushes responses without notifying the event channel', caughtBy: 'ring-progress' },
  'lost-wakeup': { summary: 'the backend skips the final check for more work (req_event not re-armed)', caughtBy: 'ring-progress' },
  'backend-stall': { summary: 'the backend stops consuming requests', caughtBy: 'ring-progress' },
  'unknown-response-id': { summary: 'the backend answers with an id that was never requested', caughtBy: 'ring-responses' },
  'duplicate-response': { summary: 'the backend answers one request twice', caughtBy: 'ring-responses' },
  'ring-overrun': { summary: 'the frontend produces more than nr_ents outstanding requests', caughtBy: 'ring-invariants' },
  'grant-leak': { summary: 'the frontend does not end its grants after the device closes', caughtBy: 'grants' },
  'connect-unwind-leak': { summary: 'the frontend does not unwind a connect its backend abandoned (device removed mid-negotiation): its ring grants stay granted', caughtBy: 'grants' },
  'grant-revoke-mapped': { summary: 'the frontend ends a grant the backend still has mapped', caughtBy: 'grants' },
  'skip-state': { summary: 'the frontend skips a XenbusState (Initialising straight to Connected)', caughtBy: 'xenbus-transitions' },
  'early-connect': { summary: 'the frontend writes Initialised/Connected before the backend reached InitWait', caughtBy: 'xenbus-transitions' },
  'close-no-wait': { summary: 'the frontend writes Closed straight after Closing (and Initialising straight after Closed when it reconnects) without waiting for the backend to follow', caughtBy: 'xenbus-transitions' },
  'missing-key': { summary: 'the frontend omits a required key (ring-ref / tx-ring-ref)', caughtBy: 'xenstore-keys' },
  'malformed-key': { summary: 'the frontend writes a required key with an invalid value (ring-page-order out of range)', caughtBy: 'xenstore-keys' },
  'wrong-protocol': { summary: 'the frontend writes protocol=x86_32-abi on a 64-bit guest', caughtBy: 'xenstore-keys' },
  'eagain-storm': { summary: 'every transaction commit answers EAGAIN for a while; a frontend that gives up never connects', caughtBy: 'devices-connected' },
  'watch-drop': { summary: 'xenstore drops the watch event for the backend state change', caughtBy: 'devices-connected' },
  'watch-delay': { summary: 'xenstore delays watch events beyond the connect limit', caughtBy: 'devices-connected' },
  'backend-closing': { summary: 'the backend is forced to Closing during I/O', caughtBy: 'workload' },
  'surprise-unplug': { summary: 'the device is removed with no Closing handshake while requests are in flight', caughtBy: 'ring-responses' },
  'suspend-inflight': { summary: 'the guest is suspended with requests in flight and they are lost', caughtBy: 'ring-responses' },
  'slow-backend': { summary: 'the backend answers with latency spikes', caughtBy: 'workload' },
  'guest-crash': { summary: 'the guest crashes', caughtBy: 'guest-alive' },
  'revision-mismatch': { summary: 'the installed child driver binds a revision the installed xenbus does not advertise', caughtBy: 'drivers-bound' },
  'no-unplug': { summary: 'the guest does not unplug the emulated devices', caughtBy: 'drivers-bound' },
  'vif-rescan-lost': { summary: 'once its last VIF is removed the guest stops enumerating device/vif: a VIF added later never connects', caughtBy: 'devices-connected' },
  'feature-suspend-lost': { summary: 'the guest does not rewrite control/feature-suspend after resume', caughtBy: 'guest-keys' },
  'balloon-initial-target-ignored': { summary: 'xenbus acts only on changes of memory/target, not on the target the guest booted with: the balloon never inflates', caughtBy: 'balloon' },
  'xeniface-no-length-check': { summary: "xeniface passes store requests of any length to xenbus: one over XENSTORE_PAYLOAD_MAX reaches xenstored, which drops the guest's connection", caughtBy: 'guest-alive' },
  'dump-flush-unadvertised': { summary: "xenvbd's crash-dump path sends SYNCHRONIZE_CACHE to the backend as BLKIF_OP_FLUSH_DISKCACHE whatever the backend advertised, instead of completing it in the guest when the backend offers neither feature-barrier nor feature-flush-cache", caughtBy: 'crash-dump' },
  'flush-unadvertised': { summary: "xenvbd sends every SYNCHRONIZE_CACHE as BLKIF_OP_FLUSH_DISKCACHE without reading feature-flush-cache (a driver written against blkback): tapdisk3, which offers only feature-barrier, answers BLKIF_RSP_EOPNOTSUPP and the flushes fail", caughtBy: 'workload' },
  'agent-resume-lost': { summary: "the guest agent does not report its keys again after a resume (it misses xeniface's suspend event): after a migration xapi's guest metrics lose the OS, the agent's features and its data/* keys", caughtBy: 'guest-metrics' },
  'stale-backend-features': { summary: 'after a resume, restore or migration the frontends reuse the backend features negotiated before instead of reading the new backend\'s', caughtBy: 'xenstore-keys' },
  'uninstall-leaves-filter': { summary: "uninstalling xenbus leaves XENFILT in the System and HDC classes' UpperFilters with its driver gone: the disk controller's stack cannot start and Windows stops with INACCESSIBLE_BOOT_DEVICE", caughtBy: 'guest-alive' },
  'reboot-request-lost': { summary: 'a child driver that cannot start before a reboot (xenvif, xenvbd waiting for their unplug) does not ask the monitor for that reboot: nothing completes the install', caughtBy: 'drivers-bound' },
  'nic-settings-not-copied': { summary: "xenvif does not copy the saved network settings (Tcpip/Tcpip6 interface values, NSI addresses) onto a NIC whose interface GUID changed: the NIC loses its static addresses, DNS servers and MTU", caughtBy: 'nic-settings' },
} as const satisfies Record<string, FaultInfo>;
export type FaultName = keyof typeof FAULTS;

export const isFaultName = (s: string): s is FaultName => Object.hasOwn(FAULTS, s);

/**
 * What `backend-restart` does on a host: one documented thing per kind, recorded in the trace with
 * each restart, because the kinds test different things and a result means only what its kind did.
 * - `replug`: the toolstack unplugs and plugs the device (XenAPI VBD/VIF.unplug then .plug). The
 *   backend goes Closing and the guest is asked to let go (Windows may refuse: DEVICE_DETACH_REJECTED),
 *   both xenstore directories are removed, and a new device for the same devid, disk or network is
 *   created, which the frontend connects to from Initialising.
 * - `rebind`: the backend's instance in dom0 is unbound from its kernel driver and bound again (sysfs
 *   unbind/bind of blkback or netback). The guest is not asked, the directories stay; the backend
 *   goes Closed and probes again to InitWait under the connected frontend. Only kernel backends
 *   (vbd, vif) have a driver to rebind: tapdisk3 (vbd3) and qdisk are refused as unsupported.
 * - `reprobe`: the simulator's backend is forced Closing, waits (bounded) for the frontend to close
 *   without a way to refuse, goes Closed, and a fresh backend probes to InitWait on the same
 *   directories, the frontend starting over at Initialising.
 */
export const BACKEND_RESTART_KINDS = ['replug', 'rebind', 'reprobe'] as const;
export type BackendRestartKind = (typeof BACKEND_RESTART_KINDS)[number];

export const BACKEND_RESTART_MEANS: Readonly<Record<BackendRestartKind, string>> = {
  replug: 'toolstack unplug and plug: the guest is asked to let go, both directories are removed and a new device is created',
  rebind: 'backend driver unbound and bound in dom0: the guest is not asked, the directories stay, the backend probes again',
  reprobe: 'backend forced Closing, then Closed once the frontend closed, and a fresh backend probes on the same directories',
};
