// Leases of a XenAPI pool live in the pool object's other_config. pool.add_to_other_config is the
// atomic step: xapi refuses a key that is already in the map with MAP_DUPLICATE_KEY
// (xapi-project/xen-api ocaml/xapi-consts/api_errors.ml: map_duplicate_key; raised by the generated
// add_to_<map> of db_actions for a key already present), so two runs adding the same key cannot both win.
import type { LeaseStore } from '../lease';
import { LEASE_PREFIX } from '../../model/lease';
import { WinpvError } from '../../model/errors';
import { XapiSession } from './session';
import { xapiConfigFrom } from './config';
import type { ResolvedHost } from '../../model/config';

export class XapiLeaseStore implements LeaseStore {
  readonly describe: string;
  private constructor(
    private readonly session: XapiSession,
    private readonly poolRef: string,
    name: string,
  ) {
    this.describe = `pool '${name}' (${session.hostLabel})`;
  }

  /** The store of the session's pool (a session sees exactly one pool object). */
  static async of(session: XapiSession): Promise<XapiLeaseStore> {
    const [ref] = await session.call<string[]>('pool.get_all');
    const name = await session.call<string>('pool.get_name_label', ref);
    return new XapiLeaseStore(session, ref, name || ref);
  }

  async read(): Promise<Record<string, string>> {
    // Read from the server, not the event cache: a lease decision needs the map as it is now.
    const map = await this.session.call<Record<string, string>>('pool.get_other_config', this.poolRef);
    return Object.fromEntries(Object.entries(map).filter(([k]) => k.startsWith(LEASE_PREFIX)));
  }

  async add(key: string, value: string): Promise<boolean> {
    try {
      await this.session.call('pool.add_to_other_config', this.poolRef, key, value);
      return true;
    } catch (e) {
      if (e instanceof WinpvError && e.code === 'XAPI_MAP_DUPLICATE_KEY') return false;
      throw e;
    }
  }

  async remove(key: string): Promise<void> {
    // Called only for a key just read under the lease mutex (or the mutex itself, which we hold).
    await this.session.call('pool.remove_from_other_config', this.poolRef, key);
  }
}

/** A session and the lease store of the pool a resolved XenAPI host names; close() logs out. */
export async function openXapiLeaseStore(h: ResolvedHost): Promise<{ store: XapiLeaseStore; close(): Promise<void> }> {
  const x = xapiConfigFrom(h);
  const session = await XapiSession.open({ url: x.url, user: x.user, password: x.password, insecure: x.insecure });
  try {
    return { store: await XapiLeaseStore.of(session), close: () => session.close() };
  } catch (e) {
    await session.close();
    throw e;
  }
}
