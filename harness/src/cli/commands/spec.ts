// winpv spec lint [DIR] | winpv spec show <driver> [--json] [--dir DIR]
import type { Command, CommandContext } from '../command';
import { parseCommandArgs, runSubcommand } from '../command';
import { formatProblem, usageError } from '../../model/errors';
import type { DriverName } from '../../model/spec';
import { checkSpecs, defaultSpecDir, displayPath, LINT_RULES, loadSpecs, renderSpec, specJson } from '../../spec/index';

const help = `usage: winpv spec <subcommand>

  lint [DIR] [--rules]        validate every driver spec in DIR (default: the repository's drivers-spec/):
                              the XSD shape and the rules across elements and files; prints each problem
                              as file:line:col path: message [rule]; exit 2 on any problem
                              --rules lists the lint rules
  show <driver> [--json] [--dir DIR]
                              the resolved contract of one driver: identity, hardware IDs per vendor and
                              revision, revisions and interfaces, keys by side and state, transitions,
                              ring, unplug, registry, build
`;

async function lint(ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs(ctx, { help }, { rules: { type: 'boolean' } }, { positionals: true });
  if (!args) return 0;
  if (args.values.rules) {
    const width = Math.max(...Object.keys(LINT_RULES).map((k) => k.length));
    for (const [k, v] of Object.entries(LINT_RULES)) ctx.out.write(`${k.padEnd(width)}  ${v}\n`);
    return 0;
  }
  if (args.positionals.length > 1) throw usageError(`winpv spec lint takes at most one directory\n\n${help}`);
  const dir = args.positionals[0] ?? defaultSpecDir();
  const r = checkSpecs(dir, ctx.cwd);
  for (const p of r.problems) ctx.out.write(formatProblem(p) + '\n');
  const shown = displayPath(dir, ctx.cwd);
  if (r.problems.length) {
    const files = new Set(r.problems.map((p) => p.location.file)).size;
    ctx.err.write(`winpv spec lint: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'} of ${shown}\n`);
    return 2;
  }
  ctx.out.write(`ok: ${r.specs.size} driver specs in ${shown} (${[...r.specs.keys()].join(', ')})\n`);
  return 0;
}

async function show(ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs(ctx, { help }, { json: { type: 'boolean' }, dir: { type: 'string' } }, { positionals: true });
  if (!args) return 0;
  const [name, ...extra] = args.positionals;
  if (!name || extra.length) throw usageError(`winpv spec show needs exactly one driver name\n\n${help}`);
  const specs = loadSpecs(args.values.dir ?? defaultSpecDir(), ctx.cwd);
  const spec = specs.get(name as DriverName);
  if (!spec) throw usageError(`no spec for driver '${name}' (specs: ${[...specs.keys()].join(', ')})`);
  ctx.out.write(args.values.json ? JSON.stringify(specJson(spec), null, 2) + '\n' : renderSpec(spec, specs));
  return 0;
}

const command: Command = {
  name: 'spec',
  summary: 'lint and show the driver specs',
  help,
  run(ctx) {
    return runSubcommand(ctx, command, { lint, show });
  },
};
export default command;
