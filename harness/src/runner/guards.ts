// What instances running at once on one host or pool share, guarded: a memory budget per host (its
// free memory at the start minus a reserve; an instance waits until its guests fit) and at most N
// migrations at once per pool (default 1: a live migration copies the guest's memory over the
// pool's network and two at once slow each other past their downtime, and XenAPI pools commonly run
// one at a time). Waits are raced against the run's signal, so an interrupted run never hangs here.
import { hostError, usageError } from '../model/errors';
import type { HostBackend } from '../model/host';

/** A counting semaphore with FIFO waiters. */
export class Semaphore {
  private used = 0;
  private readonly waiting: { n: number; go: () => void }[] = [];
  constructor(readonly size: number) {
    if (!(size >= 1)) throw usageError(`a semaphore needs a size of at least 1, not ${size}`);
  }

  get inUse(): number {
    return this.used;
  }

  /** Takes n units (waiting in turn); resolves to the function that gives them back. */
  async acquire(n = 1, signal?: AbortSignal): Promise<() => void> {
    if (n > this.size) throw hostError('GUARD_TOO_LARGE', `asks for ${n} of ${this.size}: it can never fit`);
    if (this.waiting.length || this.used + n > this.size) {
      await new Promise<void>((resolve, reject) => {
        const w = { n, go: () => { signal?.removeEventListener('abort', abort); resolve(); } };
        const abort = () => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(hostError('INTERRUPTED', 'stopped while waiting'));
          this.wake();
        };
        if (signal?.aborted) return abort();
        signal?.addEventListener('abort', abort, { once: true });
        this.waiting.push(w);
      });
    } else this.used += n;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.used -= n;
      this.wake();
    };
  }

  private wake(): void {
    while (this.waiting.length && this.used + this.waiting[0]!.n <= this.size) {
      const w = this.waiting.shift()!;
      this.used += w.n;
      w.go();
    }
  }
}

/** Memory of one host, in bytes: instances take what their guests ask for and wait when it is spent. */
export class MemoryBudget {
  private readonly sem: Semaphore;
  constructor(readonly bytes: number, private readonly what: string) {
    // counted in MiB so the semaphore's numbers stay small and exact
    this.sem = new Semaphore(Math.max(1, Math.floor(bytes / 2 ** 20)));
  }

  async acquire(bytes: number, signal?: AbortSignal): Promise<() => void> {
    const mib = Math.ceil(bytes / 2 ** 20);
    if (mib > this.sem.size) {
      throw hostError('HOST_MEMORY_BUDGET', `the guests need ${mib} MiB but the memory budget of ${this.what} is ${this.sem.size} MiB (free memory minus the reserve)`);
    }
    return this.sem.acquire(mib, signal);
  }

  get usedBytes(): number {
    return this.sem.inUse * 2 ** 20;
  }
}

export interface HostGuards {
  memory?: MemoryBudget;
  /** Migrations at once in the host's pool. */
  migrations?: Semaphore;
}

/** The host with its migrations taken under the pool's semaphore (the other calls untouched). */
export function guardHost(host: HostBackend, guards: HostGuards): HostBackend {
  const sem = guards.migrations;
  const inner = host.migrate;
  if (!sem || !inner) return host;
  const migrate = {
    migrate: async (...args: Parameters<typeof inner.migrate>) => {
      const release = await sem.acquire(1);
      try {
        return await inner.migrate(...args);
      } finally {
        release();
      }
    },
  };
  return new Proxy(host, { get: (target, p) => (p === 'migrate' ? migrate : Reflect.get(target, p, target)) });
}
