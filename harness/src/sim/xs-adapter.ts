// The in-process xenstored for the simulated host: the xenstore/ server with its replies and watch
// events scheduled by the seeded scheduler (a virtual round trip), one real wire-protocol client
// connection per domain, and the fault hooks (EAGAIN storms, dropped or held watch events).
import { XenstoreServer, type XenstoreHooks } from '../xenstore/server';
import { XenstoreClient, isXenstoreErrno } from '../xenstore/client';
import type { Scheduler } from './scheduler';
import type { XenstoreAttach } from './hypervisor';
import type { Xs } from './xs';
import { HOST_TIMINGS } from './timings';

/** Virtual time a xenstore reply or watch event takes to arrive. */
export const XS_LATENCY_US = HOST_TIMINGS.xsLatencyUs;

export interface SimXenstore extends XenstoreAttach {
  server: XenstoreServer;
  hooks: XenstoreHooks;
}

export function simXenstore(sched: Scheduler): SimXenstore {
  const hooks: XenstoreHooks = {};
  const server = new XenstoreServer({ schedule: (fn) => void sched.after(XS_LATENCY_US, fn), hooks });
  return {
    server,
    hooks,
    async connect(domid) {
      return wrapClient(XenstoreClient.inProcess(server, domid), domid);
    },
    async introduce(domid) {
      server.introduceDomain(domid);
    },
    async release(domid) {
      server.releaseDomain(domid);
    },
  };
}

/** The client with the simulator's conventions: absent directory = [], rm of an absent node is fine. */
function wrapClient(c: XenstoreClient, domid: number): Xs {
  const tolerant = async <T>(p: Promise<T>, dflt: T): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      if (isXenstoreErrno(e, 'ENOENT')) return dflt;
      throw e;
    }
  };
  return {
    domid,
    read: (p) => c.read(p),
    write: (p, v) => c.write(p, v),
    rm: (p) => tolerant(c.rm(p), undefined),
    directory: (p) => tolerant(c.directory(p), [] as string[]),
    mkdir: (p) => c.mkdir(p),
    setPerms: (p, perms) => c.setPerms(p, perms),
    watch: (p, cb) => c.watch(p, cb),
    transaction: (fn, opts) =>
      c.transaction(
        (tx) =>
          fn({
            read: (p) => tx.read(p),
            write: (p, v) => tx.write(p, v),
            rm: (p) => tolerant(tx.rm(p), undefined),
            setPerms: (p, perms) => tx.setPerms(p, perms),
          }),
        opts,
      ),
    close: () => c.close(),
    requestUnchecked: (type, payload) => c.request(type, payload, 0, `request ${type}`, { unchecked: true }),
  };
}
