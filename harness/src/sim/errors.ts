// Errors the simulated hypervisor returns, with Xen's error names, so a caller can react as a
// driver would (a backend that fails to map a grant closes the device).
import { WinpvError } from '../model/errors';

/** GNTST_* from grant_table.h and the errno names event-channel and domain operations return. */
export type HypercallStatus =
  | 'GNTST_general_error' | 'GNTST_bad_domain' | 'GNTST_bad_gntref' | 'GNTST_bad_handle' | 'GNTST_permission_denied'
  | 'EINVAL' | 'ESRCH' | 'ENOSPC' | 'EBUSY';

export class HypercallError extends WinpvError {
  constructor(readonly status: HypercallStatus, message: string) {
    super('host', `SIM_${status}`, message);
  }
}
