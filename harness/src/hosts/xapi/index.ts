// The XenAPI backend as the host factory loads it (required only for xapi:// hosts).
import type { ResolvedHost } from '../../model/config';
import type { HostBackend } from '../../model/host';
import { xapiConfigFrom } from './config';
import { XapiHost } from './host';

export { XapiHost } from './host';

/** Guest and dom0 secrets come from the environment variables the host entry names (never argv). */
export function makeXapiHost(host: ResolvedHost, env: NodeJS.ProcessEnv = process.env): HostBackend {
  return new XapiHost(xapiConfigFrom(host, env));
}
