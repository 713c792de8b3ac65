// An instance's metrics from its trace events: what the results store records and what the
// regression check judges, computed one way. A fold over the events in trace order, so a live run
// can take them as they stream (results/record.ts RunRecordDigest) and a trace file all at once.
import type { MetricValue } from './results';
import type { TraceEvent } from './trace';

/** Workload figures per device (`xvda.iops`, `vif0.mbps`, `xvda.lat.p99`) and lifecycle timings (`time.<step kind>` in ms, summed per kind; `time.connect`: start to the first drivers report; `time.install-reboot`: the driver install's reboots, summed). */
export function metricsOf(events: readonly TraceEvent[]): MetricValue[] {
  const fold = new MetricsFold();
  for (const e of events) fold.add(e);
  return fold.values();
}

/** metricsOf, one event at a time. */
export class MetricsFold {
  private readonly out = new Map<string, MetricValue>();
  private readonly starts = new Map<string, { t: number; kind: string }>();
  private readonly down = new Map<string, number>();
  private t0: number | undefined;
  private connectedAt: number | undefined;

  private put(name: string, value: number, unit: string, better: MetricValue['better']): void {
    if (!Number.isFinite(value)) return;
    const m = this.out.get(name);
    if (m) m.value += value; // a second workload or step of the same kind adds up
    else this.out.set(name, { name, value, unit, better });
  }

  add(e: TraceEvent): void {
    if (e.ev === 'scenario.start') this.t0 = e.t;
    else if (e.ev === 'workload') {
      const r = e.result;
      if (r.kind === 'block') {
        this.put(`${e.dev}.iops`, r.iops, 'IOPS', 'higher');
        this.put(`${e.dev}.mbps`, r.mbps, 'MB/s', 'higher');
        for (const [p, v] of Object.entries(r.latencyMs)) this.put(`${e.dev}.lat.p${p}`, v, 'ms', 'lower');
      } else {
        this.put(`${e.dev}.mbps`, r.mbps, 'Mbit/s', 'higher');
      }
    } else if (e.ev === 'step.start') this.starts.set(e.step, { t: e.t, kind: e.kind });
    else if (e.ev === 'step.end') {
      const s = this.starts.get(e.step);
      if (s && e.ok !== false) this.put(`time.${s.kind}`, e.t - s.t, 'ms', 'lower');
    } else if (e.ev === 'drivers' && this.connectedAt === undefined) this.connectedAt = e.t;
    else if (e.ev === 'guest') {
      const down = this.down;
      // each reboot of a driver install carries its own duration (hosts that loop on Windows' restarts)
      if (e.what === 'install-reboot' && typeof e.detail?.ms === 'number') this.put('time.install-reboot', e.detail.ms, 'ms', 'lower');
      // downtime: suspended/migrating -> resumed/migrated/restored
      else if (e.what === 'suspending' || e.what === 'suspended' || e.what === 'saved' || e.what === 'paused') down.has(e.guest) || down.set(e.guest, e.t);
      else if ((e.what === 'resumed' || e.what === 'migrated' || e.what === 'restored' || e.what === 'unpaused') && down.has(e.guest)) {
        this.put(`time.downtime.${e.what}`, e.t - down.get(e.guest)!, 'ms', 'lower');
        down.delete(e.guest);
      }
    }
  }

  /** The metrics of the events so far (the fold itself is not changed). */
  values(): MetricValue[] {
    const out = new Map([...this.out].map(([k, m]) => [k, { ...m }]));
    if (this.t0 !== undefined && this.connectedAt !== undefined) {
      const v = this.connectedAt - this.t0;
      if (Number.isFinite(v)) {
        const m = out.get('time.connect');
        if (m) m.value += v;
        else out.set('time.connect', { name: 'time.connect', value: v, unit: 'ms', better: 'lower' });
      }
    }
    return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
