// The `winpv` entry point: global flags, lazy dispatch, and the mapping of errors to exit codes.
import { ExitCode, formatLocation, formatProblem, isWinpvError } from '../model/errors';
import type { Command, CommandContext } from './command';
import { processEnvironment } from './config';

/** The command table: name -> summary and module. Modules are required only when used. */
const COMMANDS: Record<string, { summary: string; load: () => Command }> = {
  run: { summary: 'run scenarios on a host and write reports', load: () => require('./commands/run').default },
  check: { summary: 're-evaluate the checks of a recorded trace offline', load: () => require('./commands/check').default },
  report: { summary: 'merge shard reports, render HTML', load: () => require('./commands/report').default },
  spec: { summary: 'lint and show the driver specs', load: () => require('./commands/spec').default },
  xenstored: { summary: "serve winpv's xenstore on a unix socket", load: () => require('./commands/xenstored').default },
  abi: { summary: 'print the ring, grant and xenstore wire layouts the simulator uses', load: () => require('./commands/abi').default },
  sim: { summary: 'the simulated host: its fidelity to real backends (diff-lab)', load: () => require('./commands/sim').default },
  lab: { summary: 'a real Xen host inside QEMU: up, status, ssh, down', load: () => require('./commands/lab').default },
  xapi: { summary: 'XenServer/XCP-ng helpers (gc: remove what crashed runs left)', load: () => require('./commands/xapi').default },
  doctor: { summary: 'check a XenServer/XCP-ng pool before a run (reads only)', load: () => require('./commands/doctor').default },
  lease: { summary: 'show and free the leases runs hold on a real host', load: () => require('./commands/lease').default },
  build: { summary: 'build the drivers with their build.ps1 on a Windows builder', load: () => require('./commands/build').default },
  package: { summary: 'verify and bundle driver packages', load: () => require('./commands/package').default },
  results: { summary: 'the results store: import runs, judge regressions', load: () => require('./commands/results').default },
  history: { summary: 'the last runs of a scenario and its metrics', load: () => require('./commands/history').default },
  compare: { summary: 'what changed between two recorded runs', load: () => require('./commands/compare').default },
  bisect: { summary: 'find the first bad driver build by binary search', load: () => require('./commands/bisect').default },
};

function version(): string {
  return (require('../../../package.json') as { version: string }).version;
}

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(width)}  ${v.summary}`);
  return [
    'usage: winpv <command> [options]',
    '',
    'Test harness and build toolkit for the Xen Windows PV drivers.',
    '',
    'commands:',
    ...lines,
    '',
    'global options:',
    '  --help, -h     help (also after any command)',
    '  --version      print the version',
    '  --verbose      show stack traces and debug output',
    '',
    'exit status: 0 all passed, 1 a test failed, 2 bad input or usage, 3 host or infrastructure error',
    '',
  ].join('\n');
}

export async function main(argv: string[], io: Partial<CommandContext> = {}): Promise<number> {
  const out = io.out ?? process.stdout;
  const err = io.err ?? process.stderr;
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  const [name, ...rest] = args;

  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out.write(topHelp());
    return name === undefined ? ExitCode.badInput : ExitCode.ok;
  }
  if (name === '--version' || name === '-V') {
    out.write(`winpv ${version()}\n`);
    return ExitCode.ok;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    err.write(`winpv: unknown command '${name}'\n\n${topHelp()}`);
    return ExitCode.badInput;
  }

  const abort = io.signal ? undefined : new AbortController();
  const ctx: CommandContext = {
    argv: rest,
    env: io.env ?? processEnvironment(),
    cwd: io.cwd ?? process.cwd(),
    out,
    err,
    verbose,
    signal: io.signal ?? abort!.signal,
  };
  try {
    return await entry.load().run(ctx);
  } catch (e) {
    return reportError(e, err, verbose);
  }
}

/** Prints an error the way users should see it and returns the exit code. */
export function reportError(e: unknown, err: NodeJS.WritableStream, verbose: boolean): number {
  if (isWinpvError(e)) {
    const where = e.location ? `${formatLocation(e.location)}: ` : '';
    err.write(`winpv: ${where}${e.message}\n`);
    for (const p of e.problems) err.write(`  ${formatProblem(p)}\n`);
    if (verbose && e.stack) err.write(`${e.stack}\n`);
    if (verbose && e.cause) err.write(`caused by: ${String((e.cause as Error)?.stack ?? e.cause)}\n`);
    return e.exitCode;
  }
  err.write(`winpv: internal error: ${(e as Error)?.message ?? String(e)}\n`);
  err.write(verbose ? `${(e as Error)?.stack ?? ''}\n` : 'run again with --verbose for the stack trace\n');
  return ExitCode.hostError;
}
