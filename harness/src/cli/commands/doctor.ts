// winpv doctor: checks a XenServer / XCP-ng pool before a run, reading only. Each finding says what
// was looked at and, when it is wrong, how to fix it. Exit 0 when nothing failed (warnings allowed),
// 3 when the pool is not ready, 2 on bad usage.
import type { Command, CommandContext } from '../command';
import { parseCommandArgs } from '../command';
import { resolveConfig } from '../config';
import { usageError } from '../../model/errors';
import { xapiConfigFrom } from '../../hosts/xapi/config';
import { doctor, type Finding } from '../../hosts/xapi/doctor';

const HELP = `usage: winpv doctor --host <name|xapi://user@host> [--disk-gib N] [--memory-gib N] [--json]

Checks a pool before a run, changing nothing: XenAPI login and version, the template (system disk,
CD drive, VIF, HVM), the guests' network, free space in the pool's default SR (--disk-gib, default
60), a host with free memory for a guest (--memory-gib, default 4), the ISO SR for driver bundles,
and dom0 SSH with xenstore-read and ip neigh. Prints one line per check and the fix for each that
is not ok. Exit 0 ready (warnings allowed), 3 not ready, 2 bad usage.
`;

const MARK: Record<Finding['verdict'], string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

async function run(ctx: CommandContext): Promise<number> {
  const a = parseCommandArgs(ctx, { help: HELP }, {
    host: { type: 'string' },
    'disk-gib': { type: 'string' },
    'memory-gib': { type: 'string' },
    json: { type: 'boolean' },
    config: { type: 'string' },
  });
  if (!a) return 0;
  const gib = (name: 'disk-gib' | 'memory-gib', dflt: number) => {
    const v = a.values[name] === undefined ? dflt : Number(a.values[name]);
    if (!Number.isFinite(v) || v <= 0) throw usageError(`--${name} takes a positive number of GiB, not '${a.values[name]}'`);
    return v * 2 ** 30;
  };
  const diskBytes = gib('disk-gib', 60);
  const memoryBytes = gib('memory-gib', 4);
  const cfg = resolveConfig({ host: a.values.host, config: a.values.config }, ctx.env);
  if (cfg.host.kind !== 'xapi') throw usageError(`winpv doctor checks a XenAPI pool (xapi://user@pool-master), not ${cfg.host.label}`);
  const findings = await doctor(xapiConfigFrom(cfg.host), { diskBytes, memoryBytes });
  const failed = findings.filter((f) => f.verdict === 'fail').length;
  if (a.values.json) ctx.out.write(JSON.stringify({ host: cfg.host.label, ready: failed === 0, findings }, null, 2) + '\n');
  else {
    for (const f of findings) ctx.out.write(`${MARK[f.verdict]} ${f.check.padEnd(8)} ${f.finding}\n${f.fix && f.verdict !== 'ok' ? `     fix: ${f.fix}\n` : ''}`);
    ctx.out.write(`${cfg.host.label}: ${failed ? `not ready (${failed} failed)` : 'ready'}\n`);
  }
  return failed ? 3 : 0;
}

const command: Command = {
  name: 'doctor',
  summary: 'check a XenServer/XCP-ng pool before a run (reads only)',
  help: HELP,
  run,
};
export default command;
