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

export const xenbusStateName = (n: number): string =>
  (Object.keys(XenbusState) as XenbusStateName[]).find((k) => XenbusState[k] === n) ?? `invalid(${n})`;

