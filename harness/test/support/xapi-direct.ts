// The XenAPI double without HTTP: calls as a client makes them, a refusal as [code, ...params].
import { FakePool, XapiFailure } from './xapi-server';
import { XapiApi } from './xapi-server/methods';

export function directApi(opts: Partial<ConstructorParameters<typeof FakePool>[0]> = {}) {
  const pool = new FakePool({ user: 'root', password: 'pw', bootDelayMs: 5, ...opts });
  const x = new XapiApi(pool);
  let session = '';
  const call = async (m: string, ...a: unknown[]) => x.call(m, [session, ...(a as never[])]);
  const fail = async (m: string, ...a: unknown[]) => {
    try {
      await call(m, ...a);
    } catch (e) {
      if (e instanceof XapiFailure) return [e.code, ...e.params];
      throw e;
    }
    return ['(no error)'];
  };
  /** Polls a condition of the double (its tasks advance on their own timers), up to ms. */
  const wait = async (cond: () => boolean, ms = 2000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { pool, call, fail, wait, login: async () => (session = String(await x.call('session.login_with_password', ['root', 'pw']))) };
}
