// xeniface's store IOCTLs (IOCTL_XENIFACE_STORE_READ, _WRITE, _DIRECTORY, _REMOVE), the interface a
// guest agent or a tool inside Windows uses to reach xenstore, as the simulated guest serves them.
// win-xeniface src/xeniface/ioctl_store.c: each input is a NUL-terminated printable string
// (__IsValidStr, else STATUS_INVALID_PARAMETER), the request goes to xenbus's STORE interface on the
// guest's one xenstore connection, and an XS_ERROR reply becomes an NTSTATUS (win-xenbus store.c
// StoreCheckResponse: ERRNO_TO_STATUS). Lengths: IoctlStoreAddWatch and IoctlStoreSetPermissions refuse
// a path longer than XENSTORE_ABS_PATH_MAX with STATUS_INVALID_PARAMETER; the model applies that limit,
// and XENSTORE_PAYLOAD_MAX for the whole request (xs_wire.h), to every store IOCTL before anything is
// sent. The xeniface-no-length-check fault is a driver without those checks (as ioctl_store.c's read,
// write, directory and remove and xenbus's StorePrepareRequest are in the sources read: they sum the
// segments and copy them onto the ring), whose over-long request reaches xenstored, which drops the
// connection (xenstored_core.c handle_input).
import { XENSTORE_ABS_PATH_MAX, XENSTORE_PAYLOAD_MAX } from '../../abi/xs-wire';
import type { Domain } from '../hypervisor';

/** xs_wire.h xsd_sockmsg_type of each IOCTL's request. */
const XS_DIRECTORY = 1;
const XS_READ = 2;
const XS_WRITE = 11;
const XS_RM = 13;

export type XenifaceOp = 'read' | 'write' | 'directory' | 'remove';

/** ERRNO_TO_STATUS (win-xenbus store.c, through xs_wire.h's xsd_errors) for the errors xenstored answers here. */
const ERRNO_STATUS: Record<string, string> = {
  EINVAL: 'STATUS_INVALID_PARAMETER',
  ENOENT: 'STATUS_OBJECT_NAME_NOT_FOUND',
  EACCES: 'STATUS_ACCESS_DENIED',
  E2BIG: 'STATUS_INVALID_PARAMETER',
  ENOSPC: 'STATUS_DISK_FULL',
  EQUOTA: 'STATUS_QUOTA_EXCEEDED',
};

export interface XenifaceFaults {
  /** xeniface-no-length-check: pass requests of any length on to xenstore. */
  noLengthCheck: boolean;
}

export interface XenifaceResult {
  status: string;
  value?: string;
}

const printable = (s: string) => /^[\x20-\x7e]*$/.test(s);

export class XenifaceStore {
  constructor(
    private readonly dom: () => Domain,
    private readonly faults: XenifaceFaults,
    /** Told when xenstored dropped the guest's connection. */
    private readonly onConnectionLost: (reason: string) => void,
  ) {}

  async request(op: XenifaceOp, path: string, value?: string): Promise<XenifaceResult> {
    // __IsValidStr: printable up to the NUL
    if (path.length === 0 || !printable(path) || (value !== undefined && !printable(value))) return { status: 'STATUS_INVALID_PARAMETER' };
    const payload = op === 'write' ? Buffer.from(`${path}\0${value ?? ''}`, 'latin1') : Buffer.from(`${path}\0`, 'latin1');
    if (!this.faults.noLengthCheck) {
      // the path with its NUL within XENSTORE_ABS_PATH_MAX (as IoctlStoreAddWatch checks PathLength), the
      // request within XENSTORE_PAYLOAD_MAX: refused here, the connection untouched
      if (path.length + 1 > XENSTORE_ABS_PATH_MAX || payload.length > XENSTORE_PAYLOAD_MAX) return { status: 'STATUS_INVALID_PARAMETER' };
    }
    const type = { read: XS_READ, write: XS_WRITE, directory: XS_DIRECTORY, remove: XS_RM }[op];
    try {
      const reply = await this.dom().xs.requestUnchecked(type, payload);
      if (op === 'read') return { status: 'STATUS_SUCCESS', value: reply.toString('latin1') };
      if (op === 'directory') return { status: 'STATUS_SUCCESS', value: reply.toString('latin1').split('\0').filter(Boolean).join(' ') };
      return { status: 'STATUS_SUCCESS' };
    } catch (e) {
      const errno = (e as { errno?: string }).errno;
      if (errno) return { status: ERRNO_STATUS[errno] ?? 'STATUS_UNSUCCESSFUL' };
      // no reply at all: the connection went (xenstored dropped it); the request never completes
      // (xenbus waits for a reply that does not come), the IOCTL is left pending
      this.onConnectionLost((e as Error).message);
      return { status: 'STATUS_PENDING' };
    }
  }
}
