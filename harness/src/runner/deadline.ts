// Racing work against host time and an abort signal, without setTimeout: a watchdog sleeps on the
// host clock in slices (so a virtual clock is never left with a long pending timer) and stops as
// soon as the work settles.
import type { HostClock } from '../model/host';
import { Interrupted, StepFailure } from './errors';

const SLICE_MS = 1000;

export async function withDeadline<T>(
  clock: HostClock,
  ms: number,
  signal: AbortSignal | undefined,
  what: string,
  work: () => Promise<T>,
  onCancel?: () => void,
): Promise<T> {
  let settled = false;
  const watchdog = (async (): Promise<never> => {
    const end = clock.now() + ms;
    for (;;) {
      if (settled) return new Promise<never>(() => undefined);
      const left = end - clock.now();
      if (left <= 0) throw new StepFailure('TIMEOUT', `${what} did not finish within ${ms} ms (host time)`);
      await clock.sleep(Math.min(left, SLICE_MS));
    }
  })();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    if (!signal) return;
    onAbort = () => reject(new Interrupted(`interrupted (${String(signal.reason ?? 'SIGINT')})`));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  watchdog.catch(() => undefined);
  aborted.catch(() => undefined);
  try {
    return await Promise.race([work(), watchdog, aborted]);
  } catch (e) {
    onCancel?.();
    throw e;
  } finally {
    settled = true;
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
