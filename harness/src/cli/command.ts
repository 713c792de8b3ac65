// What a `winpv` subcommand is. Each lives in commands/<name>.ts and is loaded only when invoked,
// so `winpv --help` and simple commands start fast.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from '../model/errors';

export interface CommandContext {
  /** Arguments after the command name. */
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  verbose: boolean;
  /** Set by SIGINT/SIGTERM; long-running commands poll or subscribe to it. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  summary: string;
  /** Full help text, printed for `winpv <name> --help`. */
  help: string;
  run(ctx: CommandContext): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with the conventions every command shares: --help prints the command's help, unknown flags are usage errors. */
export function parseCommandArgs<O extends Options>(
  ctx: CommandContext,
  cmd: Pick<Command, 'help'>,
  options: O,
  opts: { positionals?: boolean; argv?: string[] } = {},
) {
  const argv = opts.argv ?? ctx.argv;
  if (argv.includes('--help') || argv.includes('-h')) {
    ctx.out.write(cmd.help.endsWith('\n') ? cmd.help : cmd.help + '\n');
    return undefined;
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: opts.positionals ?? false, strict: true });
  } catch (e) {
    throw usageError(`${(e as Error).message}\n\n${cmd.help}`);
  }
}

/** Dispatch to a subcommand table (`winpv spec lint`, `winpv lab up`). */
export async function runSubcommand(
  ctx: CommandContext,
  parent: Pick<Command, 'name' | 'help'>,
  table: Record<string, (ctx: CommandContext) => Promise<number>>,
): Promise<number> {
  const [sub, ...rest] = ctx.argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    ctx.out.write(parent.help.endsWith('\n') ? parent.help : parent.help + '\n');
    return sub === undefined ? 2 : 0;
  }
  const fn = table[sub];
  if (!fn) throw usageError(`winpv ${parent.name}: unknown subcommand '${sub}'\n\n${parent.help}`);
  return fn({ ...ctx, argv: rest });
}
