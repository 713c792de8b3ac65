// Grouping of ring observations by ring (guest, device, queue, ring name) for the ring checks.
import type { RingIoEvent, RingSampleEvent } from '../model/trace';

export const ringKey = (e: RingSampleEvent | RingIoEvent) => `${e.guest} ${e.dev} q${e.queue} ${e.ring}`;

/** Wrapping u32 difference a - b, as ring.h computes it. */
export const u32diff = (a: number, b: number) => (a - b) >>> 0;
