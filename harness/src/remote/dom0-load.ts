// How busy a dom0 is, asked before a real host gets work (issue #16's preflight, `winpv doctor`).
import type { ExecResult } from './ssh';

/** dom0's 1-minute load average per dom0 CPU above which the host gets no work: a dom0 that busy
 *  (another run's tapdisks and qemus, a storage rescan) makes every timing check and probe of ours
 *  say something about that load instead of about the drivers. */
export const DOM0_LOAD_PER_CPU_LIMIT = 4;

export interface Dom0Load {
  load1: number;
  cpus: number;
  perCpu: number;
}

/** dom0's 1-minute load average (/proc/loadavg, proc(5)) and its online CPUs (getconf), through
 *  `exec` (a command in dom0); undefined when dom0 does not say (the check is then not made). */
export async function dom0Load(exec: (argv: string[]) => Promise<Pick<ExecResult, 'code' | 'stdout'>>): Promise<Dom0Load | undefined> {
  const [avg, cpus] = await Promise.all([exec(['cat', '/proc/loadavg']), exec(['getconf', '_NPROCESSORS_ONLN'])]);
  const load1 = Number(avg.stdout.trim().split(/\s+/)[0]);
  const n = Number(cpus.stdout.trim());
  if (avg.code !== 0 || cpus.code !== 0 || !Number.isFinite(load1) || !(n > 0)) return undefined;
  return { load1, cpus: n, perCpu: load1 / n };
}

/** The reason a dom0 this loaded gets no work, or undefined. */
export function dom0LoadProblem(where: string, load: Dom0Load | undefined): string | undefined {
  if (!load || load.perCpu <= DOM0_LOAD_PER_CPU_LIMIT) return undefined;
  return `${where}: load average ${load.load1} on ${load.cpus} CPU${load.cpus === 1 ? '' : 's'} (${load.perCpu.toFixed(1)} per CPU, the limit is ${DOM0_LOAD_PER_CPU_LIMIT})`;
}
