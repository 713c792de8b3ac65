// winpv xapi: XenServer / XCP-ng helpers. `gc` removes what crashed runs left on a pool (VMs,
// snapshots and VDIs tagged with a winpv run id), older than a threshold.
import type { Command, CommandContext } from '../command';
import { parseCommandArgs, runSubcommand } from '../command';
import { resolveConfig } from '../config';
import { usageError } from '../../model/errors';
import { xapiConfigFrom } from '../../hosts/xapi/config';
import { XapiSession } from '../../hosts/xapi/session';
import { collectGarbage, parseAge, type GcItem } from '../../hosts/xapi/gc';

const GC_HELP = `usage: winpv xapi gc [--host <name|xapi://user@host>] [--older-than <age>] [--dry-run] [--json]

Finds the VMs, snapshots and VDIs that winpv runs created on a pool (tagged with other_config
"winpv-run") and removes those older than --older-than (default 1h; 0 takes everything, e.g. 30m,
6h, 2d). A normal run leaves nothing behind; this cleans up after runs that crashed or were killed.
The password comes from the host's passwordEnv/passwordFile or WINPV_XAPI_PASSWORD, never the command line.
`;

const HELP = `usage: winpv xapi <subcommand>

  gc    remove what crashed runs left on a pool

${GC_HELP}`;

const fmt = (i: GcItem) => `${i.type} ${i.name || i.ref} (run ${i.run}${i.created ? `, created ${i.created}` : ''})`;

async function gc(ctx: CommandContext): Promise<number> {
  const a = parseCommandArgs(ctx, { help: GC_HELP }, {
    host: { type: 'string' },
    'older-than': { type: 'string' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
    config: { type: 'string' },
  });
  if (!a) return 0;
  const age = parseAge(a.values['older-than'] ?? '1h');
  if (age === undefined) throw usageError(`--older-than takes an age like 30m, 6h or 2d, not '${a.values['older-than']}'`);
  const cfg = resolveConfig({ host: a.values.host, config: a.values.config }, ctx.env);
  if (cfg.host.kind !== 'xapi') throw usageError(`winpv xapi gc needs a XenAPI host (xapi://user@pool-master), not ${cfg.host.label}`);
  const x = xapiConfigFrom(cfg.host);
  const s = await XapiSession.open({ url: x.url, user: x.user, password: x.password, insecure: x.insecure });
  try {
    const res = await collectGarbage(s, { olderThanMs: age, now: new Date(), dryRun: a.values['dry-run'] === true });
    if (a.values.json) ctx.out.write(JSON.stringify(res, null, 2) + '\n');
    else {
      for (const i of res.removed) ctx.out.write(`removed ${fmt(i)}\n`);
      for (const k of res.kept) ctx.out.write(`kept    ${fmt(k.item)}: ${k.why}\n`);
      for (const f of res.failed) ctx.err.write(`failed  ${fmt(f.item)}: ${f.error}\n`);
      ctx.out.write(`${cfg.host.label}: ${res.found.length} found, ${res.removed.length} removed, ${res.kept.length} kept, ${res.failed.length} failed\n`);
    }
    return res.failed.length ? 3 : 0;
  } finally {
    await s.close();
  }
}

const command: Command = {
  name: 'xapi',
  summary: 'XenServer/XCP-ng helpers (gc: remove what crashed runs left)',
  help: HELP,
  run(ctx) {
    return runSubcommand(ctx, this, { gc });
  },
};
export default command;
