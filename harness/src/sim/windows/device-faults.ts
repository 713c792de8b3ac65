// The fault switches of a Windows guest's frontends, per device and for every device ('*'), as the
// fault injector sets them (hosts/sim/faults.ts): a frontend runs with its device's switches merged
// with the guest-wide ones, and a frontend created later (hot-plug, the next boot) gets them too.
import type { DeviceRef } from '../../model/scenario';
import { noFrontendFaults, type FrontendFaults } from '../faults';

export class DeviceFaults {
  private byDevice = new Map<DeviceRef | '*', FrontendFaults>();

  /** The switches of one device, or of every device ('*'), made on first use (all off). */
  switches(dev: DeviceRef | '*'): FrontendFaults {
    let f = this.byDevice.get(dev);
    if (!f) this.byDevice.set(dev, (f = noFrontendFaults()));
    return f;
  }

  /** What a device's frontend runs with: its own switches and the guest-wide ones (either on is on;
   *  the shorter retry limit wins; a value set for the device beats the guest-wide one). */
  effective(dev: DeviceRef): FrontendFaults {
    const all = this.byDevice.get('*');
    const one = this.byDevice.get(dev);
    if (!all) return one ?? noFrontendFaults();
    if (!one) return all;
    const merged = noFrontendFaults();
    for (const k of Object.keys(merged) as (keyof FrontendFaults)[]) {
      const a = all[k];
      const b = one[k];
      (merged as unknown as Record<string, unknown>)[k] = typeof a === 'boolean' ? a || b : k === 'maxTxRetries' ? Math.min(a as number, b as number) : (b || a);
    }
    return merged;
  }
}
