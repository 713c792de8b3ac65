// winpv lease: the leases runs hold on a real host's capacity (XenAPI: pool.other_config), shown and freed.
import type { Command, CommandContext } from '../command';
import { parseCommandArgs, runSubcommand } from '../command';
import { resolveConfig } from '../config';
import { ExitCode, usageError } from '../../model/errors';
import { isExpired, type LeaseRecord } from '../../model/lease';
import { forceRelease, listLeases } from '../../hosts/lease';
import { leaseHolder, openLeaseStore, type OpenStore } from '../lease-support';

const LIST_HELP = `usage: winpv lease list [--host H] [--json] [--config FILE]

Shows the leases runs hold on the host's capacity: slot, holder, run id, last heartbeat and expiry
(a lease past its expiry belongs to a run that died and is taken over by the next run).`;
const RELEASE_HELP = `usage: winpv lease release <slot> [--host H] [--config FILE]

Frees a slot whoever holds it: for a lease whose run you know is gone and that you cannot wait out.`;
const HELP = `usage: winpv lease <subcommand>

  list      show the leases on a host's capacity
  release   free a slot

${LIST_HELP}

${RELEASE_HELP}
`;

const opts = { host: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } } as const;

async function open(ctx: CommandContext, host: string | undefined, config: string | undefined): Promise<OpenStore> {
  const cfg = resolveConfig({ host, config }, ctx.env);
  const s = await openLeaseStore(cfg.host);
  if (!s) throw usageError(`${cfg.host.label} keeps no leases (leases guard XenAPI pools; the simulator is private to its run)`);
  return s;
}

const line = (l: LeaseRecord, now: number) =>
  `slot ${l.slot}  ${l.holder}  run ${l.runId}  heartbeat ${new Date(l.heartbeatAt).toISOString()}  ${isExpired(l, now) ? 'EXPIRED' : `expires ${new Date(l.expiresAt).toISOString()}`}\n`;

async function list(ctx: CommandContext): Promise<number> {
  const a = parseCommandArgs(ctx, { help: LIST_HELP }, opts);
  if (!a) return ExitCode.ok;
  const s = await open(ctx, a.values.host, a.values.config);
  try {
    const leases = await listLeases(s.store);
    if (a.values.json) ctx.out.write(JSON.stringify(leases, null, 2) + '\n');
    else {
      const now = Date.now();
      for (const l of leases) ctx.out.write(line(l, now));
      ctx.out.write(`${s.store.describe}: ${leases.length} lease${leases.length === 1 ? '' : 's'}\n`);
    }
    return ExitCode.ok;
  } finally {
    await s.close();
  }
}

async function release(ctx: CommandContext): Promise<number> {
  const a = parseCommandArgs(ctx, { help: RELEASE_HELP }, opts, { positionals: true });
  if (!a) return ExitCode.ok;
  if (a.positionals.length !== 1 || !/^\d{1,4}$/.test(a.positionals[0])) throw usageError(`winpv lease release takes one slot number\n\n${RELEASE_HELP}`);
  const s = await open(ctx, a.values.host, a.values.config);
  try {
    const was = await forceRelease(s.store, Number(a.positionals[0]), leaseHolder());
    ctx.out.write(was ? `released slot ${was.slot} (held by ${was.holder}, run ${was.runId})\n` : `slot ${a.positionals[0]} was free\n`);
    return ExitCode.ok;
  } finally {
    await s.close();
  }
}

const command: Command = {
  name: 'lease',
  summary: 'show and free the leases runs hold on a real host',
  help: HELP,
  run(ctx) {
    return runSubcommand(ctx, this, { list, release });
  },
};
export default command;
