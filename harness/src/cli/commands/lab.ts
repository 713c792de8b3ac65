// winpv lab up|status|ssh|down: a real Xen 4.17 host inside QEMU (issue #7).
import { spawn } from 'node:child_process';
import type { Command, CommandContext } from '../command';
import { parseCommandArgs, runSubcommand } from '../command';
import { infraError } from '../../model/errors';
import { shJoin } from '../../util/quote';
import { readState } from '../../lab/state';
import { resolveLabDir } from '../config';
import { labDown, labUp, parseXlInfo, runningLab, sshArgv } from '../../lab/lab';
import { runProcess } from '../../util/process';

const help = `usage: winpv lab <up|status|ssh|down> [--dir DIR]

A real Xen 4.17 host (Debian's hypervisor and dom0) inside QEMU, for \`winpv run --host lab\`.

  up       build the lab image once (cached by package versions; needs root the first time),
           boot it in the background and wait until \`xl info\` answers in dom0
  status   is it running, on which port, what does Xen say
  ssh      a shell in dom0 (or: winpv lab ssh -- xl list)
  down     stop the QEMU that \`up\` started

options:
  --dir DIR        lab directory (default $WINPV_LAB_DIR, else the config file's labDir, else
                   $XDG_CACHE_HOME/winpv/lab, else ~/.cache/winpv/lab)
  --timeout SECS   up: how long to wait for dom0 (default 600)
`;

const opts = { dir: { type: 'string' }, timeout: { type: 'string' } } as const;

function say(ctx: CommandContext) {
  const t0 = Date.now();
  return (msg: string) => ctx.err.write(`[lab ${String(Math.round((Date.now() - t0) / 1000)).padStart(4)} s] ${msg}\n`);
}

async function up(ctx: CommandContext): Promise<number> {
  const a = parseCommandArgs(ctx, { help }, opts);
  if (!a) return 0;
  const timeout = a.values.timeout ? Number(a.values.timeout) : 600;
  if (!(timeout > 0)) throw infraError('USAGE', `--timeout takes seconds, not '${a.values.timeout}'`);
  const s = await labUp({ dir: resolveLabDir({ labDir: a.values.dir }, ctx.env), progress: say(ctx), timeoutMs: timeout * 1000, signal: ctx.signal });
  ctx.out.write(`lab up: ssh port ${s.port}, pid ${s.pid}\n`);
  return 0;
}

async function status(ctx: CommandContext): Promise<number> {
  const a = parseCommandArgs(ctx, { help }, opts);
  if (!a) return 0;
  const dir = resolveLabDir({ labDir: a.values.dir }, ctx.env);
  const s = runningLab(dir);
  if (!s) {
    ctx.out.write(readState(dir) ? 'lab: stopped (QEMU gone)\n' : 'lab: not running\n');
    return 3;
  }
  const r = await runProcess(sshArgv(s, ['xl', 'info'], { connectTimeout: 5 }));
  const info = r.code === 0 ? parseXlInfo(r.stdout) : undefined;
  ctx.out.write(
    [
      `lab: running (QEMU pid ${s.pid}, image ${s.imageKey}, started ${s.startedAt}${s.bootSeconds ? `, booted in ${s.bootSeconds} s` : ''})`,
      `ssh: root@127.0.0.1 port ${s.port}`,
      info ? `xen: ${info.xen_version} (${info.virt_caps}), free memory ${info.free_memory} MiB` : `xen: not answering (${r.stderr.trim() || 'booting?'})`,
      '',
    ].join('\n'),
  );
  return info ? 0 : 3;
}

async function ssh(ctx: CommandContext): Promise<number> {
  const sep = ctx.argv.indexOf('--');
  const own = sep >= 0 ? ctx.argv.slice(0, sep) : ctx.argv;
  const remote = sep >= 0 ? ctx.argv.slice(sep + 1) : [];
  const a = parseCommandArgs(ctx, { help }, opts, { argv: own });
  if (!a) return 0;
  const s = runningLab(resolveLabDir({ labDir: a.values.dir }, ctx.env));
  if (!s) throw infraError('LAB_NOT_RUNNING', 'no lab running: start it with `winpv lab up`');
  // The remote words are quoted: ssh would otherwise hand them to dom0's shell as one unquoted line.
  const argv = sshArgv(s, remote.length ? [shJoin(remote)] : [], { tty: remote.length === 0 && process.stdin.isTTY });
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
    child.on('close', (code) => resolve(code ?? 3));
  });
}

async function down(ctx: CommandContext): Promise<number> {
  const a = parseCommandArgs(ctx, { help }, opts);
  if (!a) return 0;
  await labDown({ dir: resolveLabDir({ labDir: a.values.dir }, ctx.env), progress: say(ctx) });
  return 0;
}

const command: Command = {
  name: 'lab',
  summary: 'a real Xen host inside QEMU: up, status, ssh, down',
  help,
  run: (ctx) => runSubcommand(ctx, command, { up, status, ssh, down }),
};
export default command;
