// An instance's metrics from its trace events: what the results store records and what the
// regression check judges, computed one way.
import type { MetricValue } from './results';
import type { TraceEvent } from './trace';

/** Workload figures per device (`xvda.iops`, `vif0.mbps`, `xvda.lat.p99`) and lifecycle timings (`time.<step kind>` in ms, summed per kind; `time.connect`: start to the first drivers report; `time.install-reboot`: the driver install's reboots, summed). */
export function metricsOf(events: readonly TraceEvent[]): MetricValue[] {
  const out = new Map<string, MetricValue>();
  const put = (name: string, value: number, unit: string, better: MetricValue['better']) => {
    if (!Number.isFinite(value)) return;
    const m = out.get(name);
    if (m) m.value += value; // a second workload or step of the same kind adds up
    else out.set(name, { name, value, unit, better });
  };
  const starts = new Map<string, { t: number; kind: string }>();
  let t0: number | undefined;
  let connectedAt: number | undefined;
  const down = new Map<string, number>();
  for (const e of events) {
    if (e.ev === 'scenario.start') t0 = e.t;
    else if (e.ev === 'workload') {
      const r = e.result;
      if (r.kind === 'block') {
        put(`${e.dev}.iops`, r.iops, 'IOPS', 'higher');
        put(`${e.dev}.mbps`, r.mbps, 'MB/s', 'higher');
        for (const [p, v] of Object.entries(r.latencyMs)) put(`${e.dev}.lat.p${p}`, v, 'ms', 'lower');
      } else {
        put(`${e.dev}.mbps`, r.mbps, 'Mbit/s', 'higher');
      }
    } else if (e.ev === 'step.start') starts.set(e.step, { t: e.t, kind: e.kind });
    else if (e.ev === 'step.end') {
      const s = starts.get(e.step);
      if (s && e.ok !== false) put(`time.${s.kind}`, e.t - s.t, 'ms', 'lower');
    } else if (e.ev === 'drivers' && connectedAt === undefined) connectedAt = e.t;
    else if (e.ev === 'guest') {
      // each reboot of a driver install carries its own duration (hosts that loop on Windows' restarts)
      if (e.what === 'install-reboot' && typeof e.detail?.ms === 'number') put('time.install-reboot', e.detail.ms, 'ms', 'lower');
      // downtime: suspended/migrating -> resumed/migrated/restored
      else if (e.what === 'suspending' || e.what === 'suspended' || e.what === 'saved' || e.what === 'paused') down.has(e.guest) || down.set(e.guest, e.t);
      else if ((e.what === 'resumed' || e.what === 'migrated' || e.what === 'restored' || e.what === 'unpaused') && down.has(e.guest)) {
        put(`time.downtime.${e.what}`, e.t - down.get(e.guest)!, 'ms', 'lower');
        down.delete(e.guest);
      }
    }
  }
  if (t0 !== undefined && connectedAt !== undefined) put('time.connect', connectedAt - t0, 'ms', 'lower');
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}
