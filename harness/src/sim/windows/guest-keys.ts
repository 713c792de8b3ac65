// What the bound drivers of a Windows guest write into its xenstore home beside their devices: each
// driver's drivers/<N> record and the guest keys its spec lists (the spec decides what a driver writes).
import type { DriverName, SpecSet } from '../../model/spec';
import { matchKey } from '../../model/spec-eval';
import type { Domain } from '../hypervisor';

export class GuestKeys {
  /** The drivers/<N> index each driver took this boot. */
  private driverIndex = new Map<DriverName, number>();

  /** `dom` is the guest's domain now (a restore moves it into a new one). */
  constructor(
    private readonly dom: () => Domain,
    private readonly specs: SpecSet,
  ) {}

  /** drivers/<N>: "<vendor, non-alphanumerics as _> <DRIVER> <version>", at the first free index. */
  async writeDriverKey(driver: DriverName, version: string): Promise<void> {
    const dom = this.dom();
    const spec = this.specs.get(driver);
    if (!spec || !matchKey(spec.guestKeys, 'guest', 'drivers/0')) return;
    let n = this.driverIndex.get(driver);
    if (n === undefined) {
      const used = new Set(await dom.xs.directory(`${dom.home}/drivers`));
      n = 0;
      while (used.has(String(n)) || [...this.driverIndex.values()].includes(n)) n++;
      this.driverIndex.set(driver, n);
    }
    const vendor = (spec.identity.vendorPrefixes[0]?.vendor ?? 'Xen Project').replace(/[^A-Za-z0-9]/g, '_');
    await dom.xs.write(`${dom.home}/drivers/${n}`, `${vendor} ${driver.toUpperCase()} ${version}`);
  }

  /** Writes a guest key if the driver's spec lists it. */
  async writeGuestKey(driver: DriverName, rel: string, value: string): Promise<void> {
    const dom = this.dom();
    const spec = this.specs.get(driver);
    if (!spec || !matchKey(spec.guestKeys, 'guest', rel)) return;
    await dom.xs.write(`${dom.home}/${rel}`, value);
  }

  /** Each driver removes its drivers/<N> record as it stops (an orderly shutdown). */
  async removeDriverKeys(): Promise<void> {
    const dom = this.dom();
    for (const n of this.driverIndex.values()) await dom.xs.rm(`${dom.home}/drivers/${n}`);
    this.driverIndex.clear();
  }

  /** The drivers are gone without removing anything (a crash, a move into a new domain). */
  forget(): void {
    this.driverIndex.clear();
  }
}
