// Host URL -> HostBackend. Each backend module is required only when its kind is asked for, so
// `winpv run` on the simulator loads no SSH or XenAPI code. The xl and xapi helpers add their
// makers here (one line each).
import { infraError } from '../model/errors';
import type { ResolvedHost } from '../model/config';
import type { HostBackend } from '../model/host';
import type { SpecSet } from '../model/spec';

export interface HostFactoryOptions {
  /** The driver specs: the simulator's frontends and guest are driven by them. */
  specs: SpecSet;
  /** Simulator only: properties of simulated driver builds by version (a planted regression for `winpv bisect`). */
  simBuilds?: Record<string, { ioSlowdown?: number }>;
  /** The lease slot the run holds on the host (xl names its domains by it, so runs sharing a host never collide). */
  leaseSlot?: number;
}

type Maker = (host: ResolvedHost, opts: HostFactoryOptions) => HostBackend;

function load(kind: string, path: string, pick: (m: Record<string, unknown>) => Maker | undefined): Maker {
  let mod: Record<string, unknown>;
  try {
    mod = require(path) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(path.replace('./', ''))) {
      throw infraError('HOST_BACKEND_MISSING', `the ${kind} host backend is not part of this build`);
    }
    throw e;
  }
  const maker = pick(mod);
  if (!maker) throw infraError('HOST_BACKEND_MISSING', `the ${kind} host backend module does not export a host`);
  return maker;
}

const MAKERS: Record<ResolvedHost['kind'], () => Maker> = {
  sim: () =>
    load('simulated', './sim', (m) => {
      const SimHost = m.SimHost as (new (o: { specs: SpecSet; builds?: HostFactoryOptions['simBuilds']; diskBackend?: 'vbd' | 'vbd3' }) => HostBackend) | undefined;
      // a sim host entry labelled vbd3 serves disks with tapdisk3 by default, as a XenServer pool does
      return SimHost ? (h, o) => new SimHost({ specs: o.specs, ...(o.simBuilds ? { builds: o.simBuilds } : {}), ...(h.labels.includes('vbd3') ? { diskBackend: 'vbd3' } : {}) }) : undefined;
    }),
  xl: () => load('xl', './xl', (m) => m.makeXlHost as Maker | undefined),
  xapi: () => load('XenAPI', './xapi', (m) => m.makeXapiHost as Maker | undefined),
};

export function createHost(host: ResolvedHost, opts: HostFactoryOptions): HostBackend {
  return MAKERS[host.kind]()(host, opts);
}
