// Every duration the simulator models, in one place, each with where its value comes from. The lab
// figures are from test/fixtures/lab/timings.xen-4.17.7.linux-6.1.0-57-amd64.json, the output of
// `winpv sim lab-timings` on a CI lab trace (Xen 4.17.7, Debian dom0 6.1.0-57-amd64, a Linux PV
// reference guest of 128 MiB). The lab is Xen inside QEMU TCG: every figure there is slower than on
// hardware (and includes the xenstore probe's delivery over SSH). Where the lab's figure is an
// artifact of TCG or of its Linux guest rather than of the component modelled, the default keeps a
// modelled value and says so; a scenario sets the per-guest ones (<guest><timings .../></guest>).

/** The durations of one guest's world; the first three a scenario can set (GuestTimings). */
export interface SimTimings {
  /** How long a backend takes to act on its frontend's state change (watch fired to its own state write). */
  backendReactionMs: number;
  /** From the domain's start (or reboot) to its PV frontends starting. */
  bootToFrontendMs: number;
  /** From a restored domain built to it running again (xl restore's unpause). */
  restoreDowntimeMs: number;
}

/** Host-wide durations (one xenstored, one hypervisor): not per guest, not set by a scenario. */
export const HOST_TIMINGS = {
  /** Virtual time a xenstore reply or watch event takes to arrive: the C/O xenstored on hardware
   *  answers in tens of µs. Not measurable from a trace (the probe sees commits, not requests). */
  xsLatencyUs: 20,
  /** An event channel upcall after a notify (hardware: a few µs; not in a trace). */
  evtchnUpcallUs: 2,
  /** libxl's device remove timeout (libxl_internal.h LIBXL_DESTROY_TIMEOUT 10 s): a constant of the
   *  toolstack, not a measured duration. */
  deviceRemoveTimeoutMs: 10_000,
  /** How long a suspend may take before the host gives up (the model's bound). */
  suspendTimeoutMs: 60_000,
  /** The Windows guest agents start after the drivers bound (the model's; no Windows guest in the lab). */
  agentStartMs: 2000,
  agentResumeMs: 200,
} as const;

/** What the lab measured (the fixture's medians; test/hosts/sim-lab-timings.test.ts holds them equal),
 *  for the defaults below, the docs and `winpv sim lab-timings`. */
export const LAB_FIGURES_MS = { backendReaction: 234, bootToFrontend: 5506, hotUnplug: 1762, saveRestoreDowntime: 4444 } as const;

/** The per-guest defaults and their source. */
export const DEFAULT_TIMINGS: Readonly<SimTimings> = {
  // lab: median 234 ms (n 35, 16..21062 ms; the long ones are backends restarted by the scenario),
  // Linux's blkback/netback under TCG: from a frontend's state write to the backend's next state write.
  // The simulated frontends wait for each backend step as the win-pv drivers do (xenbus-frontend.ts
  // followPath: win-xenvif/win-xenvbd frontend.c FrontendClose, FrontendPrepare), so the catalogue
  // passes with it; a scenario sets another figure with <timings backend-reaction="..."/>.
  backendReactionMs: LAB_FIGURES_MS.backendReaction,
  // lab: median 5506 ms (n 6, 4503..16997) for a Linux PV kernel with a busybox initramfs under TCG:
  // neither Windows nor hardware. The model keeps its frontends starting at once (0 ms); a scenario
  // about boot timing sets it (<timings boot-to-frontend="..."/>).
  bootToFrontendMs: 0,
  // lab: 4444 ms (n 1) from saved to restored for 128 MiB under TCG (the memory image copied by an
  // emulated CPU). The model keeps 5 ms between the restore and the unpause; a scenario sets it.
  // A simulated migration is a save and a restore (hosts/sim/moves.ts migrateGuest), so its downtime
  // is this figure plus the frontends' reconnection. The lab has no migration figure to hold it to:
  // `winpv sim lab-timings` measures one (libxl's suspend request -> every new backend Connected) in an
  // xl trace, but a PV guest cannot live-migrate on the lab's Debian Xen 4.17.7 (built without shadow
  // paging, which PV log-dirty needs: "Failed to enable logdirty: 95,22,0"), an HVM domain's restore
  // on the receiver failed ("Failed to populate physmap (16 = Device or resource busy)"), and its HVM
  // Linux guest did not reach its PV frontends within 10 minutes under TCG. Any figure a lab under TCG
  // gives includes copying the memory by an emulated CPU (restore: 4444 ms): 5 ms stays below it.
  restoreDowntimeMs: 5,
};


/** A guest's timings: the defaults with the scenario's settings. */
export function guestTimings(set: Partial<SimTimings> = {}): SimTimings {
  return { ...DEFAULT_TIMINGS, ...set };
}
