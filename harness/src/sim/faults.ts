// Fault switches the injector flips. Backend faults live on each backend (backend/xenbus-backend.ts);
// these are the guest-side ones, per device or per guest. Each is documented in hosts/sim/faults.ts
// with the trace symptom it produces.

export interface FrontendFaults {
  /** skip-state: go from Initialising straight to Connected. */
  skipState: boolean;
  /** early-connect: write keys and Initialised/Connected without waiting for the backend's InitWait. */
  earlyConnect: boolean;
  /** close-no-wait: write each state of a close or reconnect without waiting for the backend's (the
   *  drivers wait for each backend change: win-xenvif/win-xenvbd frontend.c FrontendClose). */
  closeNoWait: boolean;
  /** missing-key: omit these keys (default: the ring reference keys). */
  missingKeys: RegExp | null;
  /** malformed-key: write this key with an invalid value. */
  malformedKey: { key: RegExp; value: string } | null;
  /** wrong-protocol: protocol=x86_32-abi. */
  wrongProtocol: boolean;
  /** ring-overrun: produce this many requests beyond a full ring. */
  overrun: number;
  /** grant-leak: do not end grants when the device closes. */
  grantLeak: boolean;
  /** grant-revoke-mapped: end grants before the backend has unmapped them. */
  revokeMapped: boolean;
  /** connect-unwind-leak: when the backend goes away before it reached Connected (the device is removed
   *  while the frontend (re)negotiates), keep the rings and grants the abandoned connect had set up. */
  connectUnwindLeak: boolean;
  /** suspend-inflight: suspend without draining, dropping requests in flight. */
  suspendInflight: boolean;
  /** stale-backend-features: after a resume, restore or migration, reuse the backend features negotiated before. */
  staleBackendFeatures: boolean;
  /** flush-unadvertised: send cache flushes as BLKIF_OP_FLUSH_DISKCACHE whatever the backend advertised. */
  flushUnadvertised: boolean;
  /** Transaction retries before a frontend gives up (eagain-storm makes a short-tempered frontend visible). */
  maxTxRetries: number;
}

export const noFrontendFaults = (): FrontendFaults => ({
  skipState: false, earlyConnect: false, closeNoWait: false, missingKeys: null, malformedKey: null, wrongProtocol: false, overrun: 0,
  grantLeak: false, revokeMapped: false, connectUnwindLeak: false, suspendInflight: false, staleBackendFeatures: false, flushUnadvertised: false, maxTxRetries: 16,
});

export interface GuestFaults {
  /** revision-mismatch: child drivers bind a revision xenbus does not advertise. */
  revisionMismatch: boolean;
  /** no-unplug: skip the emulated-device unplug handshake. */
  noUnplug: boolean;
  /** feature-suspend-lost: do not rewrite control/feature-suspend after resume. */
  featureSuspendLost: boolean;
  /** vif-rescan-lost: the xenvif FDO stops watching device/vif once its last VIF is gone (until the next boot). */
  vifRescanLost: boolean;
  /** balloon-initial-target-ignored: xenbus's balloon drops the event its memory/target watch fires at registration. */
  ignoreInitialTarget: boolean;
  /** xeniface-no-length-check: xeniface's store IOCTLs pass requests of any length on to xenstore. */
  noLengthCheck: boolean;
  /** dump-flush-unadvertised: xenvbd's crash-dump path sends BLKIF_OP_FLUSH_DISKCACHE whatever the backend advertised. */
  dumpFlushUnadvertised: boolean;
  /** agent-resume-lost: xeniface does not signal the resume to the guest agents. */
  agentResumeLost: boolean;
  /** uninstall-leaves-filter: removing xenbus leaves XENFILT in the System/HDC classes' UpperFilters. */
  uninstallLeavesFilter: boolean;
  /** reboot-request-lost: a child driver refusing to start until a reboot does not write the monitor's Request key. */
  rebootRequestLost: boolean;
  /** nic-settings-not-copied: xenvif's SettingsRestore does not copy the saved settings to a new interface GUID. */
  nicSettingsNotCopied: boolean;
}

export const noGuestFaults = (): GuestFaults => ({ revisionMismatch: false, noUnplug: false, featureSuspendLost: false, vifRescanLost: false, ignoreInitialTarget: false, noLengthCheck: false, dumpFlushUnadvertised: false, agentResumeLost: false, uninstallLeavesFilter: false, rebootRequestLost: false, nicSettingsNotCopied: false });

/** Applies a frontend's key faults (a key left out, a malformed value, the wrong protocol) to the
 *  connect writes its driver spec gives. */
export function applyKeyFaults(faults: FrontendFaults, writes: [string, string][]): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of writes) {
    if (faults.missingKeys?.test(k)) continue;
    let value = v;
    if (faults.malformedKey?.key.test(k)) value = faults.malformedKey.value;
    if (k === 'protocol' && faults.wrongProtocol) value = 'x86_32-abi';
    out.push([k, value]);
  }
  return out;
}
