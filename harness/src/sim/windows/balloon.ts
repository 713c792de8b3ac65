// The balloon of win-xenbus (src/xenbus/fdo.c FdoBalloon, src/xenbus/balloon.c BalloonAdjust), as the
// simulated Windows guest runs it: a thread woken by the memory/target watch (and, while an adjustment
// is unfinished, every second) reads memory/static-max less memory/videoram once, then memory/target;
// the balloon's size in pages is static-max - target; when it differs, control/balloon-active is 1
// while BalloonAdjust inflates (XENMEM_decrease_reservation) or deflates (XENMEM_populate_physmap) in
// chunks of at most one MDL's worth of pages, and 0 again when the size is reached. The domain's
// reservation falls and rises with it; `onReservation` tells the host.
import type { Domain } from '../hypervisor';

/** MAX_PAGES_PER_MDL on x64 (balloon.c BALLOON_PFN_ARRAY_SIZE): (CSHORT_MAX - sizeof (MDL) = 48) / sizeof (PFN_NUMBER). */
const BALLOON_PFN_ARRAY_SIZE = Math.floor((65535 - 48) / 8);
/** fdo.c FdoBalloon: while an adjustment is unfinished (Active) the thread wakes again after 1 s. */
const BALLOON_RETRY_MS = 1000;
/** Pages a second MmAllocatePagesForMdlEx + XENMEM_decrease_reservation manage in the model (balloon.c logs
 *  the rate of each chunk; below MIN_PAGES_PER_S = 1000 a chunk counts as slow and the adjustment stops). */
const BALLOON_PAGES_PER_S = 200_000;
const PAGE_KIB = 4;

export interface BalloonFaults {
  /** balloon-initial-target-ignored: the event a new memory/target watch fires at registration is dropped,
   *  so only later changes of the target are acted on (a target set before boot never is). */
  ignoreInitialTarget: boolean;
}

export class XenbusBalloon {
  /** Pages ballooned out of the domain. */
  size = 0;
  private staticMax?: number;
  private active = false;
  private running?: Promise<void>;
  private again = false;
  private unwatch?: () => Promise<void>;
  private stopped = true;
  private retry?: { cancel(): void };

  constructor(
    private dom: Domain,
    private readonly faults: BalloonFaults,
    private readonly onReservation: (actualKiB: number, targetKiB: number, staticMaxKiB: number) => void,
    private readonly writeKey: (rel: string, value: string) => Promise<void>,
  ) {}

  /** fdo.c FdoD3ToD0: watch memory/target, then advertise control/feature-balloon. Resolves once the
   *  first adjustment settled: FdoStartDevice waits for the balloon before the bus enumerates children. */
  async start(dom: Domain): Promise<void> {
    this.dom = dom;
    this.stopped = false;
    let first = true;
    this.unwatch = await dom.xs.watch(`${dom.home}/memory/target`, () => {
      if (first && this.faults.ignoreInitialTarget) {
        first = false;
        return;
      }
      first = false;
      dom.onCpu(() => this.wake());
    });
    await this.writeKey('control/feature-balloon', '1');
    await this.settled();
  }

  /** FdoD0ToD3: the watch goes; the balloon keeps its pages (the domain keeps its reservation). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.retry?.cancel();
    this.retry = undefined;
    await this.unwatch?.().catch(() => undefined);
    this.unwatch = undefined;
    await this.running?.catch(() => undefined);
  }

  /** The domain was rebuilt (reboot): its memory is whole again and the balloon empty. */
  reset(): void {
    this.size = 0;
    this.staticMax = undefined;
    this.active = false;
  }

  /** Resolves when no adjustment runs. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      await this.adjust();
    } while (this.again && !this.stopped);
  }

  private async readKiB(rel: string): Promise<number | undefined> {
    const v = await this.dom.xs.read(`${this.dom.home}/${rel}`).catch(() => null);
    return v !== null && /^\d+$/.test(v) ? Number(v) : undefined;
  }

  /** One pass of FdoBalloon's loop. */
  private async adjust(): Promise<void> {
    if (this.staticMax === undefined) {
      const max = await this.readKiB('memory/static-max');
      if (!max) return;
      const video = (await this.readKiB('memory/videoram')) ?? 0;
      if (max < video) return;
      this.staticMax = Math.floor((max - video) / PAGE_KIB);
    }
    const targetKiB = await this.readKiB('memory/target');
    if (targetKiB === undefined) return;
    const target = Math.min(Math.floor(targetKiB / PAGE_KIB), this.staticMax);
    const want = this.staticMax - target;
    if (this.size === want) return;
    if (!this.active) {
      this.active = true;
      await this.writeKey('control/balloon-active', '1');
    }
    // BalloonAdjust: chunk by chunk towards the size; each chunk takes its time, a stop or a newer
    // target ends the pass early (the thread is woken again and continues from where it is).
    while (this.size !== want && !this.stopped && this.dom.state === 'running') {
      const n = Math.min(Math.abs(want - this.size), BALLOON_PFN_ARRAY_SIZE);
      await this.dom.hv.sched.sleep((n / BALLOON_PAGES_PER_S) * 1000);
      if (this.stopped || this.dom.state !== 'running') break;
      this.size += want > this.size ? n : -n;
      this.onReservation((this.staticMax - this.size) * PAGE_KIB, targetKiB, this.staticMax * PAGE_KIB);
      if (this.again) break;
    }
    if (this.size === want) {
      this.active = false;
      await this.writeKey('control/balloon-active', '0');
    } else if (!this.stopped && !this.again) {
      // unfinished (the domain paused, say): Active, so the thread wakes again after BALLOON_RETRY_MS
      this.retry = this.dom.hv.sched.after(BALLOON_RETRY_MS * 1000, () => this.dom.onCpu(() => this.wake()));
    }
  }

  /** What the domain holds with this balloon, KiB (the static maximum when it has not started). */
  actualKiB(staticMaxKiB: number): number {
    return staticMaxKiB - this.size * PAGE_KIB;
  }
}
