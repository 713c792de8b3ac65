// The CPU priority of the store's thread while nothing waits for it (Linux). `winpv run` opens its
// store as the run starts and reads the history while the simulator's processes keep the cores busy;
// nobody waits for that work until the run ends (or a regression check asks for its baselines), so
// the thread runs at the lowest priority and takes the CPU the run leaves idle instead of a share of
// the run's (docs/performance.md, results store round 7). As soon as something waits for the store
// it goes back to the priority it had.
//
// Only where it can go back: any thread may lower its priority, but raising it again needs
// CAP_SYS_NICE or an RLIMIT_NICE soft limit that allows the old value (setpriority(2)). Where that is
// refused the thread keeps its priority: a thread left at nice 19 on a machine loaded by other jobs
// would get almost no CPU, and the run would wait on it at its end past the store's deadlines.
import { getPriority, setPriority } from 'node:os';

/** The lowest priority setpriority(2) gives. */
export const BACKGROUND_NICE = 19;

/** A store thread's priority: lowered when the thread says who it is (lowered()), raised back for
 *  good at the first foreground(), whichever comes first. */
export class BackgroundPriority {
  private restore?: () => void;
  private waitedFor = false;
  private readonly whenRaised: (() => void)[] = [];
  /** The thread's kernel thread id, once it has started. */
  tid?: number;

  /** The thread `tid` has started: lower it, unless something already waits for it. */
  lowered(tid: number): void {
    this.tid = tid;
    if (!this.waitedFor) this.restore = lowerIfRestorable(tid);
  }

  /** Something waits for the thread: its own priority again, from now on. */
  foreground(): void {
    this.waitedFor = true;
    if (!this.restore) return;
    this.restore();
    this.restore = undefined;
    for (const f of this.whenRaised.splice(0)) f();
  }

  /** Calls fn once when a lowered thread is raised back (db-thread.ts: its deadlines wait till then). */
  onRaised(fn: () => void): void {
    this.whenRaised.push(fn);
  }

  /** True while the thread runs lowered. */
  get isLowered(): boolean {
    return this.restore !== undefined;
  }
}

/** Lowers thread tid to BACKGROUND_NICE where it may be raised back, and returns what raises it back.
 *  The probe is one step down and back up; where the step back is refused the thread stays one step
 *  lower (nice +1) and is not lowered further. */
export function lowerIfRestorable(tid: number): (() => void) | undefined {
  try {
    const own = getPriority(tid);
    if (own >= BACKGROUND_NICE) return undefined;
    setPriority(tid, own + 1);
    setPriority(tid, own);
    setPriority(tid, BACKGROUND_NICE);
    return () => {
      try {
        setPriority(tid, own);
      } catch {
        // the thread has ended
      }
    };
  } catch {
    return undefined;
  }
}
