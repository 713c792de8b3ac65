// Getting at the WinpvError a piece of code fails with, so tests can assert its code and location.
import { WinpvError } from '../../src/model/errors';

/** The WinpvError fn throws (fails the test if it returns or throws something else). */
export function caught(fn: () => unknown): WinpvError {
  try {
    fn();
  } catch (e) {
    if (e instanceof WinpvError) return e;
    throw e;
  }
  throw new Error('expected a WinpvError');
}

/** The WinpvError a promise rejects with (fails the test if it resolves or rejects with something else). */
export async function rejects(p: Promise<unknown>): Promise<WinpvError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof WinpvError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}
