// XenbusState numbers, from xen/include/public/io/xenbus.h (enum xenbus_state).
export const XenbusState = {
  Unknown: 0,
  Initialising: 1,
  InitWait: 2,
  Initialised: 3,
  Connected: 4,
  Closing: 5,
  Closed: 6,
  Reconfiguring: 7,
  Reconfigured: 8,
} as const;
export type XenbusState = (typeof XenbusState)[keyof typeof XenbusState];
export type XenbusStateName = keyof typeof XenbusState;
/** The names in number order (Unknown = 0 ... Reconfigured = 8). */
export const XENBUS_STATE_NAMES = Object.keys(XenbusState) as XenbusStateName[];

export const xenbusStateName = (n: number): string =>
  XENBUS_STATE_NAMES.find((k) => XenbusState[k] === n) ?? `invalid(${n})`;

