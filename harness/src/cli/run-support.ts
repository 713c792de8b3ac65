// What `winpv run`, `winpv check` and `winpv report merge` share: the driver specs and their
// hashes, the run directory, the console reporters and the exit status of a judged run.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, exitCodeOf, usageError } from '../model/errors';
import type { Reporter } from '../model/reporter';
import type { RunSummary } from '../model/result';
import type { SpecSet } from '../model/spec';
import { defaultSpecDir, loadSpecs } from '../spec/load';
import { ConsoleReporter } from '../report/console';
import { TapStreamReporter } from '../report/tap';
import type { ReporterMultiplexer } from '../report/multiplexer';
import type { CommandContext } from './command';

export interface DriverSpecs {
  specs: SpecSet;
  /** sha256 of each spec file by file name, recorded in run.start. */
  hashes: Record<string, string>;
}

export function driverSpecs(cwd: string, dir = defaultSpecDir()): DriverSpecs {
  const specs = loadSpecs(dir, cwd);
  const hashes: Record<string, string> = {};
  for (const n of readdirSync(dir).filter((f) => f.endsWith('.xml')).sort()) {
    hashes[n] = createHash('sha256').update(readFileSync(join(dir, n))).digest('hex');
  }
  return { specs, hashes };
}

/** Spec files whose content differs from what a trace was judged with. */
export function changedSpecs(recorded: Record<string, string>, current: Record<string, string>): string[] {
  const names = new Set([...Object.keys(recorded), ...Object.keys(current)]);
  return [...names].filter((n) => recorded[n] !== current[n]).sort();
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `20261124-061203-<seed>`: sortable, unique per second and seed; `-2`, `-3` if taken. */
export function newRunDir(root: string, now: Date, seed: number, suffix = ''): { runId: string; dir: string } {
  const stamp = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}-${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  const base = `${stamp}-${seed.toString(16).padStart(8, '0')}${suffix}`;
  let runId = base;
  for (let i = 2; existsSync(join(root, runId)); i++) runId = `${base}-${i}`;
  return { runId, dir: join(root, runId) };
}

const REPORTERS = ['console', 'tap', 'none'] as const;

/** The reporter that writes to stdout: console (live on a TTY, a line per instance otherwise), tap, or none. */
export function stdoutReporter(name: string | undefined, ctx: CommandContext, dflt: (typeof REPORTERS)[number]): Reporter[] {
  const r = name ?? dflt;
  if (r === 'console') return [new ConsoleReporter(ctx.out, (ctx.out as NodeJS.WriteStream).isTTY === true)];
  if (r === 'tap') return [new TapStreamReporter(ctx.out)];
  if (r === 'none') return [];
  throw usageError(`--reporter takes ${REPORTERS.join(', ')}, not '${r}'`);
}

/** 0 all passed, 1 something failed or the run stopped early, 2 a scenario was aborted by bad input
 *  (a bundle for another architecture, a test-signed build under Secure Boot), 3 by a host error (a
 *  pool that refused a guest and still answers); the worst of them wins. A run that lost its host
 *  (3) is decided by the caller. */
export function exitForSummary(s: RunSummary): number {
  let code: number = s.counts.failed > 0 || !s.complete ? ExitCode.testFailed : ExitCode.ok;
  for (const i of s.instances) {
    const kind = i.aborted?.kind;
    if (kind) code = Math.max(code, exitCodeOf(kind));
  }
  return code;
}

/** Plays judged results through reporters as a live run would (`winpv check`, `winpv report merge`). */
export async function replayResults(reporter: ReporterMultiplexer, summary: RunSummary): Promise<void> {
  await reporter.onRunStart({ seed: summary.seed, host: summary.host, instances: summary.instances.map((r) => r.inst) });
  for (const r of summary.instances) {
    await reporter.onInstanceStart(r.inst);
    await reporter.onInstanceEnd(r);
  }
  await reporter.onRunEnd(summary);
}
