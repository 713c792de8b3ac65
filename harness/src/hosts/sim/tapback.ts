// XenServer's disk backend, tapdisk3 behind tapback (`backend/vbd3`), as its source says it writes
// xenstore: the key events of one disk from creation to Connected and through an orderly close, in
// the form the lab's recordings of Linux's blkback take (hosts/xl/backend-keys.ts KeyEvent), so the
// same state steps and comparison apply (`winpv sim diff-lab`, sim-fidelity.test.ts). Read from
// xapi-project/blktap at 7977431 (2025), tapback/:
//  - backend.c tapback_backend_create_device: `max-ring-page-order` = MAX_RING_PAGE_ORDER (3,
//    include/xen_blkif.h) as soon as the backend directory appears (since dd6095c, CP-30739, 2019);
//  - backend.c physical_device_path_changed: `kthread-pid`, the pid of the tapdisk serving the disk,
//    once the hotplug script has written physical-device(-path);
//  - backend.c hotplug_status_changed: nothing is done before hotplug-status is `connected`; then
//    frontend.c frontend_changed runs for the frontend's current state;
//  - frontend.c frontend_changed: frontend Initialising -> state InitWait (2); Initialised or
//    Connected -> xenbus_connect: connect_tap maps the ring (ring-ref / ring-refN with
//    ring-page-order, event-channel, protocol; persistent grants refused: "not yet supported"),
//    then connect_frontend writes feature-barrier (1 unless tapback runs --nobarrier), sector-size,
//    sectors and info in one transaction, then state Connected (4) on its own; Closing -> Closing (5);
//    Closed -> backend_close: tapdisk disconnected, state Closed (6).
// It never writes feature-persistent, feature-flush-cache, feature-discard (connect_frontend's FIXME),
// feature-max-indirect-segments or multi-queue-max-queues: a Windows frontend on XenServer sees a
// single queue, no persistent grants, no indirect segments, no flush and no discard, with barriers.
import type { KeyEvent } from '../xl/backend-keys';

/** tapback's MAX_RING_PAGE_ORDER (blktap include/xen_blkif.h). */
export const TAPBACK_MAX_RING_PAGE_ORDER = 3;

/** The backend directory of one disk of `sectors` 512-byte sectors, as the toolstack (xenopsd), the
 *  hotplug script and tapback write it, with a frontend that connects one ring page and closes. */
export function tapbackKeyEvents(opts: { sectors: number; readOnly?: boolean; barrier?: boolean } = { sectors: 131072 }): KeyEvent[] {
  const be = (key: string, value: string | null): KeyEvent => ({ end: 'backend', key, value });
  const fe = (key: string, value: string | null): KeyEvent => ({ end: 'frontend', key, value });
  // xen_blkif.h / blkif.h: VDISK_READONLY 4
  const info = opts.readOnly ? 4 : 0;
  return [
    // xenopsd (xen-api ocaml/xenopsd/xc/device.ml) creates both halves, state Initialising
    be('frontend', '/local/domain/1/device/vbd/51712'), be('frontend-id', '1'), be('online', '1'), be('mode', opts.readOnly ? 'r' : 'w'),
    be('params', '/dev/sm/backend/sr/vdi'), be('state', '1'),
    fe('backend', '/local/domain/0/backend/vbd3/1/51712'), fe('backend-id', '0'), fe('device-type', 'disk'), fe('virtual-device', '51712'), fe('state', '1'),
    // tapback_backend_create_device
    be('max-ring-page-order', String(TAPBACK_MAX_RING_PAGE_ORDER)),
    // the hotplug script starts tapdisk, then tapback finds it (physical_device_path_changed)
    be('physical-device', 'fe:0'), be('physical-device-path', '/dev/xen/blktap-2/tapdev0'),
    be('kthread-pid', '4242'),
    be('hotplug-status', 'connected'),
    // hotplug_status_changed -> frontend_changed(Initialising) -> InitWait
    be('state', '2'),
    // a frontend with one ring page (win-xenvbd / Linux blkfront)
    fe('ring-ref', '8'), fe('event-channel', '10'), fe('protocol', 'x86_64-abi'), fe('state', '3'),
    // frontend_changed(Initialised) -> xenbus_connect -> connect_frontend: one transaction, then Connected
    be('feature-barrier', opts.barrier === false ? '0' : '1'), be('sector-size', '512'), be('sectors', String(opts.sectors)), be('info', String(info)),
    be('state', '4'),
    fe('state', '4'),
    // an orderly close: frontend_changed(Closing) -> Closing, frontend_changed(Closed) -> backend_close
    fe('state', '5'), be('state', '5'),
    fe('state', '6'), be('state', '6'),
  ];
}
