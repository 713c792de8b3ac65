// The thresholds each check accepts in a scenario (`<check name="workload"><param name="minMBps" value="50"/>`).
// The scenario loader validates names and values against this table; the checks read them.
import type { CheckName } from './catalog';

export interface CheckParamInfo {
  summary: string;
  /** Default when the scenario does not set it (absent: the rule is off). */
  default?: number;
}

/** Parameter names are literal, except `maxP<percentile>Ms` of workload (maxP50Ms, maxP99Ms, maxP99.9Ms). */
export const CHECK_PARAMS: Record<CheckName, Record<string, CheckParamInfo>> = {
  'xenbus-transitions': {},
  'xenstore-keys': {},
  'devices-connected': { limitMs: { summary: 'both ends must reach Connected within this many ms of the device appearing or re-initialising', default: 30000 } },
  'ring-invariants': {},
  'ring-progress': { intervalMs: { summary: 'length of the interval over which a ring with pending work must move (xen-ringwatch period)', default: 1000 } },
  'ring-responses': {},
  grants: {},
  workload: {
    minMBps: { summary: 'block baseline in MB/s (10^6 bytes); throughput must be at least baseline minus tolerance' },
    minIops: { summary: 'block baseline in IOPS' },
    minMbps: { summary: 'network baseline in megabits per second' },
    tolerancePct: { summary: 'how far below a baseline a result may fall, in percent', default: 10 },
    maxErrors: { summary: 'I/O or transfer errors allowed', default: 0 },
    'maxP<pct>Ms': { summary: 'latency percentile limit in ms, e.g. maxP99Ms, maxP99.9Ms' },
  },
  'guest-alive': {},
  'drivers-bound': {},
  'guest-keys': { limitMs: { summary: 'the guest keys must be back within this many ms of a resume, restore or migration', default: 10000 } },
  regression: {
    tolerancePct: { summary: 'a significant change worse than this many percent of the baseline median fails', default: 5 },
    window: { summary: 'how many comparable earlier runs form the baseline', default: 20 },
    minHistory: { summary: 'fewer comparable runs than this is a skip with the reason, never a pass', default: 8 },
  },
  'nic-settings': {},
  balloon: {
    limitMs: { summary: 'the guest must reach its memory target within this many ms of xenbus binding or of the target changing', default: 60000 },
    tolerancePct: { summary: 'how far the memory the guest holds may be from its target, in percent of the target', default: 1 },
    fromStart: { summary: "1: the clock starts when the guest starts (a balloon in the guest's kernel, Linux's), not when xenbus is reported bound", default: 0 },
  },
  'crash-dump': {},
  'guest-metrics': { limitMs: { summary: 'what the guest reported before a migration, restore or resume must be reported again within this many ms of it', default: 10000 } },
};

/** The table entry a parameter name resolves to, or undefined when the check has no such parameter. */
export function checkParamInfo(check: CheckName, name: string): CheckParamInfo | undefined {
  const table = CHECK_PARAMS[check];
  if (Object.hasOwn(table, name)) return table[name];
  if (check === 'workload' && /^maxP\d+(\.\d+)?Ms$/.test(name)) return table['maxP<pct>Ms'];
  return undefined;
}
