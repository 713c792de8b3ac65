// The XenAPI backend as the host factory loads it (required only for xapi:// hosts).
import type { ResolvedHost } from '../../model/config';
import type { HostBackend } from '../../model/host';
import { xapiConfigFrom } from './config';
import { XapiHost } from './host';

export { XapiHost } from './host';

/** Every secret is already in the resolved host (cli/config.ts; never argv). */
export function makeXapiHost(host: ResolvedHost): HostBackend {
  return new XapiHost(xapiConfigFrom(host));
}
