// devices-connected: each time a device frontend appears or re-initialises (an "episode"), both
// ends reach Connected within the limit. An episode still unconnected when the scenario's steps end
// fails; one closed or removed before the limit was deliberately torn down and is not judged, and
// neither is one left waiting after the run uninstalled the PV drivers that would have connected it.
import { XenbusState } from '../model/xenbus';
import type { CheckResult } from '../model/result';
import type { DriversEvent } from '../model/trace';
import { Findings } from './findings';
import { walkStates } from './devices';
import { devName, numParam, type InstanceView } from './view';

interface Episode {
  domid: number;
  type: string;
  start: number;
  seq: number;
  path: string;
  label: string;
  guest: string;
  backendDir: string;
  connectedAt?: number;
}

export function devicesConnected(v: InstanceView, params: Record<string, string>): CheckResult {
  const f = new Findings('devices-connected');
  const limit = numParam(params, 'limitMs', 30000);
  const open = new Map<string, Episode>(); // frontend dir -> episode
  let episodes = 0;
  const horizon = v.events.find((e) => e.ev === 'scenario.end')?.t ?? v.end;
  const judge = (ep: Episode, endedAt: number, stillOpen: boolean) => {
    if (ep.connectedAt !== undefined) {
      if (ep.connectedAt - ep.start > limit) {
        f.fail(`${ep.label}: Connected after ${Math.round(ep.connectedAt - ep.start)} ms, limit ${limit} ms`, {
          path: ep.path, at: ep.connectedAt, seq: ep.seq, expected: `both ends Connected within ${limit} ms`, observed: `${Math.round(ep.connectedAt - ep.start)} ms`,
        });
      }
      return;
    }
    if (stillOpen || endedAt - ep.start >= limit) {
      f.fail(`${ep.label}: never reached Connected on both ends${stillOpen ? ' before the scenario ended' : ''}`, {
        path: ep.path, at: ep.start, seq: ep.seq, expected: `both ends Connected within ${limit} ms`, observed: 'not connected',
      });
    }
  };
  walkStates(v, (c, replay) => {
    if (c.e.t > horizon) return;
    if (c.side === 'frontend') {
      const ep = open.get(c.frontendDir);
      if (c.to === null || c.to === XenbusState.Closing || c.to === XenbusState.Closed) {
        if (ep) judge(ep, c.e.t, false);
        open.delete(c.frontendDir);
        return;
      }
      if (c.to === XenbusState.Initialising && (c.from !== XenbusState.Initialising || !ep)) {
        if (ep) judge(ep, c.e.t, false);
        episodes++;
        open.set(c.frontendDir, { domid: c.domid, type: c.type, start: c.e.t, seq: c.e.seq, path: c.e.path, label: `${c.guest} ${devName(c.type, c.devid)}`, guest: c.guest, backendDir: c.backendDir });
      } else if (!ep && c.from === undefined) {
        // first seen past Initialising (probe attached late): judge from here
        episodes++;
        open.set(c.frontendDir, { domid: c.domid, type: c.type, start: c.e.t, seq: c.e.seq, path: c.e.path, label: `${c.guest} ${devName(c.type, c.devid)}`, guest: c.guest, backendDir: c.backendDir });
      }
    }
    // after any state change, see whether an open episode of this device is now connected on both ends
    const ep = open.get(c.frontendDir);
    if (ep && ep.connectedAt === undefined) {
      const fs = replay.get(`${c.frontendDir}/state`);
      const bs = replay.get(`${c.backendDir}/state`);
      if (fs === String(XenbusState.Connected) && bs === String(XenbusState.Connected)) ep.connectedAt = c.e.t;
    }
  });
  // the domid a guest had last at time t: devices of a domain the guest left (saved, migrated) end there
  const latestDomid = (guest: string, t: number) => [...(v.guests.get(guest)?.domids ?? [])].filter((d) => d.from <= t).pop()?.domid;
  for (const ep of open.values()) {
    // a crashed guest's devices are guest-alive's business
    if (v.guests.get(ep.guest)?.crashedAt !== undefined) continue;
    const current = latestDomid(ep.guest, horizon);
    if (current !== undefined && current !== ep.domid) continue;
    if (driversRemoved(v, ep.guest, ep.type, horizon)) continue;
    judge(ep, horizon, ep.connectedAt === undefined);
  }
  return f.result(`${episodes} connect episode${episodes === 1 ? '' : 's'}, each Connected on both ends within ${limit} ms`);
}

/** The frontend driver of each device type (Windows' PV drivers). */
const FRONTEND_DRIVER: Record<string, string> = { vbd: 'xenvbd', vbd3: 'xenvbd', vif: 'xenvif' };

/** Whether the run uninstalled the guest's PV drivers and its last report before `t` has no frontend
 *  driver for devices of `type`: the guest then boots on its emulated devices, and its PV devices wait in
 *  Initialising, as the toolstack built them, for a driver that is not there. On xl and xapi, whose
 *  reboot builds a new domain, such a device never connects; that is drivers-bound's business (the
 *  uninstall's verdict), not a connect that failed. */
function driversRemoved(v: InstanceView, guest: string, type: string, t: number): boolean {
  let last: DriversEvent | undefined;
  for (const e of v.events) if (e.ev === 'drivers' && e.guest === guest && e.t <= t) last = e;
  if (!last?.expected?.removed) return false;
  const driver = FRONTEND_DRIVER[type];
  return driver !== undefined && !last.bound.some((b) => b.driver.toLowerCase() === driver);
}
